"""One-shot reading of a file (plain or .gz) from its checkpoint to the current end.

Delivery is at-least-once: the caller calls `commit(chunk)` only after the chunk is stored, so
a crash re-reads at most the uncommitted chunks, and the store's content-hash dedupe drops the
repeats. Together that is exactly-once in the store. The checkpoint names the inode and a
fingerprint of the first bytes, so "the same file, grown" is told apart from "another file now
at this path" (rotation) and from "this file, cut short" (truncation).
"""

from __future__ import annotations

import os
import stat
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from hostwarden.core.checkpoint import FINGERPRINT_BYTES, Checkpoint, CheckpointStore, fingerprint
from hostwarden.core.chunks import MAX_LINE_BYTES, Chunk
from hostwarden.core.errors import (
    LOG_FILE_TRUNCATED,
    LOG_INPUT_TRUNCATED,
    LOG_INPUT_UNREADABLE,
    HostwardenError,
)

DEFAULT_CHUNK_BYTES = 8 << 20
TRUNCATED_GZ_TAG = "truncated_gz"


def checkpoint_key(path: str | Path) -> str:
    """One key scheme for every file collector, so `ingest` and `follow` share their position."""
    return f"file:{path}"


def is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError:
        return False


class LineAssembler:
    """Cuts a byte stream into chunks of whole lines, holding the unfinished last line back.

    `offset` is the source offset of the first byte not yet handed out, so the read position
    is `offset + len(pending)`.
    """

    def __init__(self, source: str, offset: int = 0, *, max_pending: int = 2 * DEFAULT_CHUNK_BYTES) -> None:
        self.source = source
        self.offset = offset
        self.pending = b""
        # Never split a line the chunk reader can still keep whole (it cuts at MAX_LINE_BYTES and tags).
        self.max_pending = max(max_pending, 2 * MAX_LINE_BYTES)

    @property
    def read_pos(self) -> int:
        return self.offset + len(self.pending)

    def feed(self, block: bytes) -> Chunk | None:
        data = self.pending + block if self.pending else block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) <= self.max_pending:
                self.pending = data
                return None
            cut = len(data)  # one enormous line: hand it over as is (the reader cuts and tags it)
        chunk = Chunk(self.source, self.offset, data[:cut])
        self.offset += cut
        self.pending = data[cut:]
        return chunk

    def flush(self, tags: tuple[str, ...] = ()) -> Chunk | None:
        """The unfinished last line, when the source is known to be complete."""
        if not self.pending:
            return None
        chunk = Chunk(self.source, self.offset, self.pending, tags)
        self.offset += len(self.pending)
        self.pending = b""
        return chunk


