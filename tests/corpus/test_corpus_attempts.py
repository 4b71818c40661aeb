"""A real brute-force log (loghub's LabSZ sshd): the fast brute-force rule flags exactly the
sources that made 5 attempts within a minute, attempts re-derived from the text with plain `re`
(one per `Failed …` line, one per connection that failed without one) — not the sources whose
lines (PAM's and sshd's for each attempt, plus a connection's closing lines) reach 5."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from hostwarden.core.chunks import RawLine
from hostwarden.detect.engine import Engine
from hostwarden.detect.ruleset import load_rules
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.state import ParseState
from hostwarden.normalize.syslog import SyslogParser

LOG = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
pytestmark = pytest.mark.skipif(not LOG.is_file(), reason="../shared/corpora not present")

LINE = re.compile(r"^(\w{3} +\d+ \d\d:\d\d:\d\d) \S+ sshd\[(\d+)\]: (.*)$")
ADDRESS = re.compile(r"(\d+\.\d+\.\d+\.\d+)")
FAILURE = re.compile(r"^(Invalid user|pam_unix\(sshd:auth\): (authentication failure|check pass)|error: maximum|"
                     r"Disconnecting|PAM \d+ more|Connection closed by|Received disconnect)")


def attempts_per_source(lines: list[str]) -> dict[str, list[float]]:
    """Attempt times per source address: each `Failed` line; a connection (pid) that failed
    without one counts once, at its first failure line."""
    address: dict[str, str] = {}
    failed: dict[str, list[float]] = defaultdict(list)
    other: dict[str, list[float]] = defaultdict(list)
    for text in lines:
        m = LINE.match(text)
        if m is None:
            continue
        when = datetime.strptime(f"2016 {m[1]}", "%Y %b %d %H:%M:%S").timestamp()
        pid, message = m[2], m[3]
        if found := ADDRESS.search(message):
            address.setdefault(pid, found[1])
        if message.startswith("Failed "):
            failed[pid].append(when)
        elif FAILURE.match(message) and ("[preauth]" in message or not message.startswith(("Connection", "Received"))):
            other[pid].append(when)
    out: dict[str, list[float]] = defaultdict(list)
    for pid in set(failed) | set(other):
        if pid in address:
            out[address[pid]] += failed[pid] if pid in failed else [min(other[pid])]
    return out


def most_in_a_minute(times: list[float]) -> int:
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > 60:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_fast_brute_force_flags_the_sources_with_five_attempts_a_minute() -> None:
    lines = LOG.read_text(encoding="utf-8", errors="replace").splitlines()
    events = SyslogParser().parse_batch([RawLine(i, t) for i, t in enumerate(lines)],
                                        ParseContext(reference_time=datetime(2016, 12, 31).astimezone()), ParseState())
    engine = Engine(load_rules(), eager=False)
    for ev in events:
        ev["event.id"] = str(ev["log.offset"])
        engine.feed(ev)
    engine.flush()
    flagged = {a["source.ip"] for a in engine.alerts if a["rule.name"] == "SSH brute force (fast)"}
    expected = {ip for ip, times in attempts_per_source(lines).items() if most_in_a_minute(times) >= 5}
    assert len(expected) >= 5  # the log is a brute-force log: the test has something to find
    assert flagged == expected
