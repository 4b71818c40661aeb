"""Chunks: whole lines read from one source, handed from collectors to the pipeline.

A chunk keeps the bytes as read, not a million Python strings, because the bulk path splits
and decodes them columnar (numpy + Arrow) at memory speed. The streaming path asks for
`lines()`. Offsets are byte offsets in the source, and `identity` names the source by its
content (core/checkpoint.py), so `event.id` is stable across re-reads under any name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa


@dataclass(frozen=True, slots=True)
class RawLine:
    offset: int  # byte offset of the line's first byte in its source
    text: str  # the line without its line terminator, decoded UTF-8 (invalid bytes replaced)
    tags: tuple[str, ...] = ()  # set by the reader: invalid_utf8, truncated, …


MAX_LINE_BYTES = 1 << 20  # default line limit (`[ingest] max_line_kb`): longer lines are cut and tagged `truncated`


@dataclass(frozen=True, slots=True)
class Chunk:
    source: str  # where the bytes were read: log.file.path (the path as named), "-" for stdin, "journald"
    base_offset: int  # byte offset of data[0] in the source
    data: bytes  # whole lines, each ended by b"\n" except possibly the source's last line
    tags: tuple[str, ...] = field(default=())  # applied to every line (e.g. from a damaged .gz)
    # The source's identity in event.id: a fingerprint of the file's content, so the same lines
    # read under another name get the same ids; "" means `source` (stdin, journald, tests).
    identity: str = ""
    # Source bytes after `data` that this chunk accounts for without carrying them: the discarded
    # rest of an overlong last line, or a run of empty lines counted instead of stored. The next
    # chunk starts after them, and a checkpoint at `end_offset` never lands inside them.
    skipped: int = 0
    max_line: int = MAX_LINE_BYTES  # lines longer than this are cut (and tagged) when decoded

    @property
    def end_offset(self) -> int:
        return self.base_offset + len(self.data) + self.skipped

    @property
    def id_source(self) -> str:
        """What event.id hashes as the source: the content identity, else the source name."""
        return self.identity or self.source

    def line_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Start (inclusive) and end (exclusive, terminator removed) of each line in `data`."""
        buf = np.frombuffer(self.data, dtype=np.uint8)
        newlines = np.flatnonzero(buf == 10)
        starts = np.empty(len(newlines) + 1, dtype=np.int64)
        starts[0] = 0
        starts[1:] = newlines + 1
        ends = np.empty_like(starts)
        ends[:-1] = newlines
        ends[-1] = len(self.data)
        if starts[-1] == len(self.data):  # data ends with a newline: no trailing partial line
            starts, ends = starts[:-1], ends[:-1]
        # CRLF: drop the carriage return before the newline.
        if len(ends) and b"\r" in self.data:
            has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
            ends = ends - has_cr.astype(np.int64)
        return starts, ends

    def lines(self) -> list[RawLine]:
        starts, ends = self.line_bounds()
        data = self.data
        out = []
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            out.append(_decode(data, start, end, self.base_offset, self.tags, self.max_line))
        return out

    def to_arrow(self) -> pa.Table:
        """Columns `off` (int64 source offset) and `original` (string), decoded in bulk.

        Invalid UTF-8, NUL bytes and over-long lines are rare: those lines take the slow
        path one by one so the common case stays a zero-copy view of `data`.
        """
        starts, ends = self.line_bounds()
        n = len(starts)
        long_lines = (ends - starts) > self.max_line
        fast_ok = not long_lines.any() and b"\x00" not in self.data
        texts: pa.Array | None = None
        if fast_ok:
            # Build a view over the buffer with terminators excluded via a compacted copy.
            lengths = ends - starts
            offsets = np.empty(n + 1, dtype=np.int64)
            offsets[0] = 0
            np.cumsum(lengths, out=offsets[1:])
            if n and (starts[1:] == ends[:-1] + 1).all() and ends[-1] <= len(self.data):
                # The usual LF-only case: remove every newline byte in one pass.
                body = self.data.replace(b"\n", b"") if n > 1 or self.data.endswith(b"\n") else self.data
                if len(body) != offsets[-1]:
                    body = None
            else:
                body = None
            if body is not None:
                binary = pa.LargeBinaryArray.from_buffers(
                    pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(body)]
                )
                try:
                    texts = binary.cast(pa.large_string())
                except pa.ArrowInvalid:  # some line is not UTF-8
                    texts = None
        tags_col: list[list[str] | None]
        if texts is None:
            lines = self.lines()
            texts = pa.array([ln.text for ln in lines], type=pa.large_string())
            tags_col = [list(ln.tags) or None for ln in lines]
        else:
            tags_col = [list(self.tags) or None] * n if self.tags else [None] * n
        offs = pa.array(starts + self.base_offset, type=pa.int64())
        return pa.table(
            {"off": offs, "original": texts, "line_tags": pa.array(tags_col, type=pa.list_(pa.string()))}
        )


def _decode(data: bytes, start: int, end: int, base: int, chunk_tags: tuple[str, ...], max_line: int) -> RawLine:
    tags = set(chunk_tags)
    if end - start > max_line:
        end = start + max_line
        tags.add("truncated")
    raw = data[start:end]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
        tags.add("invalid_utf8")
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
        tags.add("nul_bytes")
    return RawLine(base + start, text, tuple(sorted(tags)))
