"""fail2ban's own sample logs: every line its filters mark as a match counts as a failure (or an
attack) for our SSH and web rules, so a threshold over our counts sees what fail2ban sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests_helpers import fail_json_cases

from hostwarden.detect.ruleset import load_rules
from hostwarden.normalize.base import ParseContext, RawLine
from hostwarden.normalize.syslog import SyslogParser
from hostwarden.normalize.web import AccessLogParser, ErrorLogParser

FAIL2BAN = (Path(__file__).resolve().parents[2] / ".." / "shared" / "corpora" / "realworld-logs" / "fail2ban"
            / "fail2ban" / "tests" / "files" / "logs")

pytestmark = [pytest.mark.corpus, pytest.mark.skipif(not FAIL2BAN.is_dir(), reason="fail2ban samples absent")]

RULESET = load_rules()
SSH_FAILURE = [r for r in RULESET.rules if r.name == "ssh_auth_failure"]
WEB = [r for r in RULESET.base_rules if r.logsource.get("category") == "webserver"]


def _web_event(line: str) -> dict[str, Any]:
    ev = AccessLogParser().parse_batch([RawLine(0, line)], ParseContext())[0]
    if "parse_failure" in (ev.get("tags") or []):
        ev = ErrorLogParser().parse_batch([RawLine(0, line)], ParseContext())[0]
    return ev


# Line endings fail2ban scores through its multi-line state machine; the parser corpus test
# (test_corpus_sshd.DOCUMENTED_EXCEPTIONS) documents them: we report these lines as what they are.
NOT_COUNTED = {
    "Accepted password for known from 192.0.2.114 port 52100 ssh2": "a success fail2ban scores as a failure",
    "Accepted password for known from 192.0.2.116 port 52100 ssh2": "a success fail2ban scores as a failure",
    "Connection closed by 192.0.2.15 port 35352": "we count the kex failure line before it instead",
}


@pytest.mark.parametrize(
    ("name", "kind", "at_least"),
    [("sshd", "ssh", 100), ("sshd-journal", "ssh", 85), ("nginx-botsearch", "web", 14),
     ("apache-botsearch", "web", 17), ("apache-shellshock", "web", 2), ("nginx-bad-request", "web", 8),
     ("apache-badbots", "web", 4)],
)
def test_every_fail2ban_match_counts(name: str, kind: str, at_least: int) -> None:
    cases = fail_json_cases(FAIL2BAN / name)
    if kind == "ssh":
        events = SyslogParser().parse_batch([RawLine(i, line) for i, (_, line) in enumerate(cases)], ParseContext())
        rules = SSH_FAILURE
    else:
        events = [_web_event(line) for _, line in cases]
        rules = WEB
    checked, missed = 0, []
    for (expect, line), ev in zip(cases, events, strict=True):
        if not expect or not expect.get("match") or any(line.endswith(x) for x in NOT_COUNTED):
            continue
        checked += 1
        if not any(RULESET.checks[r.id](ev) for r in rules):
            missed.append((line, ev.get("event.action"), ev.get("event.outcome")))
    assert checked >= at_least
    assert missed == []
