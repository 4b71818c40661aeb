"""PAM, su, login and account lines written by others: fail2ban's pam-generic sample, loghub's
Linux log, and the example lines Sigma's Linux rules quote in their comments.

fail2ban marks each sample line it must catch with a `# failJSON` comment naming the host
(address or name) and, where one is known, the user; ours must yield a failed authentication
with that host. loghub's structured CSV gives each Linux_2k line's program and content, from
which the expected rhost and user are read by plain string splitting (not by our regexes).
Both executors (per-line and DuckDB bulk) must produce the same fields.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import pytest
from tests_helpers import fail_json_cases

from hostwarden.core.chunks import Chunk
from hostwarden.normalize import pam
from hostwarden.normalize.base import ParseContext, RawLine
from hostwarden.normalize.bulk import BulkSyslog
from hostwarden.normalize.syslog import SyslogParser

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
PAM_GENERIC = CORPORA / "realworld-logs" / "fail2ban" / "fail2ban" / "tests" / "files" / "logs" / "pam-generic"
LINUX = CORPORA / "loghub" / "Linux"
SIGMA_LINUX = CORPORA / "sigma" / "rules" / "linux"
_OUR_PROGRAMS = re.compile(
    r"[A-Z][a-z]{2} +[0-9]+ [0-9:]{8} [^ ]+ (?:sudo|CRON|crond|su|useradd|usermod|userdel|groupadd|groupdel|passwd|"
    r"chpasswd|gpasswd|systemd-logind|anacron|login|crontab)(?:\[[0-9]+\])?: .*"
)

pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora not present")

_COMPARED = ("event.action", "event.outcome", "event.dataset", "source.ip", "source.domain", "user.name", "user.id", "user.target.name")


def _per_line(lines: list[str]) -> list[dict]:
    return SyslogParser().parse_batch([RawLine(i, t) for i, t in enumerate(lines)], ParseContext())


def _bulk(lines: list[str]) -> list[dict]:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    con = duckdb.connect()
    table = BulkSyslog().parse(con, Chunk("corpus", 0, data).to_arrow(), ParseContext())
    return con.sql(f'SELECT * FROM {table} ORDER BY "log.offset"').to_arrow_table().to_pylist()


def _host(ev: dict) -> str | None:
    return ev.get("source.ip") or ev.get("source.domain")


def _labels(ev: dict) -> dict:
    labels = ev.get("labels") or {}
    return dict(labels) if not isinstance(labels, dict) else labels


def test_fail2ban_pam_generic_matches_are_failures_with_the_right_host():
    if not PAM_GENERIC.is_file():
        pytest.skip("fail2ban pam-generic sample not present")
    cases = [(expect, line) for expect, line in fail_json_cases(PAM_GENERIC) if expect and expect.get("match")]
    assert len(cases) >= 8
    lines = [line for _, line in cases]
    for (expect, line), ev, bulk in zip(cases, _per_line(lines), _bulk(lines), strict=True):
        assert ev.get("event.outcome") == "failure", line
        assert ev.get("event.action") == "pam_auth_failure", line
        assert _host(ev) == expect["host"], line
        if "user" in expect:  # fail2ban's user is user= when present, else ruser=
            assert expect["user"] in (ev.get("user.name"), ev.get("pam.ruser")), line
        assert {k: bulk.get(k) for k in _COMPARED} == {k: ev.get(k) for k in _COMPARED}, line
        if "user" in expect and ev.get("user.name") is None:
            assert _labels(bulk).get("pam.ruser") == expect["user"], line


def _linux_rows() -> list[dict[str, str]]:
    with (LINUX / "Linux_2k.log_structured.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _expected(row: dict[str, str]) -> dict[str, str | None] | None:
    """What a PAM line must yield, read from loghub's content by splitting on the literal keys."""
    content = row["Content"].strip()
    if content.startswith("authentication failure;"):
        rhost = content.split(" rhost=", 1)[1].split(" ", 1)[0] or None
        user = content.split(" user=", 1)[1].strip() if " user=" in content else None
        return {"event.action": "pam_auth_failure", "host": rhost, "user.name": user}
    for opened, action in (("session opened for user ", "pam_session_opened"), ("session closed for user ", "pam_session_closed")):
        if content.startswith(opened):
            return {"event.action": action, "host": None, "user.name": content[len(opened):].split(" ", 1)[0]}
    if content == "check pass; user unknown":
        return {"event.action": "pam_user_unknown", "host": None, "user.name": None}
    if content.startswith("ROOT LOGIN ON "):
        return {"event.action": "root_login", "host": None, "user.name": "root"}
    return None


def test_loghub_linux_pam_su_and_login_lines():
    if not LINUX.is_dir():
        pytest.skip("loghub Linux log not present")
    lines = (LINUX / "Linux_2k.log").read_text(encoding="utf-8", errors="replace").splitlines()
    rows = _linux_rows()
    assert len(rows) == len(lines) == 2000
    per_line, bulk = _per_line(lines), _bulk(lines)
    checked, unframed = 0, []
    for row, line, ev, b in zip(rows, lines, per_line, bulk, strict=True):
        if "pam_unix" not in row["Component"] and "ROOT LOGIN" not in row["Content"]:
            continue
        expected = _expected(row)
        assert expected is not None, line  # every PAM line of this log is a known kind
        if "process.name" not in ev:
            # `combo  -- root[2421]: ROOT LOGIN ON tty2`: syslog framing (not these patterns)
            # finds no program in this one line; the message itself must still be understood.
            unframed.append(line)
            ev = pam.PATTERNS.match(row["Content"].strip()) or {}
            assert ev.get("event.action") == expected["event.action"], line
            continue
        assert ev.get("event.action") == expected["event.action"], line
        assert _host(ev) == expected["host"], line
        assert ev.get("user.name") == expected["user.name"], line
        assert {k: b.get(k) for k in _COMPARED} == {k: ev.get(k) for k in _COMPARED}, line
        checked += 1
    assert len(unframed) <= 1, unframed
    assert checked >= 850  # 677 sshd(pam_unix), 172 su(pam_unix), 2 login(pam_unix), 2 gdm(pam_unix) lines
    su_sessions = [ev for row, ev in zip(rows, per_line, strict=True) if row["Component"] == "su(pam_unix)"]
    assert su_sessions and all(ev["event.dataset"] == "su" for ev in su_sessions)


def test_sigma_rule_example_lines():
    """Sigma's Linux rules quote real-looking lines in comments (e.g. useradd with UID=0)."""
    if not SIGMA_LINUX.is_dir():
        pytest.skip("sigma rules not present")
    lines = sorted(
        {m.group(0).strip() for path in SIGMA_LINUX.rglob("*.yml") for m in _OUR_PROGRAMS.finditer(path.read_text("utf-8"))}
    )
    assert lines, "expected the useradd examples of lnx_privileged_user_creation.yml"
    for line, ev, b in zip(lines, _per_line(lines), _bulk(lines), strict=True):
        assert ev.get("event.action"), line
        if "new user: " in line:
            assert ev["event.action"] == "user_created"
            assert ev["user.id"] == line.split("UID=", 1)[1].split(",", 1)[0], line
            assert ev["user.target.name"] == line.split("name=", 1)[1].split(",", 1)[0], line
        assert {k: b.get(k) for k in _COMPARED} == {k: ev.get(k) for k in _COMPARED}, line
