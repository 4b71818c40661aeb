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

Chunk source (the identity in `event.id`) is always the configured path, so the store's dedupe
removes lines re-read after a crash. Globs should name live files (`/var/log/*.log`), not the
rotated names; rotated files already followed are recognised by inode and not read twice.
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

from hostwarden.collect.files import DEFAULT_CHUNK_BYTES, LineAssembler, checkpoint_key
from hostwarden.core.checkpoint import FINGERPRINT_BYTES, Checkpoint, CheckpointStore, fingerprint
from hostwarden.core.chunks import Chunk
from hostwarden.core.errors import LOG_FILE_TRUNCATED, LOG_INPUT_UNREADABLE
from hostwarden.core.locks import held

_MAX_ISSUED = 16_384  # chunks handed out and not yet committed that we remember
_MAX_RETIRED_IDS = 4_096
# O_NONBLOCK: opening a FIFO that matches a glob must not wait for a writer (it is then skipped).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


@dataclass
class _Open:
    """One open inode, read on behalf of a configured path."""

    path: str  # the configured path: chunk source and checkpoint key
    fd: int
    inode: int
    device: int
    gen: int  # bumped whenever the path starts naming new content
    lines: LineAssembler
    fingerprint: str = ""
    fingerprint_len: int = 0
    last_growth: float = field(default_factory=time.monotonic)
    rewritten: bool = False  # the first bytes changed under us: truncated and written again

    @property
    def identity(self) -> tuple[int, int]:
        return (self.device, self.inode)


