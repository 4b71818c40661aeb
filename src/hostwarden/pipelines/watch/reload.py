"""Hot reload of rule files: notice a change, build the whole new rule set, hand it over or refuse.

Change detection polls `os.stat` of every rule file (path, size, mtime, inode) once per interval:
portable, no new dependency, and a rule folder is small, so a poll costs well under a millisecond
per hundred files. A reload is all-or-nothing: the new RuleSet is built completely first (parsed,
references resolved, matchers compiled) and only then returned for the engine to swap in, so a
half-written or broken file never leaves a half-loaded set running. A load that brings an error
the running set did not have is refused with CSA-5001 naming the file and the reason; the running
set stays. (A file that was already broken at start does not block later reloads.)
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from hostwarden.core.errors import CSA_RELOAD_FAILED, HostwardenError
from hostwarden.detect.ruleset import RuleSet, load_rules, rule_files

Stamp = tuple[tuple[str, int, int, int], ...]


def _stamp(paths: Sequence[Path]) -> Stamp:
    """Identity of the rule files as they are now: a change to any of them changes it."""
    out: list[tuple[str, int, int, int]] = []
    for path in paths:
        try:
            files = rule_files([path])
        except HostwardenError:
            out.append((str(path), -1, -1, -1))  # missing: its return is a change too
            continue
        for f in files:
            try:
                st = os.stat(f)
            except OSError:
                continue
            out.append((str(f), st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(out)


def ruleset_version(paths: Sequence[Path]) -> str:
    """Short content hash of every rule file: which rule set is running, for `status`."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            files = rule_files([path])
        except HostwardenError:
            continue
        for f in files:
            digest.update(str(f).encode() + b"\0")
            try:
                digest.update(f.read_bytes())
            except OSError:
                digest.update(b"<unreadable>")
    return digest.hexdigest()[:12]


class RuleReloader:
    """Loads the rule set once, then `poll()` returns a new one whenever the files changed."""

    def __init__(self, paths: Sequence[Path], *, overrides: Mapping[str, Mapping[str, Any]] | None = None,
                 interval: float = 1.0) -> None:
        self.paths = [Path(p) for p in paths]
        self.overrides = overrides
        self.interval = interval
        self.version = ""
        self.last_reload: float | None = None  # wall-clock time of the last successful reload
        self.last_error: str | None = None  # CSA-5001 text of the last refused reload, until one succeeds
        self.reloads = 0
        self._stamp: Stamp = ()
        self._next = 0.0

    def load(self) -> RuleSet:
        """The initial rule set (errors in it are reported by the caller, not fatal)."""
        self._stamp = _stamp(self.paths)
        ruleset = load_rules(self.paths, overrides=self.overrides)
        self.version = ruleset_version(self.paths)
        self._next = time.monotonic() + self.interval
        return ruleset

    def poll(self, current: RuleSet, *, force: bool = False) -> RuleSet | None:
        """A complete new rule set if the files changed since the last look, else None.

        Raises CSA-5001 (and remembers it in `last_error`) when the changed files do not load
        cleanly; the caller keeps running `current`.
        """
        now = time.monotonic()
        if not force and now < self._next:
            return None
        self._next = now + self.interval
        stamp = _stamp(self.paths)
        if stamp == self._stamp and not force:
            return None
        self._stamp = stamp
        try:
            new = load_rules(self.paths, overrides=self.overrides)
        except HostwardenError as exc:
            self._refuse(exc.message)
        fresh = [e for e in new.errors if e not in current.errors]
        if fresh:
            file, title, reason = fresh[0]
            more = f" (and {len(fresh) - 1} more)" if len(fresh) > 1 else ""
            self._refuse(f"{file}: {title}: {reason}".replace(": :", ":") + more)
        self.version = ruleset_version(self.paths)
        self.last_error = None
        self.last_reload = time.time()
        self.reloads += 1
        return new

    def _refuse(self, why: str) -> NoReturn:
        message = f"rule reload refused, previous rule set kept: {why}"
        self.last_error = f"{CSA_RELOAD_FAILED.code}: {message}"
        raise HostwardenError(CSA_RELOAD_FAILED, message)
