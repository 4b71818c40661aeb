"""Cutting a byte stream into chunks of whole lines, with a bound on every line and on empty runs.

Every reader (files, the tailer, stdin, journald) feeds its bytes through one LineAssembler, so a
line means the same thing whoever read it and however the bytes arrived (a long line written over
many polls of the tailer included):

- A line longer than `max_line_bytes` is cut there, tagged `truncated`, and the rest of it up to
  its newline is discarded and counted, never handed on as a line of its own: padding placed so
  that a read block ends right before a forged `sshd: Accepted password` once made that text an
  event. The cut line is handed on only when its newline arrives (or the source ends), in a chunk
  whose `skipped` covers the discarded bytes, so a checkpoint never points into them.
- A run of more than `max_empty_run` consecutive empty lines (LF or CRLF) keeps its first
  `max_empty_run` lines and counts the rest in `dropped["empty_lines"]` instead of storing them
  one by one (an 8 KB gzip of newlines once made 8.4 million events). Every input line is thus
  stored or counted. Runs mixing LF and CRLF line ends are not collapsed (they are also not what
  a compressor amplifies; the expansion limit in decode.py bounds those).

The common case stays a few C-speed searches per block: `rfind` for the last newline and for
lines longer than the limit, `find` for a run of empty lines.
"""

from __future__ import annotations

import re
from typing import Any

from hostwarden.core.chunks import MAX_LINE_BYTES, Chunk
from hostwarden.core.errors import LOG_EMPTY_LINES_DROPPED, LOG_INPUT_TOO_LARGE

MAX_EMPTY_RUN = 64  # consecutive empty lines stored before the rest of the run is only counted
TRUNCATED_TAG = "truncated"
_NEWLINE_BYTES = re.compile(rb"[\r\n]*")
_CR, _LF = 13, 10


