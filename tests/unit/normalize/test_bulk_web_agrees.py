"""The columnar access-log plan must give exactly the per-line parser's events, line for line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostwarden.core.chunks import Chunk
from hostwarden.core.schema import FIELD_NAMES
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.source import SourceNormalizer

from .chunking import read_in_turn

REF = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CORPORA = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpora"
FAIL2BAN = CORPORA / "realworld-logs" / "fail2ban" / "fail2ban" / "tests" / "files" / "logs"


def _rows(data: bytes, ctx: ParseContext, *, bulk: bool, source: str) -> list[dict]:
    con = duckdb.connect()
    norm = SourceNormalizer(source, "web.access", ctx)
    name = norm.normalize_into(Chunk(source, 500, data), con, "t", bulk_min_lines=0 if bulk else 10**9)
    return con.sql(f'SELECT * FROM {name} ORDER BY "log.offset"').to_arrow_table().to_pylist()


def assert_agree(data: bytes, ctx: ParseContext | None = None, source: str = "/var/log/nginx/access.log") -> list[dict]:
    ctx = ctx or ParseContext(source=source, reference_time=REF)
    bulk, ref = _rows(data, ctx, bulk=True, source=source), _rows(data, ctx, bulk=False, source=source)
    assert len(bulk) == len(ref)
    for b, r in zip(bulk, ref, strict=True):
        for field in FIELD_NAMES:
            vb, vr = b.get(field), r.get(field)
            if field == "labels":
                vb, vr = dict(vb or []), dict(vr or [])
            assert vb == vr, (field, r["event.original"])
    return bulk


CLIENTS = ["203.0.113.9", "10.0.0.5", "2001:db8::1", "::1", "host.example.com", "-", "01.2.3.4", "256.1.1.1", "1.2.3"]
TIMES = ["28/Nov/2026:10:00:01 +0000", "01/Jan/2026:00:00:00 -0800", "28/Nov/2026:10:00:01 +0530",
         "31/Feb/2026:10:00:01 +0000", "28/nov/2026:10:00:01 +0000", "28/Nov/2026:10:00:01", "1/Nov/2026:10:00:01 +0000",
         "28/Nov/2026:10:00:01 +00:00", "garbage"]
REQUESTS = ["GET /index.html HTTP/1.1", "POST /login?next=%2Fadmin&x=1 HTTP/2.0", "GET /a\\\"b HTTP/1.0",
            "-", "\\x16\\x03\\x01", "", "HEAD / HTTP/1.1", "GET /search?q=select+chair", "get /lower HTTP/1.1",
            "GET /p?q=${jndi:ldap://x/a} HTTP/1.1"]
TEMPLATES = [
    '{client} - {user} [{time}] "{request}" {status} {size} "{ref}" "{ua}"',
    '{client} - {user} [{time}] "{request}" {status} {size}',
    'shop.example.com:443 {client} - {user} [{time}] "{request}" {status} {size} "{ref}" "{ua}"',
    'Nov 28 10:00:01 web1 nginx: {client} - - [{time}] "{request}" {status} {size} "-" "curl/8"',
    '{client} - - extra [{time}] "{request}" {status} {size} "{ref}" "{ua}"',
    "{junk}",
]
token = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=12)
line = st.builds(
    lambda t, **kw: t.format(**kw),
    st.sampled_from(TEMPLATES),
    client=st.sampled_from(CLIENTS),
    user=st.sampled_from(["-", "alice", ""]),
    time=st.sampled_from(TIMES),
    request=st.one_of(st.sampled_from(REQUESTS), token),
    status=st.sampled_from(["200", "404", "500", "-", "301"]),
    size=st.sampled_from(["0", "-", "1234", "123456789012345678901234"]),
    ref=st.one_of(st.sampled_from(["-", "", "https://x.example/?a=\\\"q\\\"", "http://y/"]), token),
    ua=st.one_of(st.sampled_from(["-", "sqlmap/1.7", "Mozilla/5.0 (X11)", "a \\\\ b"]), token),
    junk=st.text(max_size=40),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line, min_size=1, max_size=40), st.sampled_from(["UTC", "Asia/Shanghai", "America/New_York"]))
def test_bulk_and_per_line_agree_on_generated_access_lines(lines, zone):
    data = "\n".join(lines).encode("utf-8") + b"\n"
    assert_agree(data, ParseContext(source="/var/log/nginx/access.log", reference_time=REF, tz=ZoneInfo(zone)))


def test_bulk_decides_the_common_case_and_defers_the_rest():
    data = (
        b'203.0.113.9 - - [28/Nov/2026:10:00:01 +0000] "GET /.env HTTP/1.1" 404 12 "-" "curl/8"\n'
        b'2001:db8::1 - - [28/Nov/2026:10:00:02 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"\n'
        b'Nov 28 10:00:01 web1 nginx: 198.51.100.7 - - [28/Nov/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n'
        b"not an access line at all\n"
        b'203.0.113.9 - - [28/Nov/2026:10:00:04 +0000] "\\x16\\x03" 400 0 "-" "-"\n'
    )
    rows = assert_agree(data, source="/var/log/apache2/access.log")
    assert [r["event.dataset"] for r in rows[:3]] == ["apache.access"] * 3
    assert rows[0]["url.path"] == "/.env" and rows[0]["event.outcome"] == "failure"
    assert rows[1]["source.ip"] == "2001:db8::1"  # deferred to the line parser, same answer
    assert rows[2]["host.name"] == "web1" and rows[2]["source.ip"] == "198.51.100.7"
    assert "parse_failure" in rows[3]["tags"]
    assert rows[4]["tags"] == ["malformed_request"] and rows[4]["http.request.method"] is None
    assert not any("needs_line" in (r["tags"] or []) for r in rows)


@pytest.mark.skipif(not FAIL2BAN.is_dir(), reason="fail2ban sample logs absent")
@pytest.mark.parametrize("name", sorted(p.name for p in FAIL2BAN.glob("*") if p.name.startswith(("apache-", "nginx-")))
                         if FAIL2BAN.is_dir() else [])
def test_bulk_agrees_on_fail2ban_web_samples(name):
    data = (FAIL2BAN / name).read_bytes()
    assert_agree(data, source=f"/var/log/{name}/access.log")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line, min_size=1, max_size=30), st.lists(line, min_size=1, max_size=30),
       st.lists(st.floats(0, 1), max_size=4), st.lists(st.booleans(), min_size=1, max_size=6))
def test_two_files_cut_into_chunks_read_by_either_executor_agree_with_each_file_whole(first, second, cuts, columnar):
    files = {"/var/log/nginx/access.log": ("\n".join(first) + "\n").encode(),
             "/var/log/apache2/access.log": ("\n".join(second) + "\r\n").encode()}
    ctx = ParseContext(reference_time=REF)
    got = read_in_turn(files, "web.access", ctx, cuts, columnar)
    assert got == {source: read_in_turn({source: data}, "web.access", ctx, [], [False])[source]
                   for source, data in files.items()}
