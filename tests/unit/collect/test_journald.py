"""journald input against a real journal file and the real journalctl (see conftest.py)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from hostwarden.collect.journald import CURSOR_KEY, JournalFileReader, JournalReader
from hostwarden.core.checkpoint import MemoryCheckpoints
from hostwarden.core.chunks import Chunk
from hostwarden.core.errors import HostwardenError
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.journald import JournaldParser

SSHD_FAIL = {"MESSAGE": "Failed password for invalid user admin from 203.0.113.7 port 50122 ssh2",
             "SYSLOG_IDENTIFIER": "sshd", "_PID": "812", "_UID": "0", "_COMM": "sshd", "_EXE": "/usr/sbin/sshd",
             "_CMDLINE": "sshd: admin [priv]", "_HOSTNAME": "web1", "PRIORITY": "6", "SYSLOG_FACILITY": "4",
             "_TRANSPORT": "syslog", "_SYSTEMD_UNIT": "ssh.service", "_MACHINE_ID": "f" * 32}
BINARY = {"MESSAGE": b"upload \xff\xfe done", "SYSLOG_IDENTIFIER": "myapp", "_PID": "99", "_HOSTNAME": "web1",
          "PRIORITY": "3"}


def app(i: int) -> dict[str, str | bytes]:
    return {"MESSAGE": f"app message {i}", "SYSLOG_IDENTIFIER": "myapp", "_PID": "99", "_HOSTNAME": "web1"}


def records(chunks: list[Chunk]) -> list[dict]:
    return [json.loads(ln.text) for c in chunks for ln in c.lines()]


def read_all(reader: JournalReader, commit: bool = True) -> list[Chunk]:
    out = []
    for chunk in reader.read_chunks():
        out.append(chunk)
        if commit:
            reader.commit(chunk)
    return out


def test_real_journalctl_output_is_read_and_parsed(journal) -> None:
    path = journal([SSHD_FAIL, BINARY])
    chunks = read_all(JournalReader(MemoryCheckpoints(), extra_args=("--file", str(path))))
    assert {c.source for c in chunks} == {"journald"}
    lines = [ln for c in chunks for ln in c.lines()]
    events = JournaldParser().parse_batch(lines, ParseContext(source="journald"))
    sshd, binary = events
    assert sshd["event.action"] == "ssh_login_failed" and sshd["event.outcome"] == "failure"
    assert (sshd["user.name"], sshd["source.ip"], sshd["source.port"]) == ("admin", "203.0.113.7", 50122)
    assert sshd["event.dataset"] == "sshd"  # the program's dataset, as from auth.log
    assert (sshd["host.name"], sshd["process.name"], sshd["process.pid"]) == ("web1", "sshd", 812)
    assert (sshd["process.executable"], sshd["process.command_line"]) == ("/usr/sbin/sshd", "sshd: admin [priv]")
    assert (sshd["user.id"], sshd["host.id"], sshd["log.level"]) == ("0", "f" * 32, "info")
    assert (sshd["log.syslog.facility.code"], sshd["log.syslog.priority"]) == (4, 38)
    assert sshd["@timestamp"].year == 2025
    assert sshd["event.original"] == lines[0].text
    # journald hands a non-UTF-8 MESSAGE over as an array of byte values
    assert json.loads(lines[1].text)["MESSAGE"] == list(b"upload \xff\xfe done")
    assert binary["message"] == "upload \ufffd\ufffd done" and "invalid_utf8" in binary["tags"]
    assert binary["event.dataset"] == "journald" and binary["log.level"] == "err"
    assert sshd["event.id"] != binary["event.id"]


def test_cursor_resume_no_loss_no_duplicate(journal) -> None:
    state = MemoryCheckpoints()
    path = journal([app(i) for i in range(5)])
    first = records(read_all(JournalReader(state, extra_args=("--file", str(path)))))
    assert [r["MESSAGE"] for r in first] == [f"app message {i}" for i in range(5)]
    assert state.get_state(CURSOR_KEY) == first[-1]["__CURSOR"]
    journal([app(i) for i in range(5, 8)])
    reader = JournalReader(state, extra_args=("--file", str(path)))
    assert "--after-cursor" in reader.command()
    second = records(read_all(reader))
    assert [r["MESSAGE"] for r in second] == [f"app message {i}" for i in range(5, 8)]


def test_uncommitted_records_come_again_with_the_same_identity(journal) -> None:
    state = MemoryCheckpoints()
    path = journal([app(i) for i in range(3)])
    lost = records(read_all(JournalReader(state, extra_args=("--file", str(path))), commit=False))
    again = records(read_all(JournalReader(state, extra_args=("--file", str(path)))))
    assert [r["__CURSOR"] for r in again] == [r["__CURSOR"] for r in lost]
    parser = JournaldParser()
    ids = {parser.parse_line(json.dumps(r), ParseContext())["event.id"] for r in lost + again}
    assert len(ids) == 3  # the store keeps each record once


def test_a_cursor_journalctl_refuses_reads_everything_again_with_a_notice(journal) -> None:
    state = MemoryCheckpoints()
    state.put_state(CURSOR_KEY, "not-a-cursor")
    path = journal([app(i) for i in range(2)])
    reader = JournalReader(state, extra_args=("--file", str(path)))
    assert len(records(read_all(reader))) == 2
    assert reader.notices and reader.notices[0]["code"] == "LOG-4102"
    assert "cursor" in reader.notices[0]["message"]


def test_follow_yields_new_records_live_and_stops(journal) -> None:
    state = MemoryCheckpoints()
    path = journal([app(0)])
    reader = JournalReader(state, extra_args=("--file", str(path)), poll_interval=0.05)
    stop = threading.Event()
    got: list[str] = []

    def run() -> None:
        for chunk in reader.follow(stop):
            got.extend(r["MESSAGE"] for r in records([chunk]))
            reader.commit(chunk)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        _wait(lambda: len(got) >= 1)
        journal([app(1), app(2)])
        _wait(lambda: len(got) >= 3)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert got == ["app message 0", "app message 1", "app message 2"]
    assert state.get_state(CURSOR_KEY) is not None


def test_missing_journalctl_is_a_clear_error() -> None:
    reader = JournalReader(MemoryCheckpoints(), journalctl="/nonexistent/journalctl")
    with pytest.raises(HostwardenError) as info:
        list(reader.read_chunks())
    assert info.value.code.code == "LOG-4102"


def test_saved_json_export_file_resumes_and_keeps_bad_lines(tmp_path: Path) -> None:
    good = [json.dumps({"__CURSOR": f"s=x;i={i}", "__REALTIME_TIMESTAMP": str(1764300000000000 + i),
                        "MESSAGE": f"m{i}", "SYSLOG_IDENTIFIER": "app"}) for i in range(3)]
    path = tmp_path / "journal.json"
    path.write_text("\n".join([good[0], '{"__REALTIME_TIMESTAMP": broken', good[1]]) + "\n")
    cps = MemoryCheckpoints()
    reader = JournalFileReader(path, cps)
    chunks = list(reader.read_chunks())
    for c in chunks:
        reader.commit(c)
    assert {c.source for c in chunks} == {"journald"}
    events = JournaldParser().parse_batch([ln for c in chunks for ln in c.lines()], ParseContext())
    assert [e.get("message") for e in events] == ["m0", '{"__REALTIME_TIMESTAMP": broken', "m1"]
    assert "parse_failure" in events[1]["tags"] and "parse_failure" not in (events[0].get("tags") or [])
    with path.open("a") as fh:
        fh.write(good[2] + "\n")
    more = list(JournalFileReader(path, cps).read_chunks())
    assert [r["MESSAGE"] for r in records(more)] == ["m2"]


@pytest.mark.parametrize("value", [None, 5, [], [1, 300], {"a": 1}, ["a", "b"], [[104, 105]]])
def test_odd_field_values_never_raise(value: object) -> None:
    line = json.dumps({"__REALTIME_TIMESTAMP": "x", "MESSAGE": value, "_PID": value, "PRIORITY": value,
                       "SYSLOG_IDENTIFIER": value})
    ev = JournaldParser().parse_line(line, ParseContext())
    assert ev is not None and isinstance(ev["message"], str)


def _wait(cond: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def test_journal_into_a_real_store_exactly_once_across_a_lost_commit(journal, tmp_path: Path) -> None:
    from hostwarden.pipelines.ingest import ingest_chunks
    from hostwarden.store.eventstore import EventStore

    fails = [{**SSHD_FAIL, "MESSAGE": f"Failed password for root from 203.0.113.{i} port {1000 + i} ssh2"}
             for i in range(20)]
    path = journal(fails[:10])
    with EventStore(tmp_path / "data") as store:
        reader = JournalReader(store, extra_args=("--file", str(path)))
        ingest_chunks(store, reader.read_chunks())  # stored, but the cursor never saved (crash)
        assert store.get_state(CURSOR_KEY) is None
        journal(fails[10:])
        reader = JournalReader(store, extra_args=("--file", str(path)))
        stats = ingest_chunks(store, reader.read_chunks(), on_stored=reader.commit)
        assert (stats.lines, stats.stored) == (20, 10)  # the first ten came again and were dropped
        rows = store.query('SELECT "source.ip", "event.dataset", "log.file.path" FROM events '
                           "WHERE \"event.action\" = 'ssh_login_failed' ORDER BY \"source.port\"")
        assert [r[0] for r in rows] == [f"203.0.113.{i}" for i in range(20)]
        assert {(r[1], r[2]) for r in rows} == {("sshd", "journald")}
        assert store.get_state(CURSOR_KEY) is not None
