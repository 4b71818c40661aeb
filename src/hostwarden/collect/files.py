"""One-shot reading of a file (plain or .gz) from its checkpoint to the current end.

Delivery is at-least-once: the caller calls `commit(chunk)` only after the chunk is stored, so
a crash re-reads at most the uncommitted chunks, and the store's content-hash dedupe drops the
repeats. Together that is exactly-once in the store.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from hostwarden.collect.checkpoint import FINGERPRINT_BYTES, Checkpoint, CheckpointStore, fingerprint
from hostwarden.collect.chunks import Chunk
from hostwarden.errors import LOG_FILE_TRUNCATED, LOG_INPUT_TRUNCATED, LOG_INPUT_UNREADABLE, HostwardenError

DEFAULT_CHUNK_BYTES = 32 << 20


def is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError:
        return False


class FileReader:
    def __init__(
        self,
        path: Path,
        checkpoints: CheckpointStore,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        key: str | None = None,
        include_partial_last_line: bool = True,
    ) -> None:
        self.path = Path(path)
        self.checkpoints = checkpoints
        self.chunk_bytes = max(chunk_bytes, 4096)
        self.key = key or f"file:{self.path}"
        self.include_partial = include_partial_last_line
        self.notices: list[dict[str, Any]] = []
        self._stat: os.stat_result | None = None
        self._fingerprint = ""
        self._fingerprint_len = 0
        self.is_damaged = False

    # -- public ----------------------------------------------------------------------------
    def read_chunks(self) -> Iterator[Chunk]:
        try:
            self._stat = self.path.stat()
        except OSError as exc:
            raise HostwardenError(LOG_INPUT_UNREADABLE, f"cannot read {self.path}: {exc.strerror}") from exc
        if not self.path.is_file():
            raise HostwardenError(LOG_INPUT_UNREADABLE, f"{self.path} is not a regular file")
        gz = is_gzip(self.path)
        try:
            fh: BinaryIO = self.path.open("rb")
        except OSError as exc:
            raise HostwardenError(LOG_INPUT_UNREADABLE, f"cannot read {self.path}: {exc.strerror}") from exc
        with fh:
            blocks = _gunzip_blocks(fh, self.chunk_bytes, self._damaged) if gz else _plain_blocks(fh, self.chunk_bytes)
            first = next(blocks, b"")
            head = first[:FINGERPRINT_BYTES]
            self._fingerprint = fingerprint(head)
            self._fingerprint_len = len(head)
            start = self._resume_offset(head, gz)
            yield from self._chunks(_prepend(first, blocks), start)

    def _damaged(self, exc: Exception) -> None:
        self.is_damaged = True
        self.notices.append(
            {"code": LOG_INPUT_TRUNCATED.code, "message": f"{self.path}: {exc}; every line before the damage was kept"}
        )

    def commit(self, chunk: Chunk) -> None:
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
    def _resume_offset(self, head: bytes, gz: bool) -> int:
        cp = self.checkpoints.load_checkpoint(self.key)
        if cp is None:
            return 0
        size = self._stat.st_size if self._stat and not gz else None
        if size is not None and size < cp.offset:
            # copytruncate (or a manual truncation): the old content is gone, start over.
            self.notices.append({"code": LOG_FILE_TRUNCATED.code,
                                 "message": f"{self.path} shrank below the saved offset; reading from the start"})
            return 0
        same_head = len(head) >= cp.fingerprint_len and cp.fingerprint == fingerprint(head[: cp.fingerprint_len])
        if not same_head:
            return 0  # another file now lives at this path (rotation): read it from the start
        return cp.offset

    def _chunks(self, blocks: Iterator[bytes], start: int) -> Iterator[Chunk]:
        source = str(self.path)
        offset = 0
        pending = b""
        for block in blocks:
            if offset + len(block) <= start:  # before the checkpoint: already stored
                offset += len(block)
                continue
            if offset < start:
                block = block[start - offset:]
                offset = start
            data = pending + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                pending = data
                if len(pending) > self.chunk_bytes * 2:  # one enormous line: hand it over as is
                    yield Chunk(source, offset, pending)
                    offset += len(pending)
                    pending = b""
                continue
            yield Chunk(source, offset, data[:cut])
            offset += cut
            pending = data[cut:]
        if pending and self.include_partial:
            yield Chunk(source, offset, pending, ("truncated_gz",) if self.is_damaged else ())


def _plain_blocks(fh: BinaryIO, size: int) -> Iterator[bytes]:
    while block := fh.read(size):
        yield block


def _gunzip_blocks(fh: BinaryIO, size: int, on_damage: Any) -> Iterator[bytes]:
    """Decompress (multi-member) gzip, yielding everything decodable even from a damaged file."""
    decoder = zlib.decompressobj(wbits=31)
    while True:
        raw = fh.read(min(size, 1 << 20))
        if not raw:
            if not decoder.eof:
                on_damage(EOFError("compressed file ended before the end-of-stream marker"))
            tail = decoder.flush()
            if tail:
                yield tail
            return
        while raw:
            try:
                out = decoder.decompress(raw)
            except zlib.error as exc:
                on_damage(exc)
                return
            if out:
                yield out
            if decoder.eof:
                raw = decoder.unused_data
                if raw:
                    decoder = zlib.decompressobj(wbits=31)
                    if raw[:2] != b"\x1f\x8b":  # trailing garbage after the last member
                        on_damage(zlib.error("trailing data after the last gzip member"))
                        return
                else:
                    decoder = zlib.decompressobj(wbits=31)
                    peek = fh.read(2)
                    if not peek:
                        return
                    raw = peek
            else:
                raw = b""


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
