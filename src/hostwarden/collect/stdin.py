"""Standard input as a source: `hostwarden ingest -` (source "-", offsets counted from 0).

A pipe cannot be re-read, so there is no checkpoint: offsets still make `event.id` stable when
the same bytes are piped in again.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import BinaryIO

from hostwarden.collect.files import DEFAULT_CHUNK_BYTES, LineAssembler
from hostwarden.core.chunks import Chunk

STDIN_SOURCE = "-"


def read_stream_chunks(stream: BinaryIO, source: str = STDIN_SOURCE, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                       final_line: bool = True, eager: bool = False) -> Iterator[Chunk]:
    """Whole-line chunks of a binary stream until EOF; `final_line` keeps a last line without newline.

    Bulk input waits for full blocks (big chunks take the columnar path); `eager=True` hands over
    whatever a pipe holds right away, for followed streams where latency matters.
    """
    lines = LineAssembler(source, 0, max_pending=2 * max(chunk_bytes, 4096))
    read = getattr(stream, "read1", stream.read) if eager else stream.read
    while block := read(chunk_bytes):
        chunk = lines.feed(block)
        if chunk is not None:
            yield chunk
    if final_line and (tail := lines.flush()) is not None:
        yield tail


def read_stdin_chunks(*, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[Chunk]:
    return read_stream_chunks(sys.stdin.buffer, STDIN_SOURCE, chunk_bytes=chunk_bytes)
