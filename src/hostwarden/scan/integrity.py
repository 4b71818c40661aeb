"""File integrity monitoring: hash and stat the configured paths, report what changed since last scan.

SHA-256 by default; SM3 (GB/T 32905, for MLPS users) when `options["fim_hash"] = "sm3"`, through
OpenSSL's hashlib or the `cryptography` package. For a changed file owned by a Debian package the
MD5 the package recorded (md5sums, or Conffiles in dpkg status) tells an upgrade (file matches
what the package now says) from tampering (file matches nothing the package installed).

Every scan, the first one included, also verifies package files against those MD5s the way
`debsums` does: a program that no longer matches the package that installed it (a trojaned `ps`
that hides a miner) is reported at once, without waiting for a previous snapshot to differ from.
Conffiles are left out (administrators edit them) and so are dpkg diversions;
`options["fim_verify_packages"] = False` turns the check off.

Every read goes through the root's resolver (scan/rootfs.py): the walk never follows a link,
a FIFO or device is recorded by its metadata and never opened, and a file larger than
`fim_max_bytes` is recorded by size without a hash (SCAN-9031) instead of being read for hours.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from hostwarden.core.errors import SCAN_INPUT_TOO_LARGE
from hostwarden.scan.base import ScanContext, finding
from hostwarden.scan.baseline.host import usr_aliases
from hostwarden.scan.integrity_state import state_store
from hostwarden.scan.rootfs import RootFS
from hostwarden.scan.runtime_pacer import Pacer

DEFAULT_PATHS = ["/etc", "/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/lib/systemd", "/root/.ssh"]
BINARY_DIRS = ("/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/lib/systemd/")
CHUNK = 1 << 20
MAX_HASH_BYTES = 4 << 30  # a file larger than this is recorded by size only


def hasher(name: str) -> Any:
    """A fresh hash object for `sha256` or `sm3` (OpenSSL first, then `cryptography`)."""
    if name == "sha256":
        return hashlib.sha256()
    if name != "sm3":
        raise ValueError(f"unknown hash {name!r}; use sha256 or sm3")
    try:
        return hashlib.new("sm3")
    except ValueError:
        from cryptography.hazmat.primitives import hashes

        class _Sm3:
            def __init__(self) -> None:
                self._h = hashes.Hash(hashes.SM3())

            def update(self, data: bytes) -> None:
                self._h.update(data)

            def hexdigest(self) -> str:
                return self._h.finalize().hex()

        return _Sm3()


def digest(source: Path | IO[bytes], algo: str, pacer: Pacer | None = None) -> str:
    return digests(source, algo, pacer)[0]


def digests(source: Path | IO[bytes], algo: str, pacer: Pacer | None = None,
            with_md5: bool = False) -> tuple[str, str | None]:
    """The `algo` hash of an open file (or of a path outside any scan root), and its MD5 too when
    asked (package verification), in one read."""
    if isinstance(source, Path):
        with source.open("rb") as fh:
            return digests(fh, algo, pacer, with_md5)
    h = hasher(algo)
    md5 = hashlib.md5(usedforsecurity=False) if with_md5 else None
    while block := source.read(CHUNK):
        h.update(block)
        if md5 is not None:
            md5.update(block)
        if pacer:
            pacer.tick()
    return h.hexdigest(), md5.hexdigest() if md5 is not None else None


def package_md5s(root: Path | RootFS) -> dict[str, tuple[str, str, bool]]:
    """host path → (md5, package, is_conffile) from dpkg's md5sums files and the Conffiles in status."""
    fs = root if isinstance(root, RootFS) else RootFS(Path(root))
    table: dict[str, tuple[str, str, bool]] = {}
    for f in fs.entries("/var/lib/dpkg/info"):
        if not f.name.endswith(".md5sums"):
            continue
        pkg = f.name[: -len(".md5sums")].split(":")[0]
        for line in (fs.read_text(f.path, kind="package_db") or "").splitlines():
            md5, _, rel = line.partition("  ")
            if rel:
                table["/" + rel.lstrip("/")] = (md5.strip(), pkg, False)
    status = fs.read_text("/var/lib/dpkg/status", kind="package_db")
    if status is not None:
        pkg, in_conf = "", False
        for line in status.splitlines():
            if line.startswith("Package:"):
                pkg, in_conf = line.split(":", 1)[1].strip(), False
            elif line.startswith("Conffiles:"):
                in_conf = True
            elif in_conf and line.startswith(" "):
                parts = line.split()
                if len(parts) >= 2:
                    table[parts[0]] = (parts[1], pkg, True)
            else:
                in_conf = False
    return table