class LineAssembler:
    """Feed it blocks (`feed`), then `flush` at the end of the source; both return chunks.

    `read_pos` is the source offset after every byte fed so far; `dropped` counts what was not
    handed on: `empty_lines`, `truncated_lines` (lines cut) and `truncated_bytes` (what was cut off).
    """

    def __init__(self, source: str, offset: int = 0, *, identity: str = "", max_line_bytes: int = MAX_LINE_BYTES,
                 max_empty_run: int = MAX_EMPTY_RUN, dropped: dict[str, int] | None = None) -> None:
        self.source = source
        self.identity = identity  # may be set later, before the first chunk (the tailer learns it late)
        self.max_line = max(1, max_line_bytes)
        self.max_empty_run = max(1, max_empty_run)
        self.offset = offset  # source offset of pending[0], or of the cut line while discarding
        self.pending = b""  # the unfinished last line (at most max_line bytes)
        self.dropped: dict[str, int] = {} if dropped is None else dropped  # may be shared by several readers
        self._cut: bytes | None = None  # the kept head of an overlong line whose newline has not come yet
        self._discarded = 0  # bytes of that line discarded so far
        self._empty_run = 0  # consecutive empty lines just before `pending`
        self._lf_run = b"\n" * (self.max_empty_run + 1)  # found in any LF run longer than the limit
        self._crlf_run = b"\r\n" * self.max_empty_run  # and in any CRLF one

    @property
    def read_pos(self) -> int:
        if self._cut is not None:
            return self.offset + len(self._cut) + self._discarded
        return self.offset + len(self.pending)

    def feed(self, block: bytes) -> list[Chunk]:
        out: list[Chunk] = []
        if not block:
            return out
        if self._cut is not None:  # still discarding the rest of an overlong line
            nl = block.find(b"\n")
            if nl < 0:
                self._discarded += len(block)
                return out
            self._discarded += nl
            out.append(self._cut_chunk(newline=True))
            block = block[nl + 1:]
            if not block:
                return out
            data = block
        else:
            data = self.pending + block if self.pending else block
        self.pending = b""
        self._scan(data, out)
        return out

    def flush(self) -> list[Chunk]:
        """What is left when the source is known to be complete: a last line without newline."""
        if self._cut is not None:
            return [self._cut_chunk(newline=False)]
        if not self.pending:
            return []
        chunk = self._chunk(self.pending, self.offset)
        self.offset += len(self.pending)
        self.pending = b""
        return [chunk]

    # -- internals -------------------------------------------------------------------------
    def _scan(self, data: bytes, out: list[Chunk]) -> None:
        """Hand on the whole lines of `data` (which starts at self.offset, at a line start)."""
        base, limit, n = self.offset, self.max_line, len(data)
        done = scan = 0  # done: start of what is not handed on yet; scan: a line start
        while n - scan > limit:
            last = data.rfind(b"\n", scan, scan + limit + 1)
            if last >= 0:  # every line between scan and last fits
                scan = last + 1
                continue
            self._whole_lines(data, done, scan, base, out)  # the line at `scan` is too long
            self._cut, self.offset = data[scan:scan + limit], base + scan
            self._empty_run = 0
            nl = data.find(b"\n", scan + limit)
            if nl < 0:
                self._discarded = n - scan - limit
                return
            self._discarded = nl - scan - limit
            out.append(self._cut_chunk(newline=True))
            done = scan = nl + 1
        last = data.rfind(b"\n", done)
        if last >= done:
            self._whole_lines(data, done, last + 1, base, out)
            done = last + 1
        self.pending = data[done:]
        self.offset = base + done

    def _cut_chunk(self, *, newline: bool) -> Chunk:
        assert self._cut is not None
        skipped = self._discarded + (1 if newline else 0)
        chunk = Chunk(self.source, self.offset, self._cut, (TRUNCATED_TAG,), self.identity, skipped, self.max_line)
        self._count("truncated_lines", 1)
        self._count("truncated_bytes", self._discarded)
        self.offset += len(self._cut) + skipped
        self._cut, self._discarded = None, 0
        return chunk

    def _chunk(self, data: bytes, offset: int, skipped: int = 0) -> Chunk:
        return Chunk(self.source, offset, data, (), self.identity, skipped, self.max_line)

    def _count(self, what: str, n: int) -> None:
        self.dropped[what] = self.dropped.get(what, 0) + n

    def _whole_lines(self, data: bytes, lo: int, hi: int, base: int, out: list[Chunk]) -> None:
        """Hand on the whole lines data[lo:hi], minus the empty lines past the limit of each run."""
        if hi <= lo:
            return
        piece = pos = lo
        carry = self._empty_run
        while pos < hi:
            run = self._next_long_run(data, pos, hi, carry if pos == lo else 0)
            if run is None:
                break
            first, end, count = run
            before = carry if first == lo else 0
            keep = max(0, self.max_empty_run - before)
            if count > keep:
                cut = first
                for _ in range(keep):
                    cut = data.index(b"\n", cut) + 1
                if cut > piece:
                    out.append(self._chunk(data[piece:cut], base + piece, end - cut))
                self._count("empty_lines", count - keep)
                piece = end
            pos = end
        if hi > piece:
            out.append(self._chunk(data[piece:hi], base + piece))
        self._empty_run = _trailing_empty(data, lo, hi, carry, self.max_empty_run)

    def _next_long_run(self, data: bytes, pos: int, hi: int, carry: int) -> tuple[int, int, int] | None:
        """(first empty line's start, end of the run, empty lines in it) of the next run of empty
        lines at or after `pos` that may be longer than the limit; None if there is none."""
        while pos < hi:
            if carry and data[pos] in (_CR, _LF):
                start = pos  # the run of the previous block goes on
            else:
                found = [i for i in (data.find(self._lf_run, pos, hi), data.find(self._crlf_run, pos, hi)) if i >= 0]
                if not found:
                    return None
                start = min(found)
                while start > pos and data[start - 1] in (_CR, _LF):
                    start -= 1
            stop = _NEWLINE_BYTES.match(data, start, hi).end()  # type: ignore[union-attr]
            end = data.rfind(b"\n", start, stop) + 1
            # `pos` is a line start; elsewhere the first newline ends the line before the run.
            first = start if start == pos else data.index(b"\n", start) + 1
            if end > first:
                return first, end, data.count(b"\n", first, end)
            pos, carry = max(stop, pos + 1), 0
        return None


def dropped_notices(source: str, dropped: dict[str, int], *, max_line_bytes: int = MAX_LINE_BYTES,
                    max_empty_run: int = MAX_EMPTY_RUN) -> list[dict[str, Any]]:
    """The notices that account for what a reader did not hand on (its `dropped` counts)."""
    notices = []
    if cut := dropped.get("truncated_lines", 0):
        notices.append({"code": LOG_INPUT_TOO_LARGE.code, "message": (
            f"{source}: {cut} line(s) longer than {max_line_bytes:,} bytes were cut and tagged `{TRUNCATED_TAG}`; "
            f"{dropped.get('truncated_bytes', 0):,} bytes past the limit were discarded")})
    if empty := dropped.get("empty_lines", 0):
        notices.append({"code": LOG_EMPTY_LINES_DROPPED.code, "message": (
            f"{source}: {empty:,} empty line(s) in runs longer than {max_empty_run} were counted, not stored")})
    return notices


def _trailing_empty(data: bytes, lo: int, hi: int, carry: int, limit: int) -> int:
    """Empty lines at the end of the whole lines data[lo:hi] (plus `carry` if all are empty)."""
    if hi - lo >= 2 and data[hi - 2] not in (_CR, _LF):
        return 0  # the usual case: the last line has text
    start = hi
    while start > lo and data[start - 1] in (_CR, _LF) and hi - start <= 4 * limit + 4:
        start -= 1
    if start > lo and data[start - 1] in (_CR, _LF):  # a longer run: find where it starts
        start = lo + len(data[lo:hi].rstrip(b"\r\n"))
    count = data.count(b"\n", start, hi)
    return carry + count if start == lo else max(0, count - 1)
