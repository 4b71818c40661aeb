"""fail2ban's apache-*/nginx-* samples, loghub's Apache error log and the 2004 honeynet access logs."""

from pathlib import Path

import pytest
from tests_helpers import fail_json_cases

from hostwarden.collect.chunks import Chunk
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.web import AccessLogParser, ErrorLogParser
from hostwarden.store.hot import HotStore

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
FAIL2BAN = CORPORA / "realworld-logs" / "fail2ban" / "fail2ban" / "tests" / "files" / "logs"
pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora not present")


def test_fail2ban_web_matches_carry_the_right_client():
    checked, misses = 0, []
    for path in sorted(FAIL2BAN.glob("apache-*")) + sorted(FAIL2BAN.glob("nginx-*")):
        for expect, line in fail_json_cases(path):
            if not expect or not expect.get("match"):
                continue
            checked += 1
            ctx = ParseContext(source=str(path))
            ev = AccessLogParser().parse_line(line, ctx) or ErrorLogParser().parse_line(line, ctx) or {}
            if ev.get("source.ip") != expect.get("host"):
                misses.append((path.name, line, expect.get("host"), ev.get("source.ip")))
    assert checked >= 140
    assert misses == []


def test_loghub_apache_error_log_parses_completely():
    lines = (CORPORA / "loghub" / "Apache" / "Apache_2k.log").read_text(encoding="utf-8").splitlines()
    parsed = [ErrorLogParser().parse_line(t, ParseContext()) for t in lines]
    assert len(lines) == 2000 and all(ev is not None for ev in parsed)
    assert {ev["log.level"] for ev in parsed} >= {"notice", "error"}


def test_honeynet_access_logs_parse_and_store(tmp_path):
    folder = CORPORA / "realworld-logs" / "honeynet-chuvakin-2004" / "httpd"
    from hostwarden.normalize.pipeline import ingest_chunks

    with HotStore(tmp_path) as store:
        total = failures = 0
        for path in sorted(folder.glob("access_log*")):
            stats = ingest_chunks(store, [Chunk(str(path), 0, path.read_bytes())])
            total += stats.lines
            failures += stats.parse_failures
        assert total > 5000
        assert failures / total < 0.001
        attacks = store.query("SELECT count(*) FROM events WHERE \"url.original\" LIKE '%cmd.exe%'")[0][0]
        assert attacks > 0  # Nimda/CodeRed probes are there and searchable
