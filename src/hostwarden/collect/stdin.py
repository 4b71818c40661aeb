"""Standard input as a source: `hostwarden ingest -` (source "-", offsets counted from 0).

A pipe cannot be re-read, so there is no checkpoint: offsets still make `event.id` stable when
the same bytes are piped in again. Lines are bounded like every reader's (collect/lines.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import BinaryIO

from hostwarden.collect.files import DEFAULT_CHUNK_BYTES
from hostwarden.collect.lines import LineAssembler
from hostwarden.core.chunks import MAX_LINE_BYTES, Chunk

STDIN_SOURCE = "-"


def read_stream_chunks(stream: BinaryIO, source: str = STDIN_SOURCE, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                       final_line: bool = True, eager: bool = False, max_line_bytes: int = MAX_LINE_BYTES,
                       dropped: dict[str, int] | None = None) -> Iterator[Chunk]:
    """Whole-line chunks of a binary stream until EOF; `final_line` keeps a last line without newline.

    Bulk input waits for full blocks (big chunks take the columnar path); `eager=True` hands over
    whatever a pipe holds right away, for followed streams where latency matters. What the line
    limits did not hand on is added to `dropped` (see LineAssembler.dropped) at the end.
    """
    lines = LineAssembler(source, 0, max_line_bytes=max_line_bytes)
    read = getattr(stream, "read1", stream.read) if eager else stream.read
    while block := read(max(chunk_bytes, 4096)):
        yield from lines.feed(block)
    if final_line:
        yield from lines.flush()
    if dropped is not None:
        for what, n in lines.dropped.items():
            dropped[what] = dropped.get(what, 0) + n


def read_stdin_chunks(*, chunk_bytes: int = DEFAULT_CHUNK_BYTES, max_line_bytes: int = MAX_LINE_BYTES,
                      dropped: dict[str, int] | None = None) -> Iterator[Chunk]:
    return read_stream_chunks(sys.stdin.buffer, STDIN_SOURCE, chunk_bytes=chunk_bytes, max_line_bytes=max_line_bytes,
                              dropped=dropped)
