"""Which reader handles which file, and the walk that finds them under a root.

Every reader takes the file's text and its location (the path shown in findings) and returns
packages or raises `InventoryError`; `collect()` turns such errors into SCAN-9013 notices so
one damaged lockfile never hides the packages in the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hostwarden.scan.vuln.inventory import gobinary, java, npm, other, python, rpm
from hostwarden.scan.vuln.inventory.model import InventoryError, Package
from hostwarden.scan.vuln.inventory.ospkg import OsInfo, read_apk, read_dpkg, read_os_release

Reader = Callable[[str, str], list[Package]]
PathReader = Callable[[Path, str], list[Package]]

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
    "requirements": python.parse_requirements,
    "java-archive": java.read_archive,
    "go-binary": gobinary.read_binary,
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


def kind_for(path: Path) -> str | None:
    name = path.name
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.endswith(".txt") and "requirements" in name:
        return "requirements"
    if name == "METADATA" and path.parent.name.endswith(".dist-info"):
        return "python-metadata"
    if name == "PKG-INFO" and path.parent.name.endswith(".egg-info"):
        return "python-metadata"
    if name.endswith(".egg-info") and path.is_file():
        return "python-metadata"
    if java.is_archive(path):
        return "java-archive"
    suffix = name.rpartition(".")[2].lower() if "." in name else ""
    if suffix not in _NOT_BINARY and gobinary.is_candidate(path):
        return "go-binary"
    return None


def read_file(path: Path, kind: str, location: str | None = None) -> list[Package]:
    """Parse one file of a known kind; raises InventoryError on damaged input, never anything else."""
    where = location or str(path)
    try:
        if kind in PATH_READERS:
            return PATH_READERS[kind](path, where)
        text = path.read_text(encoding="utf-8", errors="replace")
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


def _walk(root: Path) -> Iterator[tuple[Path, str]]:
    root_s = str(root)
    for dirpath, dirnames, filenames in os.walk(root_s):
        rel = os.path.relpath(dirpath, root_s)
        rel = "" if rel == "." else rel.replace(os.sep, "/")
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in _SKIP_DIRS and (f"{rel}/{d}" if rel else d) not in _SKIP_TOP and d != "node_modules"
        )
        for fname in sorted(filenames):
            path = Path(dirpath) / fname
            kind = kind_for(path)
            if kind:
                yield path, kind


def collect(root: Path) -> Inventory:
    """OS packages of the release under `root`, plus every lockfile and Python distribution found."""
    root = Path(root)
    inv = Inventory(os=read_os_release(root))
    eco = inv.os.ecosystem() if inv.os else None
    family = inv.os.family if inv.os else ""
    try:
        if family in ("debian", "ubuntu") or (root / "var/lib/dpkg").is_dir():
            inv.packages += read_dpkg(root, eco or "Debian")
        if family == "alpine" or (root / "lib/apk/db/installed").is_file():
            inv.packages += read_apk(root, eco or "Alpine")
    except InventoryError as exc:
        inv.errors.append(exc)
    rpm_packages, rpm_errors = rpm.read_rpmdb(root, inv.os)
    inv.packages += rpm_packages
    inv.errors += rpm_errors
    for path, kind in _walk(root):
        location = "/" + str(path.relative_to(root)).replace(os.sep, "/")
        try:
            inv.packages += read_file(path, kind, location)
        except InventoryError as exc:
            inv.errors.append(exc)
    return inv
