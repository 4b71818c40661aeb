"""One SSH password attempt counts once, in both executors: pam_unix and sshd each write a line
for it, and a user who mistyped a few times and then logged in is no brute force (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hostwarden.collect.files import FileReader
from hostwarden.core.checkpoint import MemoryCheckpoints
from hostwarden.core.chunks import Chunk
from hostwarden.detect.batch import detect_store
from hostwarden.detect.engine import Engine
from hostwarden.detect.ruleset import load_rules
from hostwarden.normalize.source import context_for
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.pipelines.watch.parseworker import SourceParser
from hostwarden.store.eventstore import EventStore

RULES = load_rules()
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
IP = "198.51.100.40"
PAM = "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}"


def _line(t: datetime, pid: int, text: str) -> str:
    return f"{t:%b %d %H:%M:%S} web-01 sshd[{pid}]: {text}\n"


def typos_then_login(attempts: int, *, one_connection: bool, user: str = "carol") -> str:
    """`attempts` wrong passwords (each written by PAM and by sshd), then the right one."""
    lines, t, pid = [], T0, 4000
    for _ in range(attempts):
        if not one_connection:
            pid += 7
        lines.append(_line(t, pid, PAM.format(ip=IP, user=user)))
        lines.append(_line(t + timedelta(seconds=2), pid, f"Failed password for {user} from {IP} port {5000 + pid} ssh2"))
        if not one_connection:
            lines.append(_line(t + timedelta(seconds=2), pid,
                               f"Connection closed by authenticating user {user} {IP} port {5000 + pid} [preauth]"))
        t += timedelta(seconds=5)
    if one_connection and attempts > 1:
        lines.append(_line(t, pid, f"PAM {attempts - 1} more authentication failures; logname= uid=0 euid=0 tty=ssh "
                                   f"ruser= rhost={IP}  user={user}"))
    pid += 7 if not one_connection else 0
    lines.append(_line(t + timedelta(seconds=3), pid, f"Accepted password for {user} from {IP} port {5000 + pid} ssh2"))
    lines.append(_line(t + timedelta(seconds=3), pid, f"pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)"))
    return "".join(lines)


def streaming(text: str, path: Path) -> list[dict[str, Any]]:
    """What `watch` raises: its source parser (a chunk per line, the state carried), then the engine."""
    source = SourceParser(str(path), "syslog", context_for(str(path), T0.timestamp()))
    engine = Engine(RULES, eager=False, streaming=True)
    offset = 0
    for raw in text.encode().splitlines(keepends=True):
        for ev in source.parse(Chunk(str(path), offset, raw)):
            engine.feed(ev)
        offset += len(raw)
    engine.flush()
    return engine.book.drain_new()


def bulk(text: str, path: Path, data: Path) -> list[dict[str, Any]]:
    """What `ingest` raises: the columnar plan (the file is padded past the lines it takes
    a chunk from), then batch detection over the store."""
    filler = "".join(f"{T0 - timedelta(hours=1):%b %d %H:%M:%S} web-01 CRON[{i}]: (root) CMD (true)\n"
                     for i in range(2000))
    path.write_text(filler + text)
    with EventStore(data) as store:
        ingest_chunks(store, FileReader(path, MemoryCheckpoints()).read_chunks(), ctx=context_for(str(path), T0.timestamp()))
        assert store.query("SELECT count(*) FROM events WHERE list_contains(tags, 'same_attempt')")[0][0] > 0
        return detect_store(store, RULES, append=False).alerts


@pytest.mark.parametrize("one_connection", [False, True], ids=["a-connection-each", "one-connection"])
def test_three_typos_then_a_login_raise_nothing_above_l3_in_either_executor(tmp_path: Path, one_connection: bool) -> None:
    text = typos_then_login(3, one_connection=one_connection)
    for alerts in (streaming(text, tmp_path / "auth.log"), bulk(text, tmp_path / "auth.log", tmp_path / "data")):
        assert [(a["rule.name"], a["event.severity"]) for a in alerts if a["event.severity"] < 3] == []


@pytest.mark.parametrize("one_connection", [False, True], ids=["a-connection-each", "one-connection"])
def test_ten_failed_attempts_then_a_login_is_still_l1_in_both_executors(tmp_path: Path, one_connection: bool) -> None:
    text = typos_then_login(10, one_connection=one_connection)
    for alerts in (streaming(text, tmp_path / "auth.log"), bulk(text, tmp_path / "auth.log", tmp_path / "data")):
        l1 = [(a["rule.name"], a["source.ip"], a["user.name"]) for a in alerts if a["event.severity"] == 1]
        assert l1 == [("SSH login success after brute force", IP, "carol")]
