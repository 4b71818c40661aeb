"""Small file primitives for text someone else controls: bounded, non-blocking, never recursive.

Kept apart from the resolver (rootfs.py) because they also serve files a user names on the
command line and our own temporary folders, which are not under a scan root.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

_READ_BLOCK = 64 << 10  # /proc/sys answers a 4 MiB read with ENOMEM: read in blocks
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

# statfs f_type of kernel file systems whose files are views of the running kernel, not data.
PSEUDO_FS = frozenset({
    0x9FA0,  # proc
    0x62656572,  # sysfs
    0x64626720,  # debugfs
    0x74726163,  # tracefs
    0x73636673,  # securityfs
    0x27E0EB,  # cgroup
    0x63677270,  # cgroup2
    0xCAFE4A11,  # bpf
    0x62656570,  # configfs
    0xDE5E81E4,  # efivarfs
    0x6165676C,  # pstore
    0x42494E4D,  # binfmt_misc
    0x65735543,  # fusectl
    0x1CD1,  # devpts
})


def _libc_fstatfs() -> Callable[[int], int | None]:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fstatfs = libc.fstatfs
    except (OSError, AttributeError):  # no libc to ask: fall back to the device numbers of /proc and /sys
        devs = set()
        for mount in ("/proc", "/sys"):
            try:
                devs.add(os.stat(mount).st_dev)
            except OSError:
                continue
        return lambda fd: 0x9FA0 if os.fstat(fd).st_dev in devs else None
    def magic(fd: int) -> int | None:
        buf = ctypes.create_string_buffer(512)  # struct statfs: 120 bytes on 64-bit Linux, f_type first
        if fstatfs(fd, buf) != 0:
            return None
        return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF

    return magic


_fs_magic = _libc_fstatfs()


def is_pseudo_fd(fd: int) -> bool:
    """True for a descriptor on /proc, /sys and their kin (see PSEUDO_FS)."""
    return _fs_magic(fd) in PSEUDO_FS


def file_kind(mode: int) -> str:
    """What an lstat mode is, in words for a notice."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISLNK(mode):
        return "symlink"
    return {stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket", stat.S_IFCHR: "character device",
            stat.S_IFBLK: "block device"}.get(stat.S_IFMT(mode), "special file")


def read_capped(handle: IO[bytes], size: int) -> bytes:
    """Up to `size` bytes, read in blocks (one huge read of a /proc/sys file fails with ENOMEM)."""
    buf = bytearray()
    while len(buf) < size:
        chunk = handle.read(min(_READ_BLOCK, size - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def read_regular_file(path: Path | str, limit: int) -> bytes:
    """A file a user named on the command line: regular files only, never blocking, at most `limit` bytes.

    Raises OSError (ENODEV-like, with a reason) for FIFOs, devices and sockets (`/dev/zero`
    would never end; a FIFO without a writer would block) and ValueError past the limit.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | _O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"a {file_kind(st.st_mode)}, not a regular file", str(path))
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = read_capped(handle, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"{path}: larger than the {limit}-byte limit")
    return data


def remove_tree(path: Path | str) -> None:
    """Delete a file or folder tree: never through a link, never recursively, whatever its depth.

    shutil.rmtree recurses once per level (RecursionError on 1,500 nested folders) and a path
    string per entry grows past PATH_MAX; here every subfolder is first moved up to the top
    folder, so no path is ever longer than two names below it. Errors are skipped (best effort,
    like `ignore_errors=True`): this cleans our own temporary folders and image whiteouts.
    """
    top = str(path)
    try:
        st = os.lstat(top)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        _quiet(os.unlink, top)
        return
    moved = 0
    pending = [top]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            entries = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if not is_dir:
                _quiet(os.unlink, entry.path)
            elif folder == top:
                pending.append(entry.path)
            else:
                for _attempt in range(100):  # a name the tree itself already uses is skipped
                    moved += 1
                    flat = os.path.join(top, f".hw-rm-{moved}")
                    if not os.path.lexists(flat) and _quiet(os.rename, entry.path, flat):
                        pending.append(flat)
                        break
        if folder != top:
            _quiet(os.rmdir, folder)
    _quiet(os.rmdir, top)


def _quiet(fn: Callable[..., Any], *args: Any) -> bool:
    try:
        fn(*args)
    except OSError:
        return False
    return True
