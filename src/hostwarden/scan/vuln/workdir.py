"""Temporary folders for unpacked images, removed however a scan ends.

`image_workdir()` removes its folder on a normal end and on an exception; with
`install_cleanup_handlers()` (called once by the command, from the main thread) also on
SIGTERM and SIGINT; and at interpreter exit. A SIGKILL cannot be caught: `remove_stale_workdirs()`,
called when a command starts, removes what a killed scan left once it is old and its process is
gone. Removal never follows links and never recurses (safefiles.remove_tree), so a 1,500-deep
image tree is removed too.
"""

from __future__ import annotations

import atexit
import os
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hostwarden.scan.safefiles import remove_tree

WORKDIR_PREFIX = "hostwarden-image-"
STALE_PREFIXES = ("hostwarden-image-", "hostwarden-sbom-", "hostwarden-rpmdb-")
_LIVE: set[Path] = set()
_OWNER_FILE = ".hostwarden-owner"


def _remove_live() -> None:
    for path in list(_LIVE):
        remove_tree(path)
        _LIVE.discard(path)


atexit.register(_remove_live)


@contextmanager
def image_workdir(prefix: str = WORKDIR_PREFIX, base: Path | None = None) -> Iterator[Path]:
    """A private temporary folder for unpacking an image, removed on exit, exception or SIGTERM/SIGINT.

    The folder records its owner's pid, so `remove_stale_workdirs` never removes the folder of
    a scan that is still running.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    (path / _OWNER_FILE).write_text(str(os.getpid()))
    _LIVE.add(path)
    try:
        yield path
    finally:
        _LIVE.discard(path)
        remove_tree(path)


def install_cleanup_handlers() -> None:
    """Remove live extraction folders on SIGTERM and SIGINT, then let the signal do what it did before.

    Call once from the main thread of a command that unpacks images (signal handlers can only
    be set there). SIGKILL cannot be caught: `remove_stale_workdirs` handles what it leaves.
    """
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)

        def handler(num: int, frame: Any, previous: Any = previous) -> None:
            _remove_live()
            if callable(previous):
                previous(num, frame)
                return
            signal.signal(num, signal.SIG_DFL if previous in (None, signal.SIG_DFL) else previous)
            os.kill(os.getpid(), num)

        signal.signal(signum, handler)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_workdirs(max_age_hours: float = 24.0, base: Path | None = None,
                          prefixes: tuple[str, ...] = STALE_PREFIXES) -> list[Path]:
    """Remove our temporary folders that a killed scan left behind; returns what was removed.

    A folder is stale when it is older than `max_age_hours` (by modification time), belongs to
    this user, is a real folder (not a link), and its recorded owner process is gone.
    """
    folder = Path(base or tempfile.gettempdir())
    cutoff = time.time() - max_age_hours * 3600
    removed: list[Path] = []
    try:
        candidates = [e for e in os.scandir(folder) if e.name.startswith(prefixes)]
    except OSError:
        return removed
    for entry in candidates:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mtime > cutoff:
            continue
        try:
            owner = int((Path(entry.path) / _OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            owner = None
        if owner is not None and owner != os.getpid() and _alive(owner):
            continue
        remove_tree(entry.path)
        removed.append(Path(entry.path))
    return removed
