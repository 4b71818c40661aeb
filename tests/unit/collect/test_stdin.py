"""stdin as a source: offsets from 0, whole lines, a last line without newline kept."""

from __future__ import annotations

import io
import subprocess
import sys

from hostwarden.collect.stdin import read_stream_chunks


def test_offsets_count_from_zero_and_lines_are_whole() -> None:
    data = b"".join(f"line {i}\n".encode() for i in range(2000)) + b"tail without newline"
    chunks = list(read_stream_chunks(io.BytesIO(data), chunk_bytes=4096))
    assert all(c.source == "-" for c in chunks)
    assert all(c.data.endswith(b"\n") for c in chunks[:-1])
    lines = [ln for c in chunks for ln in c.lines()]
    assert lines[0].offset == 0 and lines[-1].text == "tail without newline"
    assert [ln.offset for ln in lines] == _offsets(data)
    assert b"".join(c.data for c in chunks) == data


def test_empty_stream() -> None:
    assert list(read_stream_chunks(io.BytesIO(b""))) == []


def test_real_stdin_pipe() -> None:
    code = ("from hostwarden.collect.stdin import read_stdin_chunks\n"
            "print(sum(len(c.lines()) for c in read_stdin_chunks()))")
    out = subprocess.run([sys.executable, "-c", code], input=b"a\r\nb\nc", capture_output=True, check=True, timeout=60)
    assert out.stdout.strip() == b"3"


def _offsets(data: bytes) -> list[int]:
    offs, pos = [], 0
    for line in data.split(b"\n"):
        if pos < len(data):
            offs.append(pos)
        pos += len(line) + 1
    return offs
