"""Which inputs get read: folders walked with a bound, files classified, each file once.

`expand_inputs(paths)` turns what a user named (files, folders, `-`) into the files to read and
the ones skipped, each with a code and a reason, so nothing is left out silently:

- folders are walked iteratively, at most `max_depth` levels deep, in sorted order; symlinks met
  in a walk are not followed (a link to a folder could loop or lead outside what was named, as
  `grep -r` also does); a symlink named on the command line is followed (`ingest link.log`),
  unless `follow_named_links=False` (scans: nothing outside the root);
- the same file named twice (another spelling, a symlink, a hard link) is read once;
- FIFOs, sockets and devices met in a walk are never opened (opening a FIFO waits for a writer);
  named explicitly they pass when `allow_streams` (`ingest <(zcat x.gz)` is a pipe);
- every regular file is classified from its first block, exactly as FileReader decides (one
  function, decode.open_content): binary content (as `grep -I` skips it) and compression that is
  not decoded (xz, bzip2, zstd, zip, ...) are skipped with LOG-4107 after reading one block, so a
  folder of binaries costs milliseconds, not minutes of parsing garbage.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from hostwarden.collect import decode
from hostwarden.core.errors import LOG_INPUT_BINARY, LOG_INPUT_NOT_FOLLOWED, LOG_INPUT_UNREADABLE

MAX_DEPTH = 32  # folder levels below a named folder that are walked
MAX_FILES = 100_000  # files taken from one call; the rest are reported, not read
_SNIFF_BLOCK = 64 * 1024  # raw bytes read to classify (enough gzip input for SNIFF_BYTES of output)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)

Skipped = tuple[str, str, str]  # (path, error code, reason)


def classify(path: str | Path) -> str | None:
    """Why a regular file is not read (binary, undecoded compression), or None to read it.
    Raises OSError if it cannot be opened."""
    fd = os.open(path, _OPEN_FLAGS)  # O_NONBLOCK: a FIFO swapped in after the stat cannot hang us
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file"
        raw_head, _, head, _ = decode.open_content(
            lambda n: os.read(fd, n), block_bytes=_SNIFF_BLOCK, head_bytes=decode.SNIFF_BYTES,
            compressed_size=None, on_damage=lambda _exc: None)
        return decode.content_reason(raw_head, head)
    finally:
        os.close(fd)


def expand_inputs(paths: Iterable[str], *, follow_named_links: bool = True, allow_streams: bool = True,
                  max_depth: int = MAX_DEPTH, max_files: int = MAX_FILES,
                  skip_dir_names: frozenset[str] = frozenset()) -> tuple[list[str], list[Skipped]]:
    """(files to read in order, skipped inputs with code and reason); `-` (stdin) passes through."""
    walk = _Walk(max_depth, max_files, skip_dir_names)
    for raw in paths:
        if raw == "-":
            if "-" not in walk.files:
                walk.files.append(raw)
            continue
        try:
            st = os.stat(raw) if follow_named_links else os.lstat(raw)
        except FileNotFoundError:
            walk.skip(raw, LOG_INPUT_UNREADABLE.code, "no such file or directory")
            continue
        except OSError as exc:
            walk.skip(raw, LOG_INPUT_UNREADABLE.code, f"cannot read it: {exc.strerror or exc}")
            continue
        if stat.S_ISLNK(st.st_mode):
            walk.skip(raw, LOG_INPUT_NOT_FOLLOWED.code, "symlink, not followed")
        elif stat.S_ISDIR(st.st_mode):
            walk.folder(raw)
        elif stat.S_ISREG(st.st_mode):
            walk.file(raw, st)
        elif allow_streams:  # a pipe or device named on purpose; FileReader reads it as a stream
            walk.files.append(raw)
        else:
            walk.skip(raw, LOG_INPUT_NOT_FOLLOWED.code, "not a regular file")
    return walk.files, walk.skipped


class _Walk:
    def __init__(self, max_depth: int, max_files: int, skip_dir_names: frozenset[str]) -> None:
        self.max_depth, self.max_files, self.skip_dir_names = max_depth, max_files, skip_dir_names
        self.files: list[str] = []
        self.skipped: list[Skipped] = []
        self._seen: set[tuple[int, int]] = set()
        self._too_many = False

    def skip(self, path: str, code: str, reason: str) -> None:
        self.skipped.append((path, code, reason))

    def folder(self, top: str) -> None:
        """Depth-first in sorted order (the order a sorted recursive listing gives), no recursion."""
        stack: list[tuple[int, list[os.DirEntry[str]]]] = [(0, self._entries(top))]
        while stack:
            depth, entries = stack[-1]
            if not entries:
                stack.pop()
                continue
            entry = entries.pop()
            try:
                if entry.is_symlink():
                    self.skip(entry.path, LOG_INPUT_NOT_FOLLOWED.code, "symlink, not followed (name it to read it)")
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name in self.skip_dir_names:
                        continue
                    if depth + 1 > self.max_depth:
                        self.skip(entry.path, LOG_INPUT_NOT_FOLLOWED.code, f"folder deeper than {self.max_depth} levels")
                    else:
                        stack.append((depth + 1, self._entries(entry.path)))
                elif entry.is_file(follow_symlinks=False):
                    self.file(entry.path, entry.stat(follow_symlinks=False))
                else:
                    self.skip(entry.path, LOG_INPUT_NOT_FOLLOWED.code, "not a regular file (FIFO, socket or device)")
            except OSError as exc:
                self.skip(entry.path, LOG_INPUT_UNREADABLE.code, f"cannot read it: {exc.strerror or exc}")

    def _entries(self, folder: str) -> list[os.DirEntry[str]]:
        """A folder's entries, last name first (popped from the end in name order)."""
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name, reverse=True)
        except OSError as exc:
            self.skip(folder, LOG_INPUT_UNREADABLE.code, f"cannot list it: {exc.strerror or exc}")
            return []

    def file(self, path: str, st: os.stat_result) -> None:
        ident = (st.st_dev, st.st_ino)
        if ident in self._seen:
            return  # the same file under another name: read once
        self._seen.add(ident)
        if len(self.files) >= self.max_files:
            if not self._too_many:
                self._too_many = True
                self.skip(path, LOG_INPUT_UNREADABLE.code, f"more than {self.max_files} files: this one and the rest "
                                                           "were not read")
            return
        try:
            why = classify(path)
        except OSError as exc:
            self.skip(path, LOG_INPUT_UNREADABLE.code, f"cannot read it: {exc.strerror or exc}")
            return
        if why is None:
            self.files.append(path)
        else:
            self.skip(path, LOG_INPUT_BINARY.code, why)
