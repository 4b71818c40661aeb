"""One-shot reading of a file (plain or .gz) from its checkpoint to the current end.

Delivery is at-least-once: the caller calls `commit(chunk)` only after the chunk is stored, so
a crash re-reads at most the uncommitted chunks, and the store's content-hash dedupe drops the
repeats. Together that is exactly-once in the store.

The file is known by its content (core/checkpoint.py): its checkpoint is found by a fingerprint
of its first bytes, decompressed for .gz, so another name for the same file (a spelling, a
symlink, `.1` after rotation, a `.2.gz` copy) resumes where the last read stopped, and its chunks
carry that identity for `event.id`. The saved offset is trusted only when the file is at least
that long and the bytes just before it are the ones read then; otherwise the file is read from
the start (notice LOG-4104 when the same inode was truncated or rewritten in place).

Bounded on every side: lines over `max_line_bytes` are cut (lines.py), gzip is decoded in bounded
steps up to an expansion limit (decode.py), binary content and undecoded compression are refused
with notice LOG-4107 after one block.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from hostwarden.collect import decode
from hostwarden.collect.lines import MAX_EMPTY_RUN, LineAssembler, dropped_notices
from hostwarden.core.checkpoint import (
    FINGERPRINT_BYTES,
    TAIL_BYTES,
    Checkpoint,
    CheckpointStore,
    file_identity,
    fingerprint,
    resolve_identity,
    tail_hash,
)
from hostwarden.core.chunks import MAX_LINE_BYTES, Chunk
from hostwarden.core.errors import (
    LOG_FILE_TRUNCATED,
    LOG_INPUT_BINARY,
    LOG_INPUT_EXPANDS,
    LOG_INPUT_TRUNCATED,
    LOG_INPUT_UNREADABLE,
    HostwardenError,
)

DEFAULT_CHUNK_BYTES = 8 << 20
TRUNCATED_GZ_TAG = "truncated_gz"
_HEAD_BYTES = max(FINGERPRINT_BYTES, decode.SNIFF_BYTES)


def is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(2) == decode.GZIP_MAGIC
    except OSError:
        return False


class _Restart(Exception):
    """The bytes before a trusted-looking checkpoint differ: read the file from the start."""


class FileReader:
    """Reads `path` from its checkpoint to the current end; `commit(chunk)` after storing it.

    `following=True` (a tailer will pick up later) holds back a last line without a newline:
    it is probably still being written. `skip_binary=False` reads binary content as lines anyway.
    `dropped` counts what was read but not handed on (see LineAssembler), `notices` say why.
    """

    def __init__(self, path: str | Path, checkpoints: CheckpointStore, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 following: bool = False, max_line_bytes: int = MAX_LINE_BYTES, skip_binary: bool = True,
                 max_empty_run: int = MAX_EMPTY_RUN, allow_streams: bool = True) -> None:
        self.path = Path(path)
        self.allow_streams = allow_streams  # a named pipe (`ingest <(zcat x.gz)`); off for files a walk found
        self.checkpoints = checkpoints
        self.chunk_bytes = max(chunk_bytes, 4096)
        self.following = following
        self.max_line_bytes = max_line_bytes
        self.skip_binary = skip_binary
        self.max_empty_run = max_empty_run
        self.notices: list[dict[str, Any]] = []
        self.dropped: dict[str, int] = {}
        self.skipped: str | None = None  # why the whole input was left out (binary, undecoded compression)
        self.identity = ""  # known once read_chunks has looked at the first bytes
        self.is_damaged = False
        self.is_stream = False
        self._stat: os.stat_result | None = None
        self._fingerprint = ""
        self._fingerprint_len = 0
        self._tails: dict[int, str] = {}  # end offset of a chunk handed out → tail_hash before it

    def _open(self) -> BinaryIO:
        """Open without blocking (a FIFO swapped in after a walk chose the file would wait for a
        writer for ever); a FIFO is read only where streams are allowed, then as a blocking pipe."""
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            self._stat = os.fstat(fd)
            if stat.S_ISFIFO(self._stat.st_mode) and self.allow_streams:
                # A pipe opened without blocking before its writer reads as empty: open it again
                # as `cat` does, waiting for the writer (`ingest <(zcat x.gz)` has one already),
                # and make sure it is still the pipe that was checked.
                pipe = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                os.close(fd)
                fd = pipe
                again = os.fstat(fd)
                if (again.st_dev, again.st_ino) != (self._stat.st_dev, self._stat.st_ino):
                    raise OSError(errno.EINVAL, "replaced while being opened")
            elif not stat.S_ISREG(self._stat.st_mode) and not stat.S_ISDIR(self._stat.st_mode):
                if not self.allow_streams:
                    raise OSError(errno.EINVAL, "not a regular file")
                os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    # -- public ----------------------------------------------------------------------------
    def read_chunks(self) -> Iterator[Chunk]:
        """Chunks of whole lines from the saved position; never raises on damaged content."""
        try:
            fh: BinaryIO = self._open()
        except OSError as exc:
            raise HostwardenError(LOG_INPUT_UNREADABLE, f"cannot read {self.path}: {exc.strerror or exc}") from exc
        with fh:
            if stat.S_ISDIR(self._stat.st_mode):
                raise HostwardenError(LOG_INPUT_UNREADABLE, f"{self.path} is a directory")
            # Pipes (`ingest <(zcat x.gz)`) and devices are read once as streams: no seek, no resume.
            self.is_stream = not stat.S_ISREG(self._stat.st_mode)
            raw_head, gz, head, blocks = decode.open_content(
                fh.read, block_bytes=self.chunk_bytes, head_bytes=_HEAD_BYTES, compressed_size=self._compressed_size(),
                on_damage=self._damaged, on_limit=self._expanded)
            why = decode.content_reason(raw_head, head) if self.skip_binary else None
            if why is not None:
                self.skipped = why
                self._notice(LOG_INPUT_BINARY.code, f"{self.path} skipped: {why}")
                return
            identity, cp = (file_identity(head), None) if self.is_stream else resolve_identity(head, self.checkpoints)
            self.identity = identity
            self._fingerprint_len = min(len(head), FINGERPRINT_BYTES)
            self._fingerprint = fingerprint(head)
            start = self._resume_offset(cp, fh, gz)
            window = b""
            if start and not gz:
                window = os.pread(fh.fileno(), min(start, TAIL_BYTES), start - min(start, TAIL_BYTES))
                fh.seek(start)
                blocks = decode.plain_blocks(fh.read, self.chunk_bytes)
            try:
                yield from self._chunks(blocks, start, cp.tail if (start and gz and cp) else "", skip=start if gz else 0,
                                        window=window)
            except _Restart:  # nothing was handed out yet: every chunk before `start` was skipped
                self._same_inode_notice(cp)
                fh.seek(0)
                yield from self._chunks(self._decoded(decode.plain_blocks(fh.read, self.chunk_bytes), gz), 0, "")
        self._summary_notices()

    def commit(self, chunk: Chunk) -> None:
        """Save the position after `chunk`; call it once the chunk is durably stored."""
        if self.is_stream:
            return  # a pipe cannot be re-read: nothing to resume
        st = self._stat
        self.checkpoints.save_checkpoint(Checkpoint(
            key=self.identity,
            path=str(self.path), inode=st.st_ino if st else 0, device=st.st_dev if st else 0,
            offset=chunk.end_offset, fingerprint=self._fingerprint, fingerprint_len=self._fingerprint_len,
            updated=time.time(), tail=self._tails.pop(chunk.end_offset, ""),
        ))

    # -- internals -------------------------------------------------------------------------
    def _decoded(self, raw: Iterator[bytes], gz: bool) -> Iterator[bytes]:
        if not gz:
            return raw
        return decode.gunzip_blocks(raw, self._damaged, compressed_size=self._compressed_size(), on_limit=self._expanded)

    def _compressed_size(self) -> int | None:
        return None if self.is_stream or self._stat is None else self._stat.st_size

    def _damaged(self, exc: Exception) -> None:
        self.is_damaged = True
        self._notice(LOG_INPUT_TRUNCATED.code, f"{self.path}: {exc}; every line before the damage was kept")

    def _expanded(self, produced: int) -> None:
        self._notice(LOG_INPUT_EXPANDS.code,
                     f"{self.path} decodes to more than {decode.EXPAND_RATIO} times its compressed size "
                     f"(stopped after {produced:,} bytes); the rest was not read")

    def _notice(self, code: str, message: str) -> None:
        self.notices.append({"code": code, "message": message})

    def _resume_offset(self, cp: Checkpoint | None, fh: BinaryIO, gz: bool) -> int:
        """Where to start: the checkpoint's offset when it can be trusted for this file, else 0.
        For .gz the bytes before the offset are checked while skipping to it (see _chunks)."""
        if self.is_stream:
            return 0
        if cp is None or cp.offset <= 0:
            last = self.checkpoints.last_checkpoint_at(str(self.path))
            if last is not None and last.offset and (cp is None or last.key != cp.key):
                self._same_inode_notice(last)
            return 0
        st = self._stat
        assert st is not None
        if gz:
            return cp.offset if cp.tail or self._same_inode(cp) else 0
        if st.st_size >= cp.offset and (self._tail_before(fh, cp.offset) == cp.tail if cp.tail else self._same_inode(cp)):
            return cp.offset
        self._same_inode_notice(cp)
        return 0

    def _same_inode(self, cp: Checkpoint) -> bool:
        st = self._stat
        return st is not None and (cp.inode, cp.device) == (st.st_ino, st.st_dev)

    def _same_inode_notice(self, cp: Checkpoint | None) -> None:
        if cp is not None and self._same_inode(cp):  # another file sharing the first bytes is no news
            self._notice(LOG_FILE_TRUNCATED.code, f"{self.path} was truncated or rewritten below the saved offset "
                                                  f"{cp.offset}; reading from the start")

    @staticmethod
    def _tail_before(fh: BinaryIO, offset: int) -> str:
        lo = max(0, offset - TAIL_BYTES)
        return tail_hash(os.pread(fh.fileno(), offset - lo, lo))

    def _chunks(self, blocks: Iterator[bytes], start: int, expect_tail: str, *, skip: int = 0,
                window: bytes = b"") -> Iterator[Chunk]:
        """Chunks from `start`; the first `skip` bytes of `blocks` come before it (a .gz resumed:
        they are checked against `expect_tail`, and _Restart is raised if they differ). `window`:
        the bytes before the first block, when known (a plain file resumed by seeking)."""
        lines = LineAssembler(str(self.path), start, identity=self.identity, max_line_bytes=self.max_line_bytes,
                              max_empty_run=self.max_empty_run, dropped=self.dropped)
        # `window` is always the last TAIL_BYTES of the stream before `pos`.
        pos = start - skip  # stream offset of the next block
        for block in blocks:
            if pos + len(block) <= start:  # before the checkpoint: already stored
                window = (window + block[-TAIL_BYTES:])[-TAIL_BYTES:]
                pos += len(block)
                continue
            if pos < start:
                window = (window + block[: start - pos][-TAIL_BYTES:])[-TAIL_BYTES:]
                block, pos = block[start - pos:], start
            if expect_tail:
                if tail_hash(window) != expect_tail:
                    raise _Restart
                expect_tail = ""
            for chunk in lines.feed(block):
                yield self._handed(chunk, window, block, pos)
            window = (window + block[-TAIL_BYTES:])[-TAIL_BYTES:]
            pos += len(block)
        if expect_tail and pos >= start and tail_hash(window) != expect_tail:
            raise _Restart
        if pos < start:  # shorter than the checkpoint says: not the content it was saved for
            raise _Restart
        if not self.following or self.is_damaged:
            for chunk in lines.flush():
                yield self._handed(chunk, window, b"", pos)

    def _handed(self, chunk: Chunk, window: bytes, block: bytes, block_pos: int) -> Chunk:
        """Remember what the bytes before the chunk's end hash to (for its checkpoint), and tag
        chunks read after gzip damage was found (known only from then on)."""
        if not self.is_stream:
            end = chunk.end_offset - block_pos  # the chunk ends inside `block` (or right after `window`)
            before = block[end - TAIL_BYTES:end] if end >= TAIL_BYTES else (window + block[:end])[-TAIL_BYTES:]
            self._tails[chunk.end_offset] = tail_hash(before)
        if self.is_damaged:
            chunk = dataclasses.replace(chunk, tags=(*chunk.tags, TRUNCATED_GZ_TAG))
        return chunk

    def _summary_notices(self) -> None:
        self.notices.extend(dropped_notices(str(self.path), self.dropped, max_line_bytes=self.max_line_bytes,
                                            max_empty_run=self.max_empty_run))
