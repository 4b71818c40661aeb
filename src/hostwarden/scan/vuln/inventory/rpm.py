"""Installed rpm packages: rpmdb.sqlite decoded by hand, the `rpm` binary as cross-check and fallback.

Where the database lives: `var/lib/rpm` (RHEL 8/9, Rocky, Alma, Mageia) or
`usr/lib/sysimage/rpm` (Fedora ≥ 36, openSUSE, RHEL 10). Formats:

* `rpmdb.sqlite` (rpm ≥ 4.16): read here with the stdlib sqlite3 module and `rpmheader`.
  The file is copied (with its `-wal`) to a temporary folder first, so a live database is
  never locked or written to, and committed transactions still sitting in the WAL are seen.
* `Packages` (BerkeleyDB hash, RHEL ≤ 8, CentOS 7): read here with `bdb` (hash pages and
  overflow chains), the values decoded like the sqlite blobs.
* `Packages.db` (ndb, older SUSE): not decoded here. When an `rpm` binary is installed it is
  asked to read it (`rpm --root R --dbpath D -qa`); otherwise the scan says so with SCAN-9013
  instead of silently reporting nothing. The binary is also the fallback for a BerkeleyDB
  variant the decoder refuses (btree, checksummed pages), with its read-only `bdb_ro` backend.

When the binary is present and a database was decoded, `rpm -qa` is run as a
cross-check; a disagreement becomes a SCAN-9013 notice naming the packages that differ.

Versions are `[epoch:]version-release` (rpm's EVR, what OSV rpm ecosystems use); the source
package (name, version-release) comes from SOURCERPM, with the binary's epoch, because distro
advisories are per source package. `gpg-pubkey` pseudo-packages (imported signing keys) are
skipped: they are not software.
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hostwarden.scan.rootfs import RootFS
from hostwarden.scan.vuln.inventory import bdb
from hostwarden.scan.vuln.inventory import rpmheader as rh
from hostwarden.scan.vuln.inventory.model import InventoryError, Package
from hostwarden.scan.vuln.inventory.ospkg import OsInfo

DB_DIRS = ("var/lib/rpm", "usr/lib/sysimage/rpm")
MAX_DB_BYTES = 1 << 30
_WANTED = frozenset({rh.NAME, rh.VERSION, rh.RELEASE, rh.EPOCH, rh.ARCH, rh.SOURCERPM, rh.VENDOR, rh.MODULARITYLABEL})
_QUERY_FORMAT = r"%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\n"
SKIP_NAMES = frozenset({"gpg-pubkey"})


def rpm_ecosystem(os_info: OsInfo | None) -> str:
    """The OSV ecosystem of an rpm distribution release, as osv.dev names them.

    `Rocky Linux:9`, `AlmaLinux:9`, `Red Hat:9` (OSV's Red Hat records add a CPE-like suffix the
    matcher compares by prefix), `openSUSE:Leap 15.5`, `openSUSE:Tumbleweed`,
    `SUSE:Linux Enterprise Server 15 SP5`, `Mageia:9`. A release OSV does not cover (Fedora,
    CentOS, Amazon Linux) keeps its own name so it is listed and put in the SBOM, never matched
    against another distribution's advisories.
    """
    if os_info is None:
        return "rpm"
    major = os_info.version_id.split(".")[0]
    if os_info.id == "rocky":
        return f"Rocky Linux:{major}"
    if os_info.id == "almalinux":
        return f"AlmaLinux:{major}"
    if os_info.id == "rhel":
        return f"Red Hat:{major}"
    if os_info.id == "opensuse-leap":
        return f"openSUSE:Leap {os_info.version_id}"
    if os_info.id == "opensuse-tumbleweed":
        return "openSUSE:Tumbleweed"
    if os_info.id in ("sles", "sled", "sles_sap"):
        sp = os_info.version_id.split(".")
        suffix = f" SP{sp[1]}" if len(sp) > 1 and sp[1] != "0" else ""
        return f"SUSE:Linux Enterprise Server {sp[0]}{suffix}"
    if os_info.id == "mageia":
        return f"Mageia:{major}"
    name = {"fedora": "Fedora", "centos": "CentOS", "amzn": "Amazon Linux", "ol": "Oracle Linux"}.get(os_info.id)
    return f"{name}:{major}" if name and major else (name or "rpm")


def split_nvr(filename: str) -> tuple[str, str, str] | None:
    """`openssl-3.0.7-24.el9.src.rpm` -> (`openssl`, `3.0.7`, `24.el9`); None when it is not an NVR."""
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if filename.endswith(suffix):
            filename = filename[: -len(suffix)]
            break
    else:
        return None
    parts = filename.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def evr(epoch: int | None, version: str, release: str) -> str:
    """rpm's EVR string; epoch 0 is written like no epoch, as `rpm -q` and OSV treat them alike."""
    head = f"{epoch}:" if epoch else ""
    return f"{head}{version}-{release}" if release else f"{head}{version}"


