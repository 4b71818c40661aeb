"""fail2ban's apache-*/nginx-* samples, loghub's Apache error log and the 2004 honeynet access logs."""

import re

import duckdb
import pyarrow as pa
import pytest
from tests_helpers import fail_json_cases

from hostwarden.core.chunks import Chunk
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.web import ACCESS_PATTERNS, AccessLogParser, ErrorLogParser
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import EventStore

pytestmark = pytest.mark.corpus


def fail2ban_logs(corpora_dir):
    folder = corpora_dir / "realworld-logs" / "fail2ban" / "fail2ban" / "tests" / "files" / "logs"
    return sorted(folder.glob("apache-*")) + sorted(folder.glob("nginx-*"))


def test_fail2ban_web_matches_carry_the_right_client(corpora_dir):
    checked, misses, kinds = 0, [], set()
    for path in fail2ban_logs(corpora_dir):
        for expect, line in fail_json_cases(path):
            if not expect or not expect.get("match"):
                continue
            checked += 1
            ctx = ParseContext(source=str(path))
            ev = AccessLogParser().parse_line(line, ctx) or ErrorLogParser().parse_line(line, ctx) or {}
            kinds.add(ev.get("event.dataset"))
            if ev.get("source.ip") != expect.get("host"):
                misses.append((path.name, line, expect.get("host"), ev.get("source.ip")))
            # What fail2ban bans on in an error log is a failure we name (auth, denied, missing script…).
            if ev.get("event.dataset", "").endswith(".error") and ev.get("event.outcome") != "failure":
                misses.append((path.name, line, "event.outcome", ev.get("event.action")))
            if expect.get("user") is not None and ev.get("user.name") != expect["user"]:
                misses.append((path.name, line, expect["user"], ev.get("user.name")))
    assert checked >= 140
    assert misses == []
    assert {"apache.error", "nginx.error", "apache.access", "nginx.access"} <= kinds  # both families, both kinds


def test_loghub_apache_error_log_parses_completely(corpora_dir):
    path = corpora_dir / "loghub" / "Apache" / "Apache_2k.log"
    lines = Chunk(str(path), 0, path.read_bytes()).lines()
    events = ErrorLogParser().parse_batch(lines, ParseContext(source=str(path)))
    assert len(lines) == len(events) == 2000
    assert [ev["event.original"] for ev in events if "parse_failure" in (ev.get("tags") or [])] == []
    assert {ev["event.dataset"] for ev in events} == {"apache.error"}
    assert {ev["log.level"] for ev in events} >= {"notice", "error"}
    assert all(ev.get("@timestamp") is not None for ev in events)


def honeynet_logs(corpora_dir):
    return sorted((corpora_dir / "realworld-logs" / "honeynet-chuvakin-2004" / "httpd").glob("access_log*"))


def test_honeynet_access_logs_parse_and_store(corpora_dir, tmp_path):
    with EventStore(tmp_path) as store:
        total = failures = 0
        for path in honeynet_logs(corpora_dir):
            stats = ingest_chunks(store, [Chunk(str(path), 0, path.read_bytes())])
            total += stats.lines
            failures += stats.parse_failures
        assert total > 5000
        assert failures / total < 0.001
        assert store.count_rows() == total
        attacks = store.query("SELECT count(*) FROM events WHERE \"url.original\" LIKE '%cmd.exe%'")[0][0]
        assert attacks > 0  # Nimda/CodeRed probes are there and searchable
        malformed = store.query("SELECT count(*) FROM events WHERE list_contains(tags, 'malformed_request')")[0][0]
        assert malformed > 0  # the "-" and overlong SEARCH requests are kept as events


def test_access_patterns_agree_with_duckdb_on_real_lines(corpora_dir):
    """The bulk path compiles ACCESS_PATTERNS into DuckDB: it must split real lines exactly as we do."""
    lines = [ln.text for path in honeynet_logs(corpora_dir) + fail2ban_logs(corpora_dir)
             for ln in Chunk(str(path), 0, path.read_bytes()).lines()]
    con = duckdb.connect()
    con.register("t", pa.table({"i": list(range(len(lines))), "line": lines}))
    matched_any = 0
    for _name, regex in ACCESS_PATTERNS:
        compiled = re.compile(regex)
        groups = sorted(compiled.groupindex, key=compiled.groupindex.__getitem__)
        literal = "'" + regex.replace("'", "''") + "'"
        names = "[" + ", ".join(f"'{g}'" for g in groups) + "]"
        rows = con.execute(
            f"SELECT i, regexp_matches(line, {literal}), regexp_extract(line, {literal}, {names}) FROM t ORDER BY i"
        ).fetchall()
        differ = []
        for i, matched, extracted in rows:
            m = compiled.match(lines[i])
            if matched != (m is not None) or (m and extracted != {k: v or "" for k, v in m.groupdict().items()}):
                differ.append(lines[i][:200])
            matched_any += bool(matched)
        assert differ == []
    assert matched_any > 5000
