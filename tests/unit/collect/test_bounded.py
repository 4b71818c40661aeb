"""Inputs that expand without bound are read in bounded steps, and what is not stored is counted.

Outcomes, not timings: a gzip bomb yields a notice and bounded output; a flood of empty lines is
stored as a few lines plus a count; every input line is either stored or counted with a reason.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

from hostwarden.collect.decode import DECODE_STEP, EXPAND_RATIO
from hostwarden.collect.files import FileReader
from hostwarden.collect.stdin import read_stream_chunks
from hostwarden.collect.tailer import FileTailer
from hostwarden.core.checkpoint import MemoryCheckpoints
from hostwarden.core.chunks import Chunk

LINE = b"Nov 28 10:00:00 web01 app[2]: the same message again and again and again\n"


def lines_of(chunks: list[Chunk]) -> int:
    return sum(len(c.lines()) for c in chunks)


def test_a_gzip_bomb_is_cut_with_a_notice_and_bounded_output(tmp_path: Path) -> None:
    raw = (b"A" * 65535 + b"\n") * (48 * 16)  # 48 MB that gzip squeezes ~1000:1, as bombs do
    path = tmp_path / "bomb.log.gz"
    path.write_bytes(gzip.compress(raw, 9))
    reader = FileReader(path, MemoryCheckpoints(), chunk_bytes=1 << 20)
    chunks = list(reader.read_chunks())
    read = sum(c.end_offset - c.base_offset for c in chunks)
    assert read <= EXPAND_RATIO * path.stat().st_size + DECODE_STEP  # the expansion limit held
    assert read < len(raw) * 3 // 4  # stopped before the end of the bomb
    assert [n["code"] for n in reader.notices] == ["LOG-4105"]
    assert "not read" in reader.notices[0]["message"]


def test_each_decompression_step_is_bounded(tmp_path: Path) -> None:
    """A highly compressible file within the ratio limit still comes out in bounded pieces."""
    raw = LINE * 60_000  # ~4.4 MB of one line repeated, ~300:1, one gzip member
    path = tmp_path / "ok.log.gz"
    path.write_bytes(gzip.compress(raw, 9))
    chunks = list(FileReader(path, MemoryCheckpoints(), chunk_bytes=1 << 20).read_chunks())
    assert b"".join(c.data for c in chunks) == raw
    assert max(len(c.data) for c in chunks) <= 2 << 20


def test_a_flood_of_empty_lines_is_counted_not_stored(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    data = LINE + b"\n" * 1_000_000 + LINE + b"\r\n" * 5_000 + LINE
    path.write_bytes(data)
    reader = FileReader(path, MemoryCheckpoints())
    chunks = list(reader.read_chunks())
    stored = lines_of(chunks)
    assert stored < 1000
    assert stored + reader.dropped["empty_lines"] == data.count(b"\n")  # every line: stored or counted
    texts = [ln.text for c in chunks for ln in c.lines() if ln.text]
    assert texts == [LINE.decode().rstrip("\n")] * 3
    offsets = [ln.offset for c in chunks for ln in c.lines() if ln.text]
    assert offsets == [0, len(LINE) + 1_000_000, len(LINE) * 2 + 1_000_000 + 10_000]
    assert any(n["code"] == "LOG-4108" for n in reader.notices)


def test_a_gzip_of_newlines_stores_a_few_lines(tmp_path: Path) -> None:
    path = tmp_path / "nl.gz"
    path.write_bytes(gzip.compress(b"\n" * 8_400_000, 9))  # ~8 KB on disk
    reader = FileReader(path, MemoryCheckpoints())
    stored = lines_of(list(reader.read_chunks()))
    assert stored < 1000
    codes = {n["code"] for n in reader.notices}
    assert "LOG-4108" in codes  # empty lines counted; the rest of the bomb is not even decoded
    assert stored + reader.dropped["empty_lines"] <= 8_400_000


def test_a_short_run_of_empty_lines_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    data = LINE + b"\n" * 3 + LINE
    path.write_bytes(data)
    reader = FileReader(path, MemoryCheckpoints())
    assert lines_of(list(reader.read_chunks())) == 5
    assert reader.dropped.get("empty_lines", 0) == 0


def test_empty_lines_over_stdin_and_the_tailer(tmp_path: Path) -> None:
    data = LINE + b"\n" * 50_000 + LINE
    chunks = list(read_stream_chunks(io.BytesIO(data), chunk_bytes=4096))
    assert lines_of(chunks) < 1000
    path = tmp_path / "t.log"
    path.write_bytes(b"")
    with FileTailer([path], MemoryCheckpoints(), chunk_bytes=4096) as tailer:
        got: list[Chunk] = []
        for piece in (LINE, b"\n" * 20_000, b"\n" * 30_000, LINE):  # a run spread over polls
            with path.open("ab") as fh:
                fh.write(piece)
            got += list(tailer.poll())
    assert lines_of(got) < 1000
    assert [ln.offset for c in got for ln in c.lines() if ln.text] == [0, len(LINE) + 50_000]


def test_a_log_whose_first_lines_carry_nuls_is_still_read(tmp_path) -> None:
    """An app that logs request data raw can be made to write NULs; a few such lines right after a
    rotation must not make the whole file look binary (everything after them would be hidden)."""
    from hostwarden.collect.decode import binary_reason

    hostile = b"".join(b"Nov  1 09:00:00 web app[1]: user=\x00evil\x00 login failed\n" for _ in range(200))
    assert binary_reason(hostile + b"Nov  1 09:00:01 web sshd[2]: Accepted password for root from 6.6.6.6\n") is None
    assert binary_reason(os.urandom(1 << 16)) is not None  # random bytes are still binary
    assert binary_reason(b"\x07\x00\x00\x00" * 1000) is not None  # so are wtmp records