@dataclass(frozen=True, slots=True)
class RpmRecord:
    name: str
    epoch: int | None
    version: str
    release: str
    arch: str
    sourcerpm: str
    # Not printed by the `rpm -qa` cross-check, so not part of equality. The modularity label
    # (`nodejs:18:8090…`) tells which module stream a RHEL 8+ package came from.
    vendor: str = field(default="", compare=False)
    modularity_label: str = field(default="", compare=False)

    def package(self, ecosystem: str, location: str) -> Package:
        src = split_nvr(self.sourcerpm)
        source_name, source_version = (src[0], evr(self.epoch, src[1], src[2])) if src else (None, None)
        return Package(self.name, evr(self.epoch, self.version, self.release), ecosystem, location,
                       source_name, source_version,
                       {"arch": self.arch, "sourcerpm": self.sourcerpm, "epoch": self.epoch, "vendor": self.vendor,
                        "modularity_label": self.modularity_label})

    @property
    def key(self) -> tuple[str, str, str]:
        return self.name, evr(self.epoch, self.version, self.release), self.arch


def record_from_header(blob: bytes) -> RpmRecord | None:
    """One package from a header blob; None for headers without a name/version (nothing to report)."""
    tags = rh.read_tags(blob, _WANTED)
    name, version = tags.get(rh.NAME), tags.get(rh.VERSION)
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    epoch = tags.get(rh.EPOCH)

    def text(tag: int) -> str:
        val = tags.get(tag, "")
        return val if isinstance(val, str) else ""

    return RpmRecord(name, epoch if isinstance(epoch, int) else None, version, text(rh.RELEASE), text(rh.ARCH),
                     text(rh.SOURCERPM), text(rh.VENDOR), text(rh.MODULARITYLABEL))


def read_sqlite(path: Path, location: str) -> tuple[list[RpmRecord], list[str]]:
    """Records of an rpmdb.sqlite, and the reasons for headers that could not be decoded."""
    try:
        if path.stat().st_size > MAX_DB_BYTES:
            raise InventoryError(location, f"larger than {MAX_DB_BYTES >> 20} MiB; not read")
        with tempfile.TemporaryDirectory(prefix="hostwarden-rpmdb-") as tmp:
            copy = Path(tmp) / "rpmdb.sqlite"
            shutil.copyfile(path, copy)
            wal = path.with_name(path.name + "-wal")
            if wal.is_file() and not wal.is_symlink():
                shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
            conn = sqlite3.connect(copy)
            try:
                rows = conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
            finally:
                conn.close()
    except sqlite3.DatabaseError as exc:
        raise InventoryError(location, f"not a readable rpm sqlite database: {exc}") from exc
    except OSError as exc:
        raise InventoryError(location, f"unreadable: {exc.strerror or exc}") from exc
    return decode_headers((hnum, bytes(blob) if blob is not None else b"") for hnum, blob in rows)


def decode_headers(rows: Iterable[tuple[int, bytes]]) -> tuple[list[RpmRecord], list[str]]:
    """Records of (instance number, header blob) rows, and why the undecodable ones failed."""
    records: list[RpmRecord] = []
    damaged: list[str] = []
    for hnum, blob in rows:
        try:
            record = record_from_header(blob)
        except (rh.HeaderError, TypeError, struct.error) as exc:
            damaged.append(f"header #{hnum}: {exc}")
            continue
        if record is not None:
            records.append(record)
    return records, damaged


def read_bdb(path: Path, location: str) -> tuple[list[RpmRecord], list[str]]:
    """Records of a BerkeleyDB `Packages` hash file (key: 4-byte instance number; record 0 is a counter)."""
    try:
        size = path.stat().st_size
        if size > MAX_DB_BYTES:
            raise InventoryError(location, f"larger than {MAX_DB_BYTES >> 20} MiB; not read")
        with open(path, "rb") as fh:
            rows = []
            for key, blob in bdb.read_values(fh, size):
                hnum = int.from_bytes(key[:4], "little") if len(key) == 4 else -1
                if hnum != 0:
                    rows.append((hnum, blob))
    except bdb.BdbError as exc:
        raise InventoryError(location, f"not a readable BerkeleyDB hash database: {exc}") from exc
    except OSError as exc:
        raise InventoryError(location, f"unreadable: {exc.strerror or exc}") from exc
    return decode_headers(rows)


def rpm_binary() -> str | None:
    return shutil.which("rpm")


