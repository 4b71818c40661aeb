"""Parsing in a child process gives watch exactly the events its own thread would, in order,
and a worker that dies mid-stream costs nothing but speed."""

from __future__ import annotations

from pathlib import Path

from hostwarden.collect.chunks import Chunk
from hostwarden.detect.parseworker import LocalParser, WorkerParser
from hostwarden.normalize.base import ParseContext

LINES = [
    b"Nov  1 00:00:01 web-01 sshd[101]: Connection from 203.0.113.9 port 50000 on 10.0.0.1 port 22\n",
    b"Nov  1 00:00:02 web-01 sshd[101]: Failed password for invalid user admin from 203.0.113.9 port 50000 ssh2\n",
    b"Nov  1 00:00:03 web-01 sshd[101]: Disconnecting: Too many authentication failures [preauth]\n",
    b"\xff\xfe not a syslog line at all\n",
    b"Nov  1 00:00:04 web-01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/id\n",
]


def _chunks(path: str) -> list[Chunk]:
    out, offset = [], 0
    for i in range(0, len(LINES), 2):  # the sshd session spans chunks: parser state must carry over
        data = b"".join(LINES[i:i + 2])
        out.append(Chunk(path, offset, data))
        offset += len(data)
    return out


def _run(parser: LocalParser | WorkerParser, chunks: list[Chunk]) -> list[tuple[int, list[dict]]]:
    ctx = ParseContext(source=chunks[0].source)
    for chunk in chunks:
        parser.submit(chunk, "syslog", ctx)
    out = []
    while parser.pending:
        chunk, events = parser.next()
        out.append((chunk.base_offset, events))
    parser.close()
    return out


def test_worker_events_equal_local_events_in_order(tmp_path: Path) -> None:
    chunks = _chunks(str(tmp_path / "auth.log"))
    notes: list[str] = []
    worker = _run(WorkerParser(on_failure=notes.append), chunks)
    local = _run(LocalParser(), chunks)
    assert notes == []
    assert [off for off, _ in worker] == [c.base_offset for c in chunks]
    assert worker == local
    events = [ev for _, evs in worker for ev in evs]
    assert len(events) == len(LINES)  # the bad line is kept, as a parse failure
    assert events[2].get("source.ip") == "203.0.113.9"  # carried from chunk 1 into chunk 2
    assert any("parse_failure" in (ev.get("tags") or []) for ev in events)


def test_dead_worker_falls_back_without_losing_a_chunk(tmp_path: Path) -> None:
    chunks = _chunks(str(tmp_path / "auth.log"))
    notes: list[str] = []
    parser = WorkerParser(on_failure=notes.append)
    parser._proc.kill()  # noqa: SLF001 - the failure under test
    parser._proc.wait()  # noqa: SLF001
    got = _run(parser, chunks)
    assert [off for off, _ in got] == [c.base_offset for c in chunks]
    assert sum(len(evs) for _, evs in got) == len(LINES)
    assert notes and "parsing in watch's own thread" in notes[0]
