"""Following files as they grow, across rotation, with checkpoints that survive restarts.

Polling with `os.stat` (portable, no inotify limits, works on NFS and overlayfs) at
`poll_interval`. Each configured path has at most one *current* open file plus *retired* ones:

- rename + create (logrotate's default): the path now names another inode. The old file stays
  open and is read to its end first (a writer may still append to it until it reopens), then
  the new file from offset 0. A retired file is closed after `rotate_wait` seconds without
  growth; only then is a last line without newline handed over.
- copytruncate: the file shrinks below what was read, or its first bytes change. If the copy
  still lies beside it (`app.log.1`, same first bytes) the lines written after our last read
  are recovered from it, under the original path and offsets, then reading restarts at 0.
  Lines written between logrotate's copy and its truncate are lost by copytruncate itself.
- a restart finds a file rotated while we were away by its inode among its siblings and
  finishes it from the checkpoint before starting on the new file.

Chunk source (`log.file.path`) is always the configured path; chunk identity (in `event.id`)
is the file's content identity (core/checkpoint.py), learnt from its first bytes, so the store's
dedupe removes lines re-read after a crash, and a rotated or compressed copy ingested later is
recognised. A file is known by its content from its first line on, even while it is shorter
than the fingerprint. Checkpoints are saved per content and found again by content; the last
one saved for a path tells a restart what that path held. Globs should name live files
(`/var/log/*.log`), not the rotated names; rotated files already followed are recognised by
inode and not read twice. Binary files a glob matches are skipped with notice LOG-4107.
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostwarden.collect import decode
from hostwarden.collect.files import DEFAULT_CHUNK_BYTES
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
from hostwarden.core.errors import LOG_FILE_TRUNCATED, LOG_INPUT_BINARY, LOG_INPUT_UNREADABLE
from hostwarden.core.locks import held

_MAX_ISSUED = 16_384  # chunks handed out and not yet committed that we remember
_MAX_RETIRED_IDS = 4_096
# O_NONBLOCK: opening a FIFO that matches a glob must not wait for a writer (it is then skipped).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


@dataclass
class _Open:
    """One open inode, read on behalf of a configured path."""

    path: str  # the configured path: chunk source, and what the checkpoint says was read there
    fd: int
    inode: int
    device: int
    lines: LineAssembler  # its `identity` is the content identity, "" until the first line
    fingerprint: str = ""
    fingerprint_len: int = 0
    last_growth: float = field(default_factory=time.monotonic)
    rewritten: bool = False  # the first bytes changed under us: truncated and written again
    refused: bool = False  # binary content: not read
    noticed: set[str] = field(default_factory=set)  # kinds of dropped input already reported

    @property
    def file_id(self) -> tuple[int, int]:
        return (self.device, self.inode)


@dataclass(frozen=True)
class _Origin:
    path: str
    inode: int
    device: int
    identity: str
    fingerprint: str
    fingerprint_len: int
    tail: str


class FileTailer:
    """Follow files and globs; `follow(stop)` yields chunks, `commit(chunk)` after storing each."""

    def __init__(
        self,
        paths_or_globs: Iterable[str | Path],
        checkpoints: CheckpointStore,
        poll_interval: float = 0.2,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        rotate_wait: float = 5.0,
        start_at_end: bool = False,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.patterns = [str(p) for p in paths_or_globs]
        self.checkpoints = checkpoints
        self.poll_interval = poll_interval
        self.chunk_bytes = max(chunk_bytes, 4096)
        self.rotate_wait = rotate_wait
        self.start_at_end = start_at_end  # files without a checkpoint: skip what they hold now
        self.max_line_bytes = max_line_bytes
        self.stop_event = threading.Event()
        self.notices: list[dict[str, Any]] = []
        self.dropped: dict[str, int] = {}  # what the line limits did not hand on, over all files
        self._current: dict[str, _Open] = {}
        self._retired: list[_Open] = []
        self._seen_paths: set[str] = set()
        self._issued: dict[int, tuple[Chunk, _Origin]] = {}
        self._retired_ids: dict[tuple[int, int], tuple[str, int]] = {}  # finished: (dev, ino) → fingerprint
        self._refused: dict[tuple[int, int], str] = {}  # binary files: (dev, ino) → fingerprint
        self._unreadable: set[str] = set()
        self._lock = threading.Lock()

    # -- public ----------------------------------------------------------------------------
    def follow(self, stop: threading.Event | None = None) -> Iterator[Chunk]:
        """Chunks of whole lines as files grow, until `stop` (or `self.stop_event`) is set."""
        stop = stop or self.stop_event
        try:
            while not stop.is_set():
                produced = False
                for chunk in self.poll():
                    produced = True
                    yield chunk
                if not produced:
                    stop.wait(self.poll_interval)
        finally:
            self.close()

    def poll(self) -> Iterator[Chunk]:
        """One pass: retired files first (older content), then discovery and current files."""
        for old in list(self._retired):
            yield from self._read(old)
            if time.monotonic() - old.last_growth >= self.rotate_wait:
                yield from self._finish(old)
        for path in self._discover():
            if path not in self._current:
                yield from self._open_path(path)
        for path, cur in list(self._current.items()):
            yield from self._poll_current(path, cur)

    def commit(self, chunk: Chunk) -> None:
        """Save the position after `chunk`; call it once the chunk is durably stored."""
        self.commit_all([chunk])

    def commit_all(self, chunks: list[Chunk]) -> None:
        """`commit` each chunk, in order, writing each file's checkpoint once: the last one
        is what the writes one by one would leave (watch commits ~50 chunks a second)."""
        latest: dict[str, Checkpoint] = {}
        for chunk in chunks:
            with held(self._lock, "the tailer's file table"):
                entry = self._issued.pop(id(chunk), None)
            if entry is None or entry[0] is not chunk:
                continue
            origin = entry[1]
            # One checkpoint per content: a late chunk of a rotated file moves its own, never the
            # position in the file that now lives at the path.
            key = origin.identity
            latest.pop(key, None)  # re-inserted last: files are written in the order they were last committed
            latest[key] = Checkpoint(
                key=key, path=origin.path, inode=origin.inode, device=origin.device, offset=chunk.end_offset,
                fingerprint=origin.fingerprint, fingerprint_len=origin.fingerprint_len, updated=time.time(),
                tail=origin.tail)
        for checkpoint in latest.values():
            self.checkpoints.save_checkpoint(checkpoint)

    def close(self) -> None:
        for f in [*self._current.values(), *self._retired]:
            self._settle(f)
            _close(f.fd)
        self._current.clear()
        self._retired.clear()

    def __enter__(self) -> FileTailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- discovery and opening -------------------------------------------------------------
    def _discover(self) -> list[str]:
        found: list[str] = []
        for pattern in self.patterns:
            if glob.has_magic(pattern):
                found.extend(p for p in sorted(glob.glob(pattern)) if os.path.isfile(p))
            else:
                found.append(pattern)
        return list(dict.fromkeys(found))

    def _open_path(self, path: str) -> Iterator[Chunk]:
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except OSError as exc:
            self._unreadable_notice(path, exc.strerror or str(exc))
            return
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            _close(fd)
            self._unreadable_notice(path, "not a regular file")
            return
        self._unreadable.discard(path)
        ident = (st.st_dev, st.st_ino)
        if self._known(fd, ident):
            _close(fd)  # a rotated name of a file already followed under its live name
            return
        head = os.pread(fd, _HEAD_BYTES, 0)
        if self._refuse(path, ident, head):
            _close(fd)
            return
        identity, cp = resolve_identity(head, self.checkpoints) if _has_identity(head) else ("", None)
        last = self.checkpoints.last_checkpoint_at(path)  # what the path held when we last saved
        start = 0
        if cp is not None and _trusted(fd, st, cp):
            start = cp.offset
        elif cp is not None and (cp.device, cp.inode) == ident:  # truncated and rewritten with the same start
            self._notice_truncated(path, cp.offset)
            yield from self._recover(path, cp, exclude=ident)
        elif cp is None and last is None and self.start_at_end:
            start = _line_start_before(fd, st.st_size)
        if last is not None and last.key != identity:
            if (last.device, last.inode) == ident:  # the path's file was truncated or rewritten while we were away
                self._notice_truncated(path, last.offset)
            yield from self._recover(path, last, exclude=ident)  # rotated while we were away: finish the old one
        f = self._new_open(path, fd, st, start, identity)
        self._current[path] = f
        # Lines a writer appended to the old file before creating this one come first.
        for old in [o for o in self._retired if o.path == path]:
            yield from self._read(old)
        yield from self._read(f)

    def _new_open(self, path: str, fd: int, st: os.stat_result, start: int, identity: str) -> _Open:
        self._seen_paths.add(path)
        f = _Open(path, fd, st.st_ino, st.st_dev, self._assembler(path, start, identity))
        _refresh_fingerprint(f)
        return f

    def _assembler(self, path: str, start: int, identity: str) -> LineAssembler:
        return LineAssembler(path, start, identity=identity, max_line_bytes=self.max_line_bytes,
                             max_empty_run=MAX_EMPTY_RUN)

    def _refuse(self, path: str, ident: tuple[int, int], head: bytes) -> bool:
        """Binary content (a glob matching wtmp, a .gz) is not followed; said once per file."""
        why = decode.content_reason(head, head) if head else None
        if why is None:
            return False
        known = self._refused.get(ident)
        self._refused[ident] = fingerprint(head)
        if known != self._refused[ident]:
            self.notices.append({"code": LOG_INPUT_BINARY.code, "message": f"{path} skipped: {why}"})
        return True

    def _recover(self, path: str, cp: Checkpoint, exclude: tuple[int, int]) -> Iterator[Chunk]:
        """Finish the content a checkpoint points into from a rotated sibling, if one is found.

        Same inode as the checkpoint → the renamed file; same first bytes → the copy made by
        copytruncate. Either holds the original bytes at the original offsets.
        """
        directory, base = os.path.split(path)
        try:
            entries = [e for e in os.scandir(directory or ".") if e.name != base and e.name.startswith(base)]
        except OSError:
            return
        by_inode = [e for e in entries if _inode(e) == cp.inode]
        for entry in by_inode + [e for e in entries if e not in by_inode]:
            try:
                fd = os.open(entry.path, _OPEN_FLAGS)
            except OSError:
                continue
            st = os.fstat(fd)
            ident = (st.st_dev, st.st_ino)
            # A copy is recognised by its first bytes alone, so it needs some to compare.
            plausible = stat.S_ISREG(st.st_mode) and (st.st_ino == cp.inode or cp.fingerprint_len > 0)
            head = os.pread(fd, cp.fingerprint_len, 0) if plausible else b""
            if (plausible and ident != exclude and not self._known(fd, ident) and len(head) == cp.fingerprint_len
                    and fingerprint(head) == cp.fingerprint and _trusted(fd, st, cp, by_inode=False)):
                old = _Open(path, fd, st.st_ino, st.st_dev, self._assembler(path, cp.offset, cp.key),
                            cp.fingerprint, cp.fingerprint_len)
                yield from self._retire(old)
                return
            _close(fd)

    # -- reading ---------------------------------------------------------------------------
    def _poll_current(self, path: str, cur: _Open) -> Iterator[Chunk]:
        try:
            size = os.fstat(cur.fd).st_size
        except OSError:
            size = cur.lines.read_pos
        pos = cur.lines.read_pos
        if size < pos or cur.rewritten or (size > pos and not _same_head(cur)):
            yield from self._truncated(path, cur)
            cur = self._current[path]
        yield from self._read(cur)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        except OSError:
            return
        if st is None or (st.st_dev, st.st_ino) != cur.file_id:
            del self._current[path]  # renamed away (and maybe replaced): finish it, then the new one
            yield from self._retire(cur)
            if st is not None:
                yield from self._open_path(path)

    def _truncated(self, path: str, cur: _Open) -> Iterator[Chunk]:
        self._notice_truncated(path, cur.lines.read_pos)
        identity = cur.lines.identity
        cp = Checkpoint(identity, path, cur.inode, cur.device, cur.lines.offset, cur.fingerprint, cur.fingerprint_len,
                        time.time())
        yield from self._recover(path, cp, exclude=cur.file_id)
        self._settle(cur)
        st = os.fstat(cur.fd)
        fresh = self._new_open(path, cur.fd, st, 0, "")
        self._current[path] = fresh

    def _retire(self, f: _Open) -> Iterator[Chunk]:
        f.last_growth = time.monotonic()
        self._retired.append(f)
        yield from self._read(f)

    def _finish(self, f: _Open) -> Iterator[Chunk]:
        self._retired.remove(f)
        if not f.lines.identity and not f.refused:  # a last line with no newline, nothing before it
            with contextlib.suppress(OSError):
                f.lines.identity = file_identity(os.pread(f.fd, _HEAD_BYTES, 0))
        for chunk in f.lines.flush():
            yield self._issue(chunk, f)
        self._retired_ids[f.file_id] = (f.fingerprint, f.fingerprint_len)
        while len(self._retired_ids) > _MAX_RETIRED_IDS:
            del self._retired_ids[next(iter(self._retired_ids))]
        self._settle(f)
        _close(f.fd)

    def _read(self, f: _Open) -> Iterator[Chunk]:
        while not f.refused:
            try:
                block = os.pread(f.fd, self.chunk_bytes, f.lines.read_pos)
            except OSError:
                return
            if not block:
                return
            if not _same_head(f):  # truncated and rewritten since the size check: not our bytes
                f.rewritten = True
                return
            f.last_growth = time.monotonic()
            if f.fingerprint_len < FINGERPRINT_BYTES:
                _refresh_fingerprint(f)
            if not f.lines.identity and not self._identify(f):
                return
            for chunk in f.lines.feed(block):
                yield self._issue(chunk, f)
            self._notice_dropped(f)

    def _identify(self, f: _Open) -> bool:
        """Learn the content identity of a file opened empty (or mid first line) from its first
        bytes, before its first chunk; False if it turned out binary (it is then left alone)."""
        try:
            head = os.pread(f.fd, _HEAD_BYTES, 0)
        except OSError:
            return False
        if self._refuse(f.path, f.file_id, head):
            f.refused = True
            return False
        if _has_identity(head):
            f.lines.identity = resolve_identity(head, self.checkpoints)[0]
        return True

    def _settle(self, f: _Open) -> None:
        """Add a file's dropped-input counts to the tailer's once it is done with."""
        for what, n in f.lines.dropped.items():
            self.dropped[what] = self.dropped.get(what, 0) + n
        f.lines.dropped.clear()

    def _notice_dropped(self, f: _Open) -> None:
        """Say it the first time a file drops input of a kind (the running totals are in `dropped`)."""
        for kind in ("truncated_lines", "empty_lines"):
            if f.lines.dropped.get(kind) and kind not in f.noticed:
                f.noticed.add(kind)
                self.notices += dropped_notices(f.path, {kind: f.lines.dropped[kind]}, max_line_bytes=self.max_line_bytes)

    def _issue(self, chunk: Chunk, f: _Open) -> Chunk:
        end = chunk.end_offset
        try:
            before = os.pread(f.fd, min(end, TAIL_BYTES), end - min(end, TAIL_BYTES))
        except OSError:
            before = b""
        origin = _Origin(f.path, f.inode, f.device, f.lines.identity, f.fingerprint, f.fingerprint_len,
                         tail_hash(before) if len(before) == min(end, TAIL_BYTES) else "")
        with held(self._lock, "the tailer's file table"):  # commit() may run on the thread that stores
            self._issued[id(chunk)] = (chunk, origin)
            while len(self._issued) > _MAX_ISSUED:
                del self._issued[next(iter(self._issued))]
        return chunk

    def _unreadable_notice(self, path: str, why: str) -> None:
        if path not in self._unreadable and path not in self._seen_paths:  # say it once; it may appear later
            self._unreadable.add(path)
            self.notices.append({"code": LOG_INPUT_UNREADABLE.code, "message": f"cannot read {path}: {why}; will retry"})

    def _known(self, fd: int, ident: tuple[int, int]) -> bool:
        """Is this inode already followed, or finished, under some configured path?"""
        if any(f.file_id == ident for f in [*self._current.values(), *self._retired]):
            return True
        done = self._retired_ids.get(ident)
        if done is None:
            return False
        head = os.pread(fd, done[1], 0) if done[1] else b""
        return len(head) == done[1] and fingerprint(head) == done[0]  # else: the inode was reused

    def _notice_truncated(self, path: str, offset: int) -> None:
        self.notices.append({"code": LOG_FILE_TRUNCATED.code,
                             "message": f"{path} was truncated or rewritten below offset {offset}; reading from the start"})


_HEAD_BYTES = max(FINGERPRINT_BYTES, decode.SNIFF_BYTES)


def _has_identity(head: bytes) -> bool:
    """A file is known by its content once it has a whole line or FINGERPRINT_BYTES of it."""
    return len(head) >= FINGERPRINT_BYTES or b"\n" in head


def _trusted(fd: int, st: os.stat_result, cp: Checkpoint, *, by_inode: bool = True) -> bool:
    """Is `cp.offset` a line start of this file's content: long enough, and the bytes before the
    offset are the ones read then (a checkpoint without them: the same inode is enough)."""
    if st.st_size < cp.offset:
        return False
    if not cp.tail:
        return (not by_inode) or (cp.device, cp.inode) == (st.st_dev, st.st_ino)
    lo = max(0, cp.offset - TAIL_BYTES)
    try:
        return tail_hash(os.pread(fd, cp.offset - lo, lo)) == cp.tail
    except OSError:
        return False


def _same_head(f: _Open) -> bool:
    if not f.fingerprint_len:
        return True
    try:
        head = os.pread(f.fd, f.fingerprint_len, 0)
    except OSError:
        return True
    return fingerprint(head) == f.fingerprint


def _refresh_fingerprint(f: _Open) -> None:
    """Grow the fingerprint with the file up to FINGERPRINT_BYTES (only if the old prefix holds)."""
    try:
        head = os.pread(f.fd, FINGERPRINT_BYTES, 0)
    except OSError:
        return
    if f.fingerprint_len and fingerprint(head[: f.fingerprint_len]) != f.fingerprint:
        return  # rewritten: the next poll's head check treats it as truncation
    f.fingerprint, f.fingerprint_len = fingerprint(head), len(head)


def _line_start_before(fd: int, size: int) -> int:
    """Offset just after the last newline before `size` (start-at-end skips whole lines only)."""
    pos = size
    while pos > 0:
        lo = max(0, pos - 65536)
        block = os.pread(fd, pos - lo, lo)
        nl = block.rfind(b"\n")
        if nl >= 0:
            return lo + nl + 1
        pos = lo
    return 0


def _inode(entry: os.DirEntry[str]) -> int:
    try:
        return entry.inode()
    except OSError:
        return -1


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
