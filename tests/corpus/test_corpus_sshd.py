"""Real logs written by others: loghub (LabSZ sshd, Linux syslog) and fail2ban's sshd samples."""

import csv
import re
from pathlib import Path

import duckdb
import pytest
from tests_helpers import fail_json_cases

from hostwarden.core.chunks import Chunk
from hostwarden.normalize.base import ParseContext, RawLine
from hostwarden.normalize.bulk import BulkSyslog
from hostwarden.normalize.syslog import SyslogParser

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
LOGHUB = CORPORA / "loghub"
FAIL2BAN = CORPORA / "realworld-logs" / "fail2ban" / "fail2ban" / "tests" / "files" / "logs"

pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora not present")


def parse_file(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return SyslogParser().parse_batch([RawLine(i, t) for i, t in enumerate(lines)], ParseContext())


@pytest.mark.parametrize("name", ["OpenSSH/OpenSSH_2k.log", "Linux/Linux_2k.log"])
def test_loghub_lines_all_parse_in_both_executors(name):
    path = LOGHUB / name
    events = parse_file(path)
    assert len(events) == 2000
    assert [e["event.original"] for e in events if "parse_failure" in (e.get("tags") or [])] == []
    con = duckdb.connect()
    table = BulkSyslog().parse(con, Chunk(str(path), 0, path.read_bytes()).to_arrow(), ParseContext())
    failures = con.execute(f"SELECT count(*) FROM {table} WHERE list_contains(tags, 'parse_failure')").fetchall()[0][0]
    assert failures == 0


def _template_regex(template: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in template.split("<*>")]
    return re.compile("^" + "(.*?)".join(parts) + "$")


IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def _expected_fields(template: str, content: str) -> dict[str, str] | None:
    m = _template_regex(template).match(content)
    if not m:
        return None
    expected: dict[str, str] = {}
    pieces = template.split("<*>")
    for i, value in enumerate(m.groups()):
        before = pieces[i]
        if IP.match(value) and "source.ip" not in expected:
            expected["source.ip"] = value
        elif before.endswith("port ") and value.isdigit():
            expected["source.port"] = value
        elif (
            re.search(r"(for (invalid user )?|[Ii]nvalid user |user |user=)$", before)
            and not before.endswith("getaddrinfo for ")
        ):
            expected["user.name"] = value
    return expected


def test_openssh_fields_agree_with_loghub_structured_csv():
    events = parse_file(LOGHUB / "OpenSSH" / "OpenSSH_2k.log")
    rows = list(csv.DictReader((LOGHUB / "OpenSSH" / "OpenSSH_2k.log_structured.csv").open(encoding="utf-8")))
    assert len(rows) == len(events)
    checked = agreed = 0
    disagreements = []
    for row, ev in zip(rows, events, strict=True):
        expected = _expected_fields(row["EventTemplate"], row["Content"])
        if not expected:
            continue
        checked += 1
        got = {k: str(ev.get(k)) for k in expected}
        if got == expected:
            agreed += 1
        else:
            disagreements.append((row["Content"], expected, got))
    assert checked > 1500
    assert agreed / checked >= 0.99, disagreements[:10]


# fail2ban counts these through its multi-line state machine; we report them as what they are.
DOCUMENTED_EXCEPTIONS = {
    # A successful login that fail2ban's "attempts with several users" logic scores as a failure.
    "Accepted password for known from 192.0.2.114 port 52100 ssh2",
    "Accepted password for known from 192.0.2.116 port 52100 ssh2",
    # A plain close after a failed key exchange: we flag the kex failure line itself, not the close.
    "Connection closed by 192.0.2.15 port 35352",
}


@pytest.mark.parametrize("name, at_least", [("sshd", 90), ("sshd-journal", 85), ("dropbear", 8)])
def test_fail2ban_matches_are_failures_with_the_right_address(name, at_least):
    path = FAIL2BAN / name
    cases = fail_json_cases(path)
    lines = [line for _, line in cases]
    events = SyslogParser().parse_batch([RawLine(i, t) for i, t in enumerate(lines)], ParseContext())
    checked, misses = 0, []
    for (expect, line), ev in zip(cases, events, strict=True):
        if not expect or not expect.get("match"):
            continue
        if any(line.endswith(x) for x in DOCUMENTED_EXCEPTIONS):
            continue
        checked += 1
        address = ev.get("source.ip") or ev.get("source.domain")
        if ev.get("event.outcome") != "failure" or (expect.get("host") and address != expect["host"]):
            misses.append((line, expect.get("host"), address, ev.get("event.action")))
    assert checked >= at_least
    assert misses == []
