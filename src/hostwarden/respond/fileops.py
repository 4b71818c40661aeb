"""The file operations actions may use — and the reason no action can delete data.

Actions get this object, not `os`: it can read, write atomically, and move a file while
keeping every byte (a cross-filesystem move copies, fsyncs and verifies the hash before the
source goes). The only removal it offers is `retire_generated`, for a file hostwarden itself
generated, and only while its content is still exactly what hostwarden wrote.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

from hostwarden.core.errors import RESP_RESTORE_CONFLICT, RESP_TARGET_INVALID, HostwardenError
from hostwarden.respond.util import atomic_write, fsync_dir, sha256_hex

CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


class FileOps:
    def __init__(self, fsync: bool = True) -> None:
        self.fsync = fsync

    @staticmethod
    def read_bytes(path: Path) -> bytes | None:
        """The file's content, or None when it does not exist."""
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    def write_atomic(self, path: Path, data: bytes, *, mode: int = 0o644) -> None:
        atomic_write(path, data, mode=mode, fsync=self.fsync)

    def move(self, src: Path, dst: Path, expected_sha256: str | None = None) -> None:
        """Move a regular file without losing a byte: `dst` must not exist; across
        filesystems the copy is fsynced and hashed before `src` is unlinked."""
        src, dst = Path(src), Path(dst)
        if os.path.lexists(dst):
            raise HostwardenError(RESP_RESTORE_CONFLICT, f"{dst} already exists; nothing was overwritten")
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)  # same filesystem: a second name first, then drop the first
            os.unlink(src)
            if self.fsync:
                fsync_dir(dst.parent)
                fsync_dir(src.parent)
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):  # then copy
                raise HostwardenError(RESP_TARGET_INVALID, f"cannot move {src}: {exc.strerror}") from exc
        tmp = dst.with_name(f".{dst.name}.partial")
        shutil.copyfile(src, tmp, follow_symlinks=False)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        digest = file_sha256(tmp)
        if expected_sha256 is not None and digest != expected_sha256:
            os.unlink(tmp)  # our own partial copy, never user data
            raise HostwardenError(RESP_RESTORE_CONFLICT, f"{src} changed while being moved (hash differs)")
        os.rename(tmp, dst)
        if self.fsync:
            fsync_dir(dst.parent)
        if file_sha256(src) != digest:
            raise HostwardenError(RESP_RESTORE_CONFLICT, f"{src} changed while being moved; both copies kept")
        os.unlink(src)

    def retire_generated(self, path: Path, written: bytes) -> bool:
        """Remove a file hostwarden generated, only if it still holds exactly `written`
        (anything else in it is someone's data and stays). Returns whether it was removed."""
        current = self.read_bytes(path)
        if current is None:
            return True
        if sha256_hex(current) != sha256_hex(written):
            return False
        os.unlink(path)
        return True
