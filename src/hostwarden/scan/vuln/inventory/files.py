"""Which reader handles which file, and the walk that finds them under a root.

Every reader takes the file's text and its location (the path shown in findings) and returns
packages or raises `InventoryError`; `collect()` turns such errors into SCAN-9013 notices so
one damaged lockfile never hides the packages in the others.

Everything is read through the root's resolver (scan/rootfs.py): the walk is iterative and
bounded, never enters a symlinked folder, and only regular files are read (a symlinked lockfile
is read where it lives, if that is inside the root); a lockfile over its size limit is skipped
with SCAN-9031 rather than parsed cut short.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hostwarden.scan.rootfs import Entry, RootFS
from hostwarden.scan.vuln.inventory import gobinary, java, npm, other, python, rpm
from hostwarden.scan.vuln.inventory.model import InventoryError, Package
from hostwarden.scan.vuln.inventory.ospkg import OsInfo, read_apk, read_dpkg, read_os_release

Reader = Callable[[str, str], list[Package]]
PathReader = Callable[[RootFS, str, str], list[Package]]

READERS: dict[str, Reader] = {
    "package-lock": npm.parse_package_lock,
    "yarn": npm.parse_yarn_lock,
    "pnpm": npm.parse_pnpm_lock,
    "pipfile-lock": python.parse_pipfile_lock,
    "poetry": python.parse_toml_packages,
    "uv": python.parse_toml_packages,
    "pdm": python.parse_toml_packages,
    "composer": other.parse_composer_lock,
    "gemfile": other.parse_gemfile_lock,
    "cargo": other.parse_cargo_lock,
    "gomod": other.parse_go_mod,
}

# Binary inputs are read from the file itself (bounded reads), not from its decoded text.
PATH_READERS: dict[str, PathReader] = {
    "requirements": python.read_requirements,
    "java-archive": java.read_archive,
    "go-binary": gobinary.read_binary_in,
}

_BY_NAME = {
    "package-lock.json": "package-lock", "npm-shrinkwrap.json": "package-lock", ".package-lock.json": "package-lock",
    "yarn.lock": "yarn", "pnpm-lock.yaml": "pnpm", "Pipfile.lock": "pipfile-lock", "poetry.lock": "poetry",
    "uv.lock": "uv", "pdm.lock": "pdm", "composer.lock": "composer", "Gemfile.lock": "gemfile",
    "gems.locked": "gemfile", "Cargo.lock": "cargo", "go.mod": "gomod",
}

# Extensions that are never ELF executables, so the walk does not stat every script and header.
_NOT_BINARY = {"py", "pyc", "js", "json", "txt", "md", "h", "c", "sh", "pl", "rb", "php", "html", "css", "xml",
               "yaml", "yml", "toml", "conf", "cfg", "ini", "gz", "xz", "zst", "png", "svg", "mo", "pem"}

# Never descend into these on a live root: virtual file systems and caches, not installed software.
_SKIP_DIRS = {"proc", "sys", "dev", "run", ".git", "__pycache__", ".cache"}
_SKIP_TOP = {"proc", "sys", "dev", "run", "tmp", "var/cache", "var/lib/docker", "var/lib/containerd"}


def kind_for(entry: Entry, parent: str) -> str | None:
    """The reader for a regular file, from its name, its folder's name and its lstat."""
    name = entry.name
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.endswith(".txt") and "requirements" in name:
        return "requirements"
    if name == "METADATA" and parent.endswith(".dist-info"):
        return "python-metadata"
    if name == "PKG-INFO" and parent.endswith(".egg-info"):
        return "python-metadata"
    if name.endswith(".egg-info"):
        return "python-metadata"
    if name.lower().endswith(java.SUFFIXES):
        return "java-archive"
    suffix = name.rpartition(".")[2].lower() if "." in name else ""
    if suffix not in _NOT_BINARY and gobinary.is_candidate_stat(entry.st):
        return "go-binary"
    return None


def read_file(path: Path, kind: str, location: str | None = None) -> list[Package]:
    """Parse one file of a known kind outside any scan (its folder is the root it may read in)."""
    path = Path(path)
    return read_entry(RootFS(path.parent), "/" + path.name, kind, location or str(path))


def read_entry(fs: RootFS, host: str, kind: str, location: str | None = None) -> list[Package]:
    """Parse one file under a root; raises InventoryError on damaged input, never anything else."""
    where = location or host
    try:
        if kind in PATH_READERS:
            return PATH_READERS[kind](fs, host, where)
        text = fs.read_text(host, kind="lockfile", truncate=False)
        if text is None:
            return []  # absent, refused or too large: the resolver has said so
        if kind == "python-metadata":
            pkg = python.parse_metadata(text, where)
            return [pkg] if pkg else []
        return READERS[kind](text, where)
    except InventoryError:
        raise
    except OSError as exc:
        raise InventoryError(where, f"unreadable: {exc.strerror or exc}") from exc
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError, MemoryError) as exc:
        raise InventoryError(where, f"unexpected structure: {type(exc).__name__}: {exc}") from exc


@dataclass
class Inventory:
    os: OsInfo | None = None
    packages: list[Package] = field(default_factory=list)
    errors: list[InventoryError] = field(default_factory=list)


def _walk(fs: RootFS) -> Iterator[tuple[str, str]]:
    for folder, dirs, others in fs.walk("/"):
        dirs[:] = [d for d in dirs if d.name not in _SKIP_DIRS and d.path.lstrip("/") not in _SKIP_TOP
                   and d.name != "node_modules"]
        parent = folder.rpartition("/")[2]
        for entry in others:
            kind = kind_for(entry, parent) if entry.is_file else None
            if kind:
                yield entry.path, kind


def collect(root: Path | RootFS) -> Inventory:
    """OS packages of the release under `root`, plus every lockfile and Python distribution found."""
    fs = root if isinstance(root, RootFS) else RootFS(Path(root))
    inv = Inventory(os=read_os_release(fs))
    eco = inv.os.ecosystem() if inv.os else None
    family = inv.os.family if inv.os else ""
    try:
        if family in ("debian", "ubuntu") or fs.is_dir("/var/lib/dpkg"):
            inv.packages += read_dpkg(fs, eco or "Debian")
        if family == "alpine" or fs.is_file("/lib/apk/db/installed"):
            inv.packages += read_apk(fs, eco or "Alpine")
    except InventoryError as exc:
        inv.errors.append(exc)
    rpm_packages, rpm_errors = rpm.read_rpmdb(fs, inv.os)
    inv.packages += rpm_packages
    inv.errors += rpm_errors
    for host, kind in _walk(fs):
        try:
            inv.packages += read_entry(fs, host, kind, host)
        except InventoryError as exc:
            inv.errors.append(exc)
    return inv