PackageFile = tuple[str, str, bool]  # (md5, package, is_conffile)


def owner_of(table: dict[str, PackageFile], path: str) -> PackageFile | None:
    """The package entry for a host path, also under its merged-/usr twin (dpkg lists /bin/ps for /usr/bin/ps)."""
    for alias in usr_aliases(path):
        if alias in table:
            return table[alias]
    return None


def diversions(root: Path | RootFS) -> set[str]:
    """Paths dpkg-divert moved aside: what lies there is not what the package's md5sums describe."""
    fs = root if isinstance(root, RootFS) else RootFS(Path(root))
    lines = (fs.read_text("/var/lib/dpkg/diversions", kind="package_db") or "").splitlines()
    return {line for i, line in enumerate(lines) if i % 3 in (0, 1) and line.startswith("/")}


def _record(fs: RootFS, host: str, st: Any, algo: str, pacer: Pacer, max_bytes: int,
            md5s: dict[str, str] | None) -> dict[str, Any] | None:
    """What the baseline keeps of one file: metadata, and its hash or its link target.

    With `md5s`, the file's MD5 is computed in the same read and stored there (package verification).
    """
    entry: dict[str, Any] = {"mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size}
    if stat.S_ISLNK(st.st_mode):
        entry["link"] = fs.readlink(host)
        return entry if entry["link"] is not None else None
    if not stat.S_ISREG(st.st_mode):
        return None
    if st.st_size > max_bytes:
        fs.notice(SCAN_INPUT_TOO_LARGE.code, host, f"{st.st_size} bytes, over the {max_bytes}-byte hashing limit; "
                  "recorded by size and mode only")
        entry["hash"] = f"unhashed:size={st.st_size}"
        return entry
    handle = fs.open(host, follow=False)
    if handle is None:
        return None
    try:
        with handle:
            entry["hash"], md5 = digests(handle, algo, pacer, md5s is not None)
    except OSError:
        return None
    if md5 is not None and md5s is not None:
        md5s[host] = md5
    return entry


def snapshot(root: Path | RootFS, paths: list[str], algo: str, pacer: Pacer,
             md5_for: Callable[[str], bool] | None = None, md5s: dict[str, str] | None = None,
             max_bytes: int = MAX_HASH_BYTES) -> dict[str, dict[str, Any]]:
    """Mode, owner, size and hash of every file under `paths`; MD5s of the files `md5_for` picks go to `md5s`."""
    fs = root if isinstance(root, RootFS) else RootFS(Path(root))

    def record(host: str, st: Any) -> dict[str, Any] | None:
        want_md5 = md5_for is not None and md5s is not None and md5_for(host)
        return _record(fs, host, st, algo, pacer, max_bytes, md5s if want_md5 else None)

    files: dict[str, dict[str, Any]] = {}
    for base in paths:
        top = fs.lstat(base)
        if top is None or stat.S_ISLNK(top.st_mode):
            continue
        if not stat.S_ISDIR(top.st_mode):
            entry = record("/" + base.strip("/"), top)
            if entry is not None:
                files["/" + base.strip("/")] = entry
            continue
        for _folder, _dirs, others in fs.walk(base):
            for e in others:
                entry = record(e.path, e.st)
                if entry is not None:
                    files[e.path] = entry
                    pacer.tick()
    return files


def _md5(fs: RootFS, host: str) -> str | None:
    """MD5 of a file as dpkg records it (streamed, through the resolver); None when unreadable."""
    handle = fs.open(host, follow=False)
    if handle is None:
        return None
    h = hashlib.md5(usedforsecurity=False)
    with handle:
        while block := handle.read(CHUNK):
            h.update(block)
    return h.hexdigest()


class IntegrityScanner:
    name = "integrity"

    def __init__(self) -> None:
        self.summary: dict[str, Any] = {}

    def scan(self, ctx: ScanContext) -> list[dict[str, Any]]:
        fs = ctx.fs
        algo = str(ctx.options.get("fim_hash", "sha256")).lower()
        paths = list(ctx.options.get("fim_paths", DEFAULT_PATHS))
        pacer = Pacer.from_options(ctx.options)
        pkgs = package_md5s(fs)
        diverted = diversions(fs)
        md5s: dict[str, str] = {}

        def verifiable(path: str) -> bool:
            owner = owner_of(pkgs, path)
            return owner is not None and not owner[2] and path not in diverted

        verify = bool(ctx.options.get("fim_verify_packages", True)) and bool(pkgs)
        with pacer.part("hash"):
            current = snapshot(fs, paths, algo, pacer, verifiable if verify else None, md5s,
                               int(ctx.options.get("fim_max_bytes", MAX_HASH_BYTES)))
        store = state_store(ctx)
        previous = store.load(f"integrity-{algo}") if store else None
        out: list[dict[str, Any]] = []
        if previous is not None:
            with pacer.part("compare"):
                out = self._drift(fs, previous.get("files", {}), current, pkgs, md5s, diverted)
        reported = {f.fields.get("file.path") for f in out}
        mismatched = 0
        for path, md5 in sorted(md5s.items()):
            owner = owner_of(pkgs, path)
            if owner is None or md5 == owner[0]:
                continue
            mismatched += 1
            if path not in reported:
                out.append(self._finding("tampered", path, "L1", None, current[path], owner, md5=md5,
                                         check="package-verification"))
        if store:
            store.save(f"integrity-{algo}", {"algo": algo, "paths": paths, "files": current})
        self.summary = {"files": len(current), "hash": algo, "baseline": previous is None,
                        "package_files_verified": len(md5s), "package_files_mismatched": mismatched,
                        **pacer.report()}
        return out

    def _drift(self, fs: RootFS, old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]],
               pkgs: dict[str, PackageFile], md5s: dict[str, str], diverted: set[str]) -> list[dict[str, Any]]:
        out = []
        for path in sorted(set(old) | set(new)):
            before, after = old.get(path), new.get(path)
            if before == after:
                continue
            owner = owner_of(pkgs, path) if path not in diverted else None
            if before is None:
                grade = "L2" if path.startswith(BINARY_DIRS) and owner is None else "L3"
                out.append(self._finding("added", path, grade, None, after, owner))
                continue
            if after is None:
                out.append(self._finding("removed", path, "L3", before, None, owner))
                continue
            content = before.get("hash") != after.get("hash") or before.get("link") != after.get("link")
            if not content:
                suid = after["mode"] & (stat.S_ISUID | stat.S_ISGID) and not before["mode"] & (stat.S_ISUID | stat.S_ISGID)
                out.append(self._finding("metadata-changed", path, "L1" if suid else "L2", before, after, owner))
                continue
            verdict, grade = "changed", "L2"
            if owner is not None and "hash" in after:
                md5 = md5s.get(path) or _md5(fs, path)
                if md5 == owner[0]:
                    verdict, grade = "package-change", "L3"
                elif not owner[2]:
                    verdict, grade = "tampered", "L1"
            out.append(self._finding(verdict, path, grade, before, after, owner))
        return out

    def _finding(self, verdict: str, path: str, grade: str, before: dict[str, Any] | None,
                 after: dict[str, Any] | None, owner: PackageFile | None, md5: str | None = None,
                 check: str = "drift") -> dict[str, Any]:
        what = {"added": "file added", "removed": "file removed", "changed": "file changed",
                "metadata-changed": "file permissions/ownership changed", "package-change": "file changed by package update",
                "tampered": "package file tampered (matches no installed package)"}[verdict]
        fix = {"tampered": f"Reinstall the package (`apt-get install --reinstall {owner[1] if owner else 'PKG'}`) and investigate.",
               "package-change": "None needed if the upgrade was expected."}.get(verdict, "Confirm the change was authorised.")
        evidence: dict[str, Any] = {"verdict": verdict, "check": check, "before": before, "after": after,
                                    "package": owner[1] if owner else None, "conffile": owner[2] if owner else None}
        if md5 is not None and owner is not None:
            evidence.update({"md5": md5, "package_md5": owner[0]})
        return finding(
            scanner=self.name, kind="file", severity=grade, title=f"{what}: {path}", evidence=evidence,
            **{"rule.id": f"integrity.{verdict}", "rule.name": what, "event.action": f"file-{verdict}",
               "file.path": path, "hostwarden.fix": fix, **({"package.name": owner[1]} if owner else {})},
        )