@dataclass(frozen=True)
class _Origin:
    path: str
    inode: int
    device: int
    gen: int
    fingerprint: str
    fingerprint_len: int


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
    ) -> None:
        self.patterns = [str(p) for p in paths_or_globs]
        self.checkpoints = checkpoints
        self.poll_interval = poll_interval
        self.chunk_bytes = max(chunk_bytes, 4096)
        self.rotate_wait = rotate_wait
        self.start_at_end = start_at_end  # files without a checkpoint: skip what they hold now
        self.stop_event = threading.Event()
        self.notices: list[dict[str, Any]] = []
        self._current: dict[str, _Open] = {}
        self._retired: list[_Open] = []
        self._gen: dict[str, int] = {}
        self._committed_gen: dict[str, int] = {}
        self._issued: dict[int, tuple[Chunk, _Origin]] = {}
        self._retired_ids: dict[tuple[int, int], tuple[str, int]] = {}  # finished: identity → fingerprint
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
            if origin.gen < self._committed_gen.get(origin.path, -1):
                continue  # a late line of a rotated file: the newer file's position must stay
            self._committed_gen[origin.path] = origin.gen
            key = checkpoint_key(origin.path)
            latest.pop(key, None)  # re-inserted last: files are written in the order they were last committed
            latest[key] = Checkpoint(
                key=key, path=origin.path, inode=origin.inode, device=origin.device, offset=chunk.end_offset,
                fingerprint=origin.fingerprint, fingerprint_len=origin.fingerprint_len, updated=time.time())
        for checkpoint in latest.values():
            self.checkpoints.save_checkpoint(checkpoint)

    def close(self) -> None:
        for f in [*self._current.values(), *self._retired]:
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
        cp = self.checkpoints.load_checkpoint(checkpoint_key(path))
        start = 0
        if cp is not None:
            head = os.pread(fd, cp.fingerprint_len, 0) if cp.fingerprint_len else b""
            same_head = len(head) == cp.fingerprint_len and fingerprint(head) == cp.fingerprint
            if (cp.device, cp.inode) == ident and same_head and st.st_size >= cp.offset:
                start = cp.offset
            elif (cp.device, cp.inode) == ident:
                self._notice_truncated(path, cp.offset)
                yield from self._recover(path, cp, exclude=ident)
            else:
                yield from self._recover(path, cp, exclude=ident)  # rotated while we were away
        elif self.start_at_end:
            start = _line_start_before(fd, st.st_size)
        f = self._new_open(path, fd, st, start)
        self._current[path] = f
        # Lines a writer appended to the old file before creating this one come first.
        for old in [o for o in self._retired if o.path == path]:
            yield from self._read(old)
        yield from self._read(f)

    def _new_open(self, path: str, fd: int, st: os.stat_result, start: int) -> _Open:
        gen = self._gen.get(path, -1) + 1
        self._gen[path] = gen
        f = _Open(path, fd, st.st_ino, st.st_dev, gen, LineAssembler(path, start, max_pending=2 * self.chunk_bytes))
        _refresh_fingerprint(f)
        return f

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
            if (plausible and ident != exclude and not self._known(fd, ident) and st.st_size >= cp.offset
                    and len(head) == cp.fingerprint_len and fingerprint(head) == cp.fingerprint):
                old = _Open(path, fd, st.st_ino, st.st_dev, self._gen.get(path, -1),
                            LineAssembler(path, cp.offset, max_pending=2 * self.chunk_bytes),
                            cp.fingerprint, cp.fingerprint_len)
                self._gen[path] = old.gen + 1  # the file now at the path is newer content
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
        if st is None or (st.st_dev, st.st_ino) != cur.identity:
            del self._current[path]  # renamed away (and maybe replaced): finish it, then the new one
            yield from self._retire(cur)
            if st is not None:
                yield from self._open_path(path)

    def _truncated(self, path: str, cur: _Open) -> Iterator[Chunk]:
        self._notice_truncated(path, cur.lines.read_pos)
        cp = Checkpoint(checkpoint_key(path), path, cur.inode, cur.device, cur.lines.offset,
                        cur.fingerprint, cur.fingerprint_len, time.time())
        yield from self._recover(path, cp, exclude=cur.identity)
        st = os.fstat(cur.fd)
        fresh = self._new_open(path, cur.fd, st, 0)
        self._current[path] = fresh

    def _retire(self, f: _Open) -> Iterator[Chunk]:
        f.last_growth = time.monotonic()
        self._retired.append(f)
        yield from self._read(f)

    def _finish(self, f: _Open) -> Iterator[Chunk]:
        self._retired.remove(f)
        tail = f.lines.flush()
        if tail is not None:
            yield self._issue(tail, f)
        self._retired_ids[f.identity] = (f.fingerprint, f.fingerprint_len)
        while len(self._retired_ids) > _MAX_RETIRED_IDS:
            del self._retired_ids[next(iter(self._retired_ids))]
        _close(f.fd)

    def _read(self, f: _Open) -> Iterator[Chunk]:
        while True:
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
            chunk = f.lines.feed(block)
            if chunk is not None:
                yield self._issue(chunk, f)

    def _issue(self, chunk: Chunk, f: _Open) -> Chunk:
        origin = _Origin(f.path, f.inode, f.device, f.gen, f.fingerprint, f.fingerprint_len)
        with held(self._lock, "the tailer's file table"):  # commit() may run on the thread that stores
            self._issued[id(chunk)] = (chunk, origin)
            while len(self._issued) > _MAX_ISSUED:
                del self._issued[next(iter(self._issued))]
        return chunk

    def _unreadable_notice(self, path: str, why: str) -> None:
        if path not in self._unreadable and path not in self._gen:  # say it once; it may appear later
            self._unreadable.add(path)
            self.notices.append({"code": LOG_INPUT_UNREADABLE.code, "message": f"cannot read {path}: {why}; will retry"})

    def _known(self, fd: int, ident: tuple[int, int]) -> bool:
        """Is this inode already followed, or finished, under some configured path?"""
        if any(f.identity == ident for f in [*self._current.values(), *self._retired]):
            return True
        done = self._retired_ids.get(ident)
        if done is None:
            return False
        head = os.pread(fd, done[1], 0) if done[1] else b""
        return len(head) == done[1] and fingerprint(head) == done[0]  # else: the inode was reused

    def _notice_truncated(self, path: str, offset: int) -> None:
        self.notices.append({"code": LOG_FILE_TRUNCATED.code,
                             "message": f"{path} was truncated or rewritten below offset {offset}; reading from the start"})


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