class FileReader:
    """Reads `path` from its checkpoint to the current end; `commit(chunk)` after storing it.

    `following=True` (a tailer will pick up later) holds back a last line without a newline:
    it is probably still being written.
    """

    def __init__(
        self,
        path: str | Path,
        checkpoints: CheckpointStore,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        key: str | None = None,
        following: bool = False,
    ) -> None:
        self.path = Path(path)
        self.checkpoints = checkpoints
        self.chunk_bytes = max(chunk_bytes, 4096)
        self.key = key or checkpoint_key(self.path)
        self.following = following
        self.notices: list[dict[str, Any]] = []
        self.is_damaged = False
        self.is_stream = False
        self._stat: os.stat_result | None = None
        self._fingerprint = ""
        self._fingerprint_len = 0

    # -- public ----------------------------------------------------------------------------
    def read_chunks(self) -> Iterator[Chunk]:
        """Chunks of whole lines from the saved position; never raises on damaged content."""
        try:
            fh: BinaryIO = self.path.open("rb")
            self._stat = os.fstat(fh.fileno())
        except OSError as exc:
            raise HostwardenError(LOG_INPUT_UNREADABLE, f"cannot read {self.path}: {exc.strerror or exc}") from exc
        with fh:
            if stat.S_ISDIR(self._stat.st_mode):
                raise HostwardenError(LOG_INPUT_UNREADABLE, f"{self.path} is a directory")
            # Pipes (`ingest <(zcat x.gz)`) and devices are read once as streams: no seek, no resume.
            self.is_stream = not stat.S_ISREG(self._stat.st_mode)
            raw = _plain_blocks(fh, self.chunk_bytes)
            first_raw = next(raw, b"")
            raw = _prepend(first_raw, raw)
            gz = first_raw[:2] == b"\x1f\x8b" and _decodes_as_gzip(first_raw)
            blocks = _gunzip_blocks(raw, self._damaged) if gz else raw
            first = next(blocks, b"")
            head = first[:FINGERPRINT_BYTES]
            self._fingerprint = fingerprint(head)
            self._fingerprint_len = len(head)
            start = 0 if self.is_stream else self._resume_offset(head, gz)
            yield from self._chunks(_prepend(first, blocks), start)

    def commit(self, chunk: Chunk) -> None:
        """Save the position after `chunk`; call it once the chunk is durably stored."""
        if self.is_stream:
            return  # a pipe cannot be re-read: nothing to resume
        st = self._stat
        self.checkpoints.save_checkpoint(
            Checkpoint(
                key=self.key,
                path=str(self.path),
                inode=st.st_ino if st else 0,
                device=st.st_dev if st else 0,
                offset=chunk.end_offset,
                fingerprint=self._fingerprint,
                fingerprint_len=self._fingerprint_len,
                updated=time.time(),
            )
        )

    # -- internals -------------------------------------------------------------------------
    def _damaged(self, exc: Exception) -> None:
        self.is_damaged = True
        self.notices.append(
            {"code": LOG_INPUT_TRUNCATED.code, "message": f"{self.path}: {exc}; every line before the damage was kept"}
        )

    def _resume_offset(self, head: bytes, gz: bool) -> int:
        cp = self.checkpoints.load_checkpoint(self.key)
        if cp is None:
            return 0
        st = self._stat
        if st is not None and (cp.inode, cp.device) != (st.st_ino, st.st_dev):
            return 0  # another file now lives at this path (rotation): read it from the start
        same_head = len(head) >= cp.fingerprint_len and cp.fingerprint == fingerprint(head[: cp.fingerprint_len])
        size = st.st_size if st is not None and not gz else None
        if (size is not None and size < cp.offset) or (not same_head and cp.fingerprint_len):
            # copytruncate, a manual truncation or a rewrite in place: the old content is gone.
            self.notices.append({
                "code": LOG_FILE_TRUNCATED.code,
                "message": f"{self.path} was truncated or rewritten below the saved offset {cp.offset}; "
                           "reading from the start",
            })
            return 0
        return cp.offset

    def _chunks(self, blocks: Iterator[bytes], start: int) -> Iterator[Chunk]:
        lines = LineAssembler(str(self.path), start, max_pending=2 * self.chunk_bytes)
        offset = 0  # position in the (decompressed) stream
        for block in blocks:
            end = offset + len(block)
            if end <= start:  # before the checkpoint: already stored
                offset = end
                continue
            if offset < start:
                block = block[start - offset:]
            offset = end
            chunk = lines.feed(block)
            if chunk is not None:
                yield self._tagged(chunk)
        if not self.following or self.is_damaged:
            tail = lines.flush()
            if tail is not None:
                yield self._tagged(tail)

    def _tagged(self, chunk: Chunk) -> Chunk:
        # Damage is only known once decompression fails, i.e. for the chunks read after it.
        if not self.is_damaged:
            return chunk
        return Chunk(chunk.source, chunk.base_offset, chunk.data, (*chunk.tags, TRUNCATED_GZ_TAG))


def _plain_blocks(fh: BinaryIO, size: int) -> Iterator[bytes]:
    while block := fh.read(size):
        yield block


def _decodes_as_gzip(head: bytes) -> bool:
    """The gzip magic alone is two bytes a plain log can start with; such a file would decode to
    nothing and every line would be lost. Gzip is what yields output, or decodes without error."""
    if len(head) < 18 or head[2] != 8 or head[3] & 0xE0:  # header + trailer; deflate; no reserved flags
        return False
    try:  # stops after the first decoded byte: a damaged real gzip still counts, its prefix is kept
        zlib.decompressobj(wbits=31).decompress(head[: 1 << 16], 1)
    except zlib.error:
        return False
    return True


def _gunzip_blocks(raw_blocks: Iterator[bytes], on_damage: Callable[[Exception], None]) -> Iterator[bytes]:
    """Decompress (multi-member) gzip, yielding everything decodable even from a damaged file."""
    decoder = zlib.decompressobj(wbits=31)
    fed = False  # has the current member's decoder seen input?
    for raw in raw_blocks:
        while raw:
            fed = True
            try:
                out = decoder.decompress(raw)
            except zlib.error as exc:
                on_damage(exc)
                return
            if out:
                yield out
            if not decoder.eof:
                break
            raw = decoder.unused_data
            decoder = zlib.decompressobj(wbits=31)
            fed = False
            if len(raw) >= 2 and raw[:2] != b"\x1f\x8b":
                on_damage(zlib.error("trailing data after the last gzip member"))
                return
    if fed:
        tail = decoder.flush()
        if tail:
            yield tail
        on_damage(EOFError("compressed file ended before the end-of-stream marker"))


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