def query_binary(root: Path, dbdir: str, *, backend: str | None = None,
                 timeout: float = 120.0) -> list[RpmRecord]:
    """`rpm -qa` against the database under root (argv list, no shell); InventoryError when it fails."""
    binary = rpm_binary()
    location = "/" + dbdir
    if binary is None:
        raise InventoryError(location, "no rpm binary to read this database with")
    argv = [binary, "--root", str(Path(root).resolve()), "--dbpath", "/" + dbdir]
    if backend:
        argv += ["--define", f"_db_backend {backend}"]
    argv += ["-qa", "--queryformat", _QUERY_FORMAT]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)  # noqa: S603 - argv list
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InventoryError(location, f"rpm -qa failed: {exc}") from exc
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InventoryError(location, f"rpm -qa exited {proc.returncode}: {reason[-1] if reason else ''}")
    out: list[RpmRecord] = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        fields = line.split("\t")
        if len(fields) != 6:
            continue
        name, epoch, version, release, arch, source = fields
        out.append(RpmRecord(name, int(epoch) if epoch.isdigit() else None,
                             version, release, "" if arch == "(none)" else arch,
                             "" if source == "(none)" else source))
    return out


def _database(folder: Path) -> tuple[str, Path] | None:
    """The newest-format rpm database in a folder: sqlite, then BerkeleyDB, then ndb. Symlinks are
    not followed: in an unpacked image they could point at the scanning host's files."""
    for kind, name in (("sqlite", "rpmdb.sqlite"), ("bdb", "Packages"), ("ndb", "Packages.db")):
        path = folder / name
        if path.is_file() and not path.is_symlink():
            return kind, path
    return None


def _read_one(root: Path, dbdir: str, kind: str, path: Path, location: str,
              cross_check: bool) -> tuple[list[RpmRecord], list[InventoryError]]:
    if kind == "ndb":
        try:
            return query_binary(root, dbdir, backend="ndb"), []
        except InventoryError as exc:
            raise InventoryError(location, f"ndb rpm database: not decoded by hostwarden and the rpm binary could "
                                 f"not read it ({exc.reason}); install rpm to read it") from exc
    backend = None if kind == "sqlite" else "bdb_ro"
    try:
        records, damaged = read_sqlite(path, location) if kind == "sqlite" else read_bdb(path, location)
    except InventoryError as exc:
        if kind != "bdb" or rpm_binary() is None:
            raise
        try:  # a BerkeleyDB variant this decoder does not know (btree, checksummed pages): ask rpm
            return query_binary(root, dbdir, backend=backend), [exc]
        except InventoryError:
            raise exc from None
    errors = [InventoryError(location, reason) for reason in damaged[:20]]
    if cross_check and rpm_binary() is not None:
        errors += _compare(root, dbdir, records, location, backend)
    return records, errors


def read_rpmdb(root: Path | RootFS, os_info: OsInfo | None, *,
               cross_check: bool = True) -> tuple[list[Package], list[InventoryError]]:
    """Every installed rpm package under root, with notices for what could not be read or disagrees.

    The database folder is resolved inside the root (scan/rootfs.py) and its real path, which
    has no symlink left in it, is what the decoder opens and what `rpm --dbpath` is given.
    """
    fs = root if isinstance(root, RootFS) else RootFS(Path(root))
    root = fs.root
    ecosystem = rpm_ecosystem(os_info)
    packages: list[Package] = []
    errors: list[InventoryError] = []
    done: set[str] = set()
    for dbdir in DB_DIRS:
        if fs.is_symlink("/" + dbdir) or not fs.is_dir("/" + dbdir):
            continue  # /var/lib/rpm is a symlink to /usr/lib/sysimage/rpm on Fedora: read it once
        folder = fs.local("/" + dbdir)
        if folder is None or str(folder) in done:
            continue
        done.add(str(folder))
        dbdir = folder.relative_to(root).as_posix()
        found = _database(folder)
        if found is None:
            continue
        kind, path = found
        location = f"/{dbdir}/{path.name}"
        try:
            records, notices = _read_one(root, dbdir, kind, path, location, cross_check)
        except InventoryError as exc:
            errors.append(exc)
            continue
        errors += notices
        packages += [r.package(ecosystem, location) for r in records if r.name not in SKIP_NAMES]
    return packages, errors


def _compare(root: Path, dbdir: str, records: list[RpmRecord], location: str,
             backend: str | None) -> list[InventoryError]:
    try:
        theirs = {r.key for r in query_binary(root, dbdir, backend=backend)}
    except InventoryError as exc:
        return [InventoryError(location, f"cross-check skipped: {exc.reason}")]
    ours = {r.key for r in records}
    if ours == theirs:
        return []
    only_ours, only_theirs = sorted(ours - theirs)[:5], sorted(theirs - ours)[:5]
    return [InventoryError(location, f"decoded headers and `rpm -qa` disagree: only decoded {only_ours}, "
                                     f"only rpm {only_theirs}")]
