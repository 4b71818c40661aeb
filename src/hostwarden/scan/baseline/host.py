"""Read-only access to a host's files under a scan root, with the small parsers checks share.

Every path a policy names is a host path (`/etc/ssh/sshd_config`); every access goes through the
scan's RootFS (scan/rootfs.py), so links resolve inside the root, FIFOs and devices are refused
and reads are capped. Reads are cached so a hundred checks on one file read it once.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from functools import cached_property
from pathlib import Path

from hostwarden.scan.base import ScanContext
from hostwarden.scan.rootfs import Entry, RootFS

PACKAGE_DB = ("/var/lib/dpkg/status",)  # read with the package-database limit, not the config one


class Host:
    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        self.root = Path(ctx.root)
        self.live = bool(ctx.live)
        self.fs: RootFS = ctx.fs
        self._text: dict[str, str | None] = {}

    def path(self, host_path: str) -> Path:
        """The path under the root as text (for display and messages; never opened directly)."""
        return self.root / host_path.lstrip("/")

    def host_path(self, local: Path) -> str:
        return "/" + local.relative_to(self.root).as_posix()

    def read(self, host_path: str) -> str | None:
        """File text, or None when it is absent, refused or unreadable (a check then decides what that means).

        Symlinks are followed as the host would follow them, inside the root (RootFS): a disk's
        `/etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf` is read, an absolute `/etc/shadow ->
        /etc/shadow` planted on a disk reads the disk's shadow, never this machine's.
        """
        if host_path not in self._text:
            kind = "package_db" if host_path in PACKAGE_DB else "config"
            self._text[host_path] = self.fs.read_text(host_path, kind=kind)
        return self._text[host_path]

    def expand(self, pattern: str) -> list[str]:
        """Host paths matching a glob (or the path itself), sorted, files only."""
        if not glob.has_magic(pattern):
            return [pattern] if self.fs.is_file(pattern) else []
        return [p for p in self.fs.glob(pattern) if self.fs.is_file(p)]

    def lstat(self, host_path: str) -> os.stat_result | None:
        return self.fs.lstat(host_path)

    def is_file(self, host_path: str) -> bool:
        return self.fs.is_file(host_path)

    def is_dir(self, host_path: str) -> bool:
        return self.fs.is_dir(host_path)

    def is_symlink(self, host_path: str) -> bool:
        return self.fs.is_symlink(host_path)

    def readlink(self, host_path: str) -> str | None:
        return self.fs.readlink(host_path)

    def entries(self, host_path: str) -> list[Entry]:
        return self.fs.entries(host_path)

    def _table(self, host_path: str) -> dict[int, str]:
        table: dict[int, str] = {}
        for line in (self.read(host_path) or "").splitlines():
            parts = line.split(":")
            if len(parts) >= 3 and parts[2].isdigit():
                table.setdefault(int(parts[2]), parts[0])
        return table

    @cached_property
    def ownership_preserved(self) -> bool:
        """False when this root is a copy that kept no ownership.

        A git checkout, or an archive unpacked by an unprivileged user, gives every file to
        whoever made the copy; owners read there describe the copier, not the host. Detected
        as: not the live host, scanned by a non-root user, who owns the root's /etc.
        """
        uid = os.geteuid()
        if self.live or uid == 0:
            return True
        st = self.fs.stat("/etc") if self.fs.is_dir("/etc") else self.fs.stat("/")
        return st is None or st.st_uid != uid

    @property
    def ownership_note(self) -> str:
        return f"this copy of the root does not keep file owners (its files belong to uid {os.geteuid()}, who scans it)"

    @cached_property
    def users(self) -> dict[int, str]:
        return self._table("/etc/passwd")

    @cached_property
    def groups(self) -> dict[int, str]:
        return self._table("/etc/group")

    @cached_property
    def dpkg_status(self) -> dict[str, str]:
        """Package name → dpkg Status line, from var/lib/dpkg/status."""
        found: dict[str, str] = {}
        for stanza in (self.read("/var/lib/dpkg/status") or "").split("\n\n"):
            name = status = ""
            for line in stanza.splitlines():
                if line.startswith("Package:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("Status:"):
                    status = line.split(":", 1)[1].strip()
            if name:
                found[name] = status
        return found

    @cached_property
    def has_dpkg(self) -> bool:
        return self.read("/var/lib/dpkg/status") is not None

    def installed(self, package: str) -> bool:
        return self.dpkg_status.get(package, "").endswith(" installed")

    @cached_property
    def package_files(self) -> set[str]:
        """Every path a dpkg package owns (from var/lib/dpkg/info/*.list)."""
        return dpkg_owned_files(self.fs)


def dpkg_owned_files(fs: RootFS) -> set[str]:
    """Every path listed in var/lib/dpkg/info/*.list under the root (read through the resolver)."""
    owned: set[str] = set()
    for entry in fs.entries("/var/lib/dpkg/info"):
        if entry.name.endswith(".list"):
            owned.update(x for x in (fs.read_text(entry.path, kind="package_db") or "").splitlines() if x)
    return owned


def usr_aliases(path: str) -> list[str]:
    """The path and its merged-/usr twin: dpkg may list /sbin/x for what lives at /usr/sbin/x."""
    for short in ("/bin/", "/sbin/", "/lib/", "/lib64/"):
        if path.startswith("/usr" + short):
            return [path, path[4:]]
        if path.startswith(short):
            return [path, "/usr" + path]
    return [path]


def config_values(host: Host, file: str, *, include: str | None = None, stop_at: str | None = None,
                  _depth: int = 0) -> list[tuple[str, str, str, int]]:
    """(key lowercased, value, file, line) in the order the daemon reads them, following Include.

    Mirrors sshd: an `Include` glob is expanded in place (relative paths are taken from the
    including file's folder), and the global section ends at the first `Match` block.
    """
    out: list[tuple[str, str, str, int]] = []
    text = host.read(file)
    if text is None or _depth > 8:
        return out
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        m = re.match(r"^(\S+?)\s*(?:=|\s)\s*(.*)$", line)
        if not m:
            continue
        key, value = m.group(1).lower(), m.group(2).strip().strip('"')
        if stop_at and key == stop_at.lower():
            break
        if include and key == include.lower():
            for pattern in value.split():
                if not pattern.startswith("/"):
                    pattern = str(Path(file).parent / pattern)
                for inc in host.expand(pattern):
                    out.extend(config_values(host, inc, include=include, stop_at=stop_at, _depth=_depth + 1))
            continue
        out.append((key, value, file, lineno))
    return out


def name_matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)
