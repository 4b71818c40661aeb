"""The one way scanners read under a scan root: resolved as if chrooted there, typed, bounded.

Why: a scan root is attacker-shaped data (an unpacked image, a mounted disk, a live host whose
files users can write). Opening `root / "etc/passwd"` follows `etc/passwd -> /home/ci/.token`
out of the root, `etc/machine-id -> /proc/self/environ` into the scanner's own secrets, and a
FIFO at `etc/ssh/sshd_config` blocks the open forever. So every path is resolved here, one
component at a time from a descriptor of the root (`openat` with O_NOFOLLOW, never a string
handed to the kernel whole):

* a symlink is followed *inside* the root: an absolute target restarts at the root, `..`
  stops at the root, more than `MAX_HOPS` links is a loop (SCAN-9030);
* only regular files are read and only real folders listed; a FIFO, socket or device is
  refused with SCAN-9030 before it is opened (and re-checked on the open descriptor, opened
  O_NONBLOCK, so a file swapped for a FIFO in between cannot block either);
* a file on a kernel pseudo file system (/proc, /sys, cgroup, …) is refused unless the scan
  is of the live host *and* the scanner asked for a /proc or /sys path by name;
* reads are capped per kind of file (`LIMITS`), with SCAN-9031 when a file is larger;
* walks are iterative, never follow a symlinked folder, and stop at a depth and an entry
  bound with SCAN-9032; a pseudo file system is not entered.

Host paths are strings such as "/etc/passwd": the path as the scanned system sees it.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from hostwarden.core.errors import SCAN_INPUT_TOO_LARGE, SCAN_PATH_REFUSED, SCAN_WALK_BOUND
from hostwarden.scan.safefiles import file_kind as _kind
from hostwarden.scan.safefiles import is_pseudo_fd, read_capped

KIB, MIB = 1 << 10, 1 << 20
# Bytes read at most per kind of file. Config files are small; package databases of large hosts
# run to tens of MB; a lockfile of a big monorepo to a few.
LIMITS: dict[str, int] = {
    "id": 64 * KIB,  # machine-id, hostname, os-release
    "config": 4 * MIB,  # passwd, shadow, sshd_config, cron, units, sudoers, web server config
    "package_db": 64 * MIB,  # dpkg status, apk installed, dpkg info lists and md5sums
    "lockfile": 32 * MIB,  # package-lock.json, poetry.lock, go.mod, METADATA …
    "source": 2 * MIB,  # install-hook scripts, setup.py
    "ruleset": 32 * MIB,  # iptables-save, nft JSON
}
MAX_HOPS = 40  # symlinks followed in one resolution (Linux: 40)
MAX_COMPONENTS = 512  # folders deep one resolution may go
DEFAULT_MAX_DEPTH = 64  # folders below a walk's top
DEFAULT_MAX_ENTRIES = 2_000_000  # entries one walk lists
_FD_CACHE = 16

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)
_O_DIR = os.O_DIRECTORY | os.O_NOFOLLOW | _O_CLOEXEC
_O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | _O_CLOEXEC
LIVE_PSEUDO_PREFIXES = ("/proc/", "/sys/")

Notify = Callable[..., None]


class Refused(OSError):
    """A path the resolver will not open: special file, pseudo file, link loop. Already noticed."""


def _parts(path: str) -> list[str]:
    return [p for p in str(path).split("/") if p not in ("", ".")]


@dataclass(frozen=True, slots=True)
class Entry:
    """One walked entry: its host path and its lstat (symlinks are entries, never followed)."""

    path: str
    name: str
    st: os.stat_result

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.st.st_mode)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.st.st_mode)


@dataclass
class _Found:
    """The end of a resolution: the folder it ends in (real components, an fd) and the last name."""

    fd: int
    names: list[str]
    name: str | None  # None: the path is the folder itself (the root, or a path ending in ..)
    st: os.stat_result | None  # lstat of `name`; None when it does not exist


@dataclass
class RootFS:
    """Reads under `root`, confined to it. `notify(code, message, **context)` receives notices."""

    root: Path
    live: bool = False
    notify: Notify | None = None
    max_depth: int = DEFAULT_MAX_DEPTH  # the walks' bounds when a caller gives none
    max_entries: int = DEFAULT_MAX_ENTRIES
    _noticed: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    # --- notices -----------------------------------------------------------------------------
    def notice(self, code: str, path: str, message: str) -> None:
        """One notice per (code, path) however many scanners trip over the same file."""
        if (code, path) in self._noticed or self.notify is None:
            return
        self._noticed.add((code, path))
        self.notify(code, f"{path}: {message}", path=path)

    # --- resolution --------------------------------------------------------------------------
    def _open_root(self) -> int:
        return os.open(self.root, _O_PATH | os.O_DIRECTORY | _O_CLOEXEC)

    def _open_names(self, names: list[str]) -> int:
        """A folder by its real components (no symlink in them: every step is O_NOFOLLOW)."""
        fd = self._open_root()
        try:
            for name in names:
                child = os.open(name, _O_PATH | _O_DIR, dir_fd=fd)
                os.close(fd)
                fd = child
        except OSError:
            os.close(fd)
            raise
        return fd

    def _resolve(self, path: str, follow: bool) -> _Found | None:
        """Walk `path` from the root as a chrooted process would; None when a folder on the way is absent."""
        todo = deque(_parts(path))
        names: list[str] = []
        fd = self._open_root()
        hops = 0
        try:
            while todo:
                part = todo.popleft()
                if part == "..":
                    if names:
                        names.pop()
                        os.close(fd)
                        fd = -1
                        fd = self._open_names(names)
                    continue
                last = not todo
                try:
                    st = os.stat(part, dir_fd=fd, follow_symlinks=False)
                except (FileNotFoundError, NotADirectoryError):
                    if last:
                        found, fd = _Found(fd, names, part, None), -1
                        return found
                    return None
                if stat.S_ISLNK(st.st_mode) and (follow or not last):
                    hops += 1
                    if hops > MAX_HOPS:
                        self.notice(SCAN_PATH_REFUSED.code, path, f"more than {MAX_HOPS} symlinks: a link loop")
                        raise Refused(errno.ELOOP, "symlink loop", path)
                    target = os.readlink(part, dir_fd=fd)
                    if not target:
                        return None
                    if target.startswith("/"):
                        names = []
                        os.close(fd)
                        fd = -1
                        fd = self._open_root()
                    todo.extendleft(reversed(_parts(target)))
                    continue
                if last:
                    found, fd = _Found(fd, names, part, st), -1
                    return found
                if not stat.S_ISDIR(st.st_mode):
                    return None
                if len(names) >= MAX_COMPONENTS:
                    self.notice(SCAN_PATH_REFUSED.code, path, f"more than {MAX_COMPONENTS} folders deep")
                    raise Refused(errno.ENAMETOOLONG, "path too deep", path)
                child = os.open(part, _O_PATH | _O_DIR, dir_fd=fd)
                os.close(fd)
                fd = child
                names.append(part)
            found, fd = _Found(fd, names, None, None), -1
            return found
        finally:
            if fd >= 0:
                os.close(fd)

    def _found(self, path: str, follow: bool) -> _Found | None:
        try:
            return self._resolve(path, follow)
        except Refused:
            return None
        except OSError:
            return None  # permission denied, swapped under us (ELOOP on O_NOFOLLOW): unreadable

    def local(self, path: str, *, follow: bool = True) -> Path | None:
        """The real path inside the root that `path` resolves to (None when a folder on the way is absent).

        Only for handing a path to a program that needs one (rpm, find); reading goes through `open`.
        """
        found = self._found(path, follow)
        if found is None:
            return None
        os.close(found.fd)
        parts = [*found.names, *([found.name] if found.name else [])]
        return self.root.joinpath(*parts) if parts else self.root

    def lstat(self, path: str) -> os.stat_result | None:
        """Like os.lstat: folders on the way are resolved in the root, the last name is not followed."""
        return self._stat(path, follow=False)

    def stat(self, path: str) -> os.stat_result | None:
        return self._stat(path, follow=True)

    def _stat(self, path: str, follow: bool) -> os.stat_result | None:
        found = self._found(path, follow)
        if found is None:
            return None
        try:
            return os.fstat(found.fd) if found.name is None else found.st
        finally:
            os.close(found.fd)

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def lexists(self, path: str) -> bool:
        return self.lstat(path) is not None

    def is_file(self, path: str) -> bool:
        st = self.stat(path)
        return st is not None and stat.S_ISREG(st.st_mode)

    def is_dir(self, path: str) -> bool:
        st = self.stat(path)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def is_symlink(self, path: str) -> bool:
        st = self.lstat(path)
        return st is not None and stat.S_ISLNK(st.st_mode)

    def readlink(self, path: str) -> str | None:
        """A symlink's target text, as stored (never followed)."""
        found = self._found(path, follow=False)
        if found is None:
            return None
        try:
            if found.name is None or found.st is None or not stat.S_ISLNK(found.st.st_mode):
                return None
            return os.readlink(found.name, dir_fd=found.fd)
        except OSError:
            return None
        finally:
            os.close(found.fd)

    # --- reading -----------------------------------------------------------------------------
    def _pseudo_allowed(self, path: str) -> bool:
        norm = "/" + "/".join(_parts(path))
        return self.live and norm.startswith(LIVE_PSEUDO_PREFIXES)

    def open(self, path: str, *, follow: bool = True) -> IO[bytes] | None:
        """A regular file for binary reading, or None (absent, refused with a notice, unreadable)."""
        found = self._found(path, follow)
        if found is None:
            return None
        try:
            if found.name is None or found.st is None:
                return None
            if not stat.S_ISREG(found.st.st_mode):
                if not stat.S_ISDIR(found.st.st_mode) and not stat.S_ISLNK(found.st.st_mode):
                    self.notice(SCAN_PATH_REFUSED.code, path, f"a {_kind(found.st.st_mode)}, not a regular file; not read")
                return None
            try:
                fd = os.open(found.name, _O_FILE, dir_fd=found.fd)
            except OSError:
                return None
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (found.st.st_dev, found.st.st_ino):
                    self.notice(SCAN_PATH_REFUSED.code, path, "changed while it was opened; not read")
                    os.close(fd)
                    return None
                if is_pseudo_fd(fd) and not self._pseudo_allowed(path):
                    self.notice(SCAN_PATH_REFUSED.code, path,
                                "resolves to a kernel pseudo file (/proc, /sys …), not a file of the scanned system; "
                                "not read")
                    os.close(fd)
                    return None
            except OSError:
                os.close(fd)
                return None
            return os.fdopen(fd, "rb")
        finally:
            os.close(found.fd)

    def read_bytes(self, path: str, *, kind: str = "config", limit: int | None = None,
                   truncate: bool = True) -> bytes | None:
        """At most the limit of `kind` (or `limit`) bytes of a regular file; None when it cannot be read.

        Larger files get SCAN-9031 and either their first bytes (`truncate`, for line formats
        that are still useful cut short) or None (whole-document formats such as JSON).
        """
        cap = LIMITS[kind] if limit is None else limit
        handle = self.open(path)
        if handle is None:
            return None
        with handle:
            try:
                data = read_capped(handle, cap + 1)
            except OSError:
                return None
        if len(data) > cap:
            what = f"the first {cap} bytes were read" if truncate else "not read"
            self.notice(SCAN_INPUT_TOO_LARGE.code, path, f"larger than the {cap}-byte limit for a {kind} file; {what}")
            return data[:cap] if truncate else None
        return data

    def read_text(self, path: str, *, kind: str = "config", limit: int | None = None,
                  truncate: bool = True) -> str | None:
        data = self.read_bytes(path, kind=kind, limit=limit, truncate=truncate)
        return None if data is None else data.decode("utf-8", errors="replace")

    # --- listing -----------------------------------------------------------------------------
    def _scan_fd(self, fd: int) -> list[Entry]:
        out = []
        with os.scandir(fd) as it:
            for entry in it:
                try:
                    out.append(Entry("", entry.name, entry.stat(follow_symlinks=False)))
                except OSError:
                    continue
        return out

    def _open_dir(self, found: _Found) -> int | None:
        """A readable descriptor of the folder a resolution ended on, or None."""
        try:
            if found.name is None:
                fd = os.open(".", os.O_RDONLY | _O_DIR, dir_fd=found.fd)
            elif found.st is not None and stat.S_ISDIR(found.st.st_mode):
                fd = os.open(found.name, os.O_RDONLY | _O_DIR, dir_fd=found.fd)
            else:
                return None
        except OSError:
            return None
        return fd

    def entries(self, path: str) -> list[Entry]:
        """The entries of a folder (symlinks in it resolved in the root), sorted by name; [] if none."""
        found = self._found(path, follow=True)
        if found is None:
            return []
        try:
            fd = self._open_dir(found)
        finally:
            os.close(found.fd)
        if fd is None:
            return []
        try:
            if is_pseudo_fd(fd) and not self._pseudo_allowed(path + "/"):
                self.notice(SCAN_PATH_REFUSED.code, path, "a kernel pseudo file system; not listed")
                return []
            base = "/" + "/".join(_parts(path))
            prefix = base.rstrip("/") + "/"
            return sorted((Entry(prefix + e.name, e.name, e.st) for e in self._scan_fd(fd)), key=lambda e: e.name)
        except OSError:
            return []
        finally:
            os.close(fd)

    def listdir(self, path: str) -> list[str]:
        return [e.name for e in self.entries(path)]

    def glob(self, pattern: str, *, hidden: bool = False, max_depth: int | None = None) -> list[str]:
        """Host paths matching a glob (`*`, `?`, `[…]` per component, `**` any folders deep), sorted.

        As glob.glob: a wildcard does not match a leading dot unless the pattern has one (or
        `hidden`, as pathlib does); `**` does not descend into symlinked folders. Entries of any
        type are returned; callers pick.
        """
        parts = _parts(pattern)
        current = ["/"]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt: list[str] = []
            for base in current:
                prefix = base.rstrip("/") + "/"
                if part == "**":
                    nxt.append(base)
                    for _folder, dirs, _others in self.walk(base, max_depth=max_depth):
                        nxt += [d.path for d in dirs]
                elif any(c in part for c in "*?["):
                    for entry in self.entries(base):
                        if entry.name.startswith(".") and not part.startswith(".") and not hidden:
                            continue
                        if fnmatch.fnmatchcase(entry.name, part) and (last or self.is_dir(entry.path)):
                            nxt.append(entry.path)
                else:
                    nxt.append(prefix + part)
            current = list(dict.fromkeys(nxt))
        return sorted(p for p in current if p != "/" and self.lexists(p))

    def walk(self, top: str = "/", *, max_depth: int | None = None, max_entries: int | None = None,
             ) -> Iterator[tuple[str, list[Entry], list[Entry]]]:
        """(folder, subfolders, other entries) top-down, like os.walk without following links.

        Iterative (a stack, never recursion). Remove entries from the subfolder list to prune.
        Folders deeper than `max_depth` below `top` are not entered and the walk stops after
        `max_entries` entries, each with a SCAN-9032 notice. A symlink is an entry, never
        entered; `top` itself is resolved in the root. Kernel pseudo file systems are not entered.
        """
        max_depth = self.max_depth if max_depth is None else max_depth
        max_entries = self.max_entries if max_entries is None else max_entries
        found = self._found(top, follow=True)
        if found is None:
            return
        os.close(found.fd)
        if found.name is not None and (found.st is None or not stat.S_ISDIR(found.st.st_mode)):
            return
        real_top = [*found.names, *([found.name] if found.name else [])]
        host_top = "/" + "/".join(_parts(top))
        pseudo_ok = self._pseudo_allowed(host_top + "/")  # a walk of "/" never wanders into /proc
        cache: OrderedDict[tuple[str, ...], int] = OrderedDict()
        stack: list[tuple[list[str], str, int]] = [(real_top, host_top, 0)]
        seen = 0
        try:
            while stack:
                names, host, depth = stack.pop()
                fd = self._dir_fd(cache, names)
                if fd is None:
                    continue
                if not pseudo_ok and is_pseudo_fd(fd):
                    if not self.live:
                        self.notice(SCAN_PATH_REFUSED.code, host, "a kernel pseudo file system; not walked")
                    continue
                try:
                    listed = os.open(".", os.O_RDONLY | _O_DIR, dir_fd=fd)
                except OSError:
                    continue
                try:
                    raw = self._scan_fd(listed)
                except OSError:
                    continue
                finally:
                    os.close(listed)
                prefix = host.rstrip("/") + "/"
                raw.sort(key=lambda e: e.name)
                if seen + len(raw) > max_entries:
                    raw = raw[: max(0, max_entries - seen)]
                    self.notice(SCAN_WALK_BOUND.code, top, f"walk stopped after {max_entries} entries")
                    stack.clear()
                seen += len(raw)
                dirs = [Entry(prefix + e.name, e.name, e.st) for e in raw if stat.S_ISDIR(e.st.st_mode)]
                others = [Entry(prefix + e.name, e.name, e.st) for e in raw if not stat.S_ISDIR(e.st.st_mode)]
                yield host, dirs, others
                if dirs and depth >= max_depth:
                    self.notice(SCAN_WALK_BOUND.code, top,
                                f"folders deeper than {max_depth} levels were not scanned (first: {dirs[0].path})")
                    continue
                stack.extend((names + [d.name], d.path, depth + 1) for d in reversed(dirs))
        finally:
            for fd in cache.values():
                os.close(fd)

    def _dir_fd(self, cache: OrderedDict[tuple[str, ...], int], names: list[str]) -> int | None:
        """An O_PATH descriptor of a real folder, opened from its nearest cached ancestor."""
        key = tuple(names)
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        start = len(names)
        while start > 0 and tuple(names[:start]) not in cache:
            start -= 1
        try:
            fd = os.dup(cache[tuple(names[:start])]) if start else self._open_root()
        except OSError:
            return None
        try:
            for name in names[start:]:
                child = os.open(name, _O_PATH | _O_DIR, dir_fd=fd)
                os.close(fd)
                fd = child
        except OSError:
            os.close(fd)
            return None
        cache[key] = fd
        while len(cache) > _FD_CACHE:
            _, old = cache.popitem(last=False)
            os.close(old)
        return fd

    def files(self, top: str, *, max_depth: int | None = None, max_entries: int | None = None,
              skip_dirs: frozenset[str] | set[str] = frozenset()) -> list[Entry]:
        """Every regular file under `top` (sorted walk order), skipping folders named in `skip_dirs`."""
        out: list[Entry] = []
        for _folder, dirs, others in self.walk(top, max_depth=max_depth, max_entries=max_entries):
            dirs[:] = [d for d in dirs if d.name not in skip_dirs]
            out += [e for e in others if e.is_file]
        return out


def read_text(root: Path | str, path: str, *, kind: str = "id", limit: int | None = None, live: bool = False,
              notify: Notify | None = None) -> str | None:
    """One file's text under a root, confined like every scanner read (for host facts and callers without a RootFS)."""
    return RootFS(Path(root), live=live, notify=notify).read_text(path, kind=kind, limit=limit)
