"""A line longer than the limit is cut, tagged `truncated`, and the rest of it up to its newline
is discarded: never parsed as a line of its own, whichever reader read it and however it arrived.

The attack (issue 16 item 6): padding inside an ordinary program's line, placed so that the cut
falls right before a forged `sshd ... Accepted password` text, turned that text into a real sshd
event and an alert.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import pytest

from hostwarden.collect.files import FileReader
from hostwarden.collect.stdin import read_stream_chunks
from hostwarden.collect.tailer import FileTailer
from hostwarden.core.checkpoint import MemoryCheckpoints
from hostwarden.core.chunks import MAX_LINE_BYTES, Chunk
from hostwarden.core.config import load_config
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import EventStore

PREFIX = b"Nov 28 10:00:00 web01 app[2]: "
FORGED = b"Nov 28 10:00:01 web01 sshd[3]: Accepted password for root from 6.6.6.6 port 22 ssh2"
AFTER = b"Nov 28 10:00:02 web01 sshd[4]: Connection closed by 192.0.2.1 port 22\n"
# Where a cut could fall: at the limit itself, and where readers used to cut (a read block past
# twice the limit, with 4 KB reads).
CUTS = [MAX_LINE_BYTES, 2 * MAX_LINE_BYTES + 4096]


def forged_line(cut_at: int) -> bytes:
    return PREFIX + b"A" * (cut_at - len(PREFIX)) + FORGED + b"\n"


def stored(tmp_path: Path, chunks: Iterable[Chunk]) -> list[tuple[int, str, str | None, str | None, list[str]]]:
    with EventStore(tmp_path / "data") as store:
        ingest_chunks(store, chunks)
        return [(off, text[:80], ds, ip, tags or []) for off, text, ds, ip, tags in store.query(
            'SELECT "log.offset", "event.original", "event.dataset", "source.ip", tags FROM events ORDER BY 1')]


def check(rows: list, line: bytes, limit: int = MAX_LINE_BYTES) -> None:
    assert not [r for r in rows if r[3] == "6.6.6.6"], "the tail of a cut line became an event"
    assert [r[0] for r in rows] == [0, len(line)]  # the cut line and the next real line, at their offsets
    assert "truncated" in rows[0][4] and rows[0][1].startswith(PREFIX.decode())
    assert rows[1][2] == "sshd" and rows[1][3] == "192.0.2.1"


@pytest.mark.parametrize("cut_at", CUTS)
def test_file_reader_never_parses_the_tail_of_a_cut_line(tmp_path: Path, cut_at: int) -> None:
    line = forged_line(cut_at)
    path = tmp_path / "app.log"
    path.write_bytes(line + AFTER)
    check(stored(tmp_path, FileReader(path, MemoryCheckpoints(), chunk_bytes=4096).read_chunks()), line)


@pytest.mark.parametrize("cut_at", CUTS)
def test_stdin_never_parses_the_tail_of_a_cut_line(tmp_path: Path, cut_at: int) -> None:
    line = forged_line(cut_at)
    dropped: dict[str, int] = {}
    check(stored(tmp_path, read_stream_chunks(io.BytesIO(line + AFTER), chunk_bytes=4096, dropped=dropped)), line)
    assert dropped == {"truncated_lines": 1, "truncated_bytes": len(line) - 1 - MAX_LINE_BYTES}


@pytest.mark.parametrize("cut_at", CUTS)
def test_tailer_never_parses_the_tail_of_a_long_line_written_over_many_polls(tmp_path: Path, cut_at: int) -> None:
    line = forged_line(cut_at)
    path = tmp_path / "app.log"
    path.write_bytes(b"")
    chunks: list[Chunk] = []
    with FileTailer([path], MemoryCheckpoints(), chunk_bytes=4096) as tailer:
        piece = 300_000  # the writer is slow: the line arrives over ~10 polls
        for start in range(0, len(line), piece):
            with path.open("ab") as fh:
                fh.write(line[start:start + piece])
            chunks += list(tailer.poll())
        with path.open("ab") as fh:
            fh.write(AFTER)
        chunks += list(tailer.poll())
        assert [n["code"] for n in tailer.notices] == ["LOG-4131"]
    assert tailer.dropped == {"truncated_lines": 1, "truncated_bytes": len(line) - 1 - MAX_LINE_BYTES}
    check(stored(tmp_path, chunks), line)


def test_the_limit_comes_from_the_configuration(tmp_path: Path) -> None:
    config = tmp_path / "hw.toml"
    config.write_text("[ingest]\nmax_line_kb = 4\n")
    limit = load_config(config).ingest.max_line_kb * 1024
    line = forged_line(limit)
    path = tmp_path / "app.log"
    path.write_bytes(line + AFTER)
    reader = FileReader(path, MemoryCheckpoints(), max_line_bytes=limit)
    rows = stored(tmp_path, reader.read_chunks())
    check(rows, line)
    with EventStore(tmp_path / "data") as store:
        (kept,) = store.query('SELECT strlen("event.original") FROM events WHERE "log.offset" = 0')[0]
    assert kept == limit
    assert reader.dropped["truncated_lines"] == 1
    assert reader.dropped["truncated_bytes"] == len(line) - 1 - limit
    assert any(n["code"] == "LOG-4131" for n in reader.notices)


def test_a_line_of_exactly_the_limit_is_kept_whole(tmp_path: Path) -> None:
    line = PREFIX + b"B" * (4096 - len(PREFIX)) + b"\n"
    path = tmp_path / "app.log"
    path.write_bytes(line + AFTER)
    chunks = list(FileReader(path, MemoryCheckpoints(), max_line_bytes=4096, chunk_bytes=4096).read_chunks())
    lines = [ln for c in chunks for ln in c.lines()]
    assert [(ln.offset, len(ln.text), ln.tags) for ln in lines] == [(0, 4096, ()), (len(line), len(AFTER) - 1, ())]


def test_resume_after_a_cut_line_starts_at_the_next_line(tmp_path: Path) -> None:
    """The checkpoint after a cut line points past its discarded tail, not into it."""
    line = forged_line(8192)
    path = tmp_path / "app.log"
    path.write_bytes(line)
    cps = MemoryCheckpoints()
    reader = FileReader(path, cps, max_line_bytes=4096, chunk_bytes=4096)
    for chunk in reader.read_chunks():
        reader.commit(chunk)
    with path.open("ab") as fh:
        fh.write(AFTER)
    again = [ln for c in FileReader(path, cps, max_line_bytes=4096).read_chunks() for ln in c.lines()]
    assert [(ln.offset, ln.text) for ln in again] == [(len(line), AFTER.decode().rstrip("\n"))]
