"""Standard input as a source: `hostwarden ingest -` (source "-", offsets counted from 0)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import BinaryIO

from hostwarden.collect.chunks import Chunk


def read_stream_chunks(stream: BinaryIO, source: str = "-", *, chunk_bytes: int = 8 << 20) -> Iterator[Chunk]:
    offset = 0
    pending = b""
    while True:
        block = stream.read(chunk_bytes)
        if not block:
            break
        data = pending + block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            pending = data
            continue
        yield Chunk(source, offset, data[:cut])
        offset += cut
        pending = data[cut:]
    if pending:
        yield Chunk(source, offset, pending)


def read_stdin_chunks(*, chunk_bytes: int = 8 << 20) -> Iterator[Chunk]:
    return read_stream_chunks(sys.stdin.buffer, "-", chunk_bytes=chunk_bytes)
