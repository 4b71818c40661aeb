"""Python: requirements.txt (with -r includes), Pipfile.lock, poetry.lock, uv.lock, pdm.lock and
installed distributions (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`)."""

from __future__ import annotations

import posixpath
import re
import tomllib
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from hostwarden.scan.rootfs import RootFS
from hostwarden.scan.vuln.inventory.model import InventoryError, Package, load_json_object

MAX_INCLUDES = 64  # `-r` files followed from one requirements file

_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{[A-Z0-9_]+\}")
_OPTION_TAIL = re.compile(r"(?:--hash|--global-option|--config-settings|-C\b).*")
_EXTRAS = re.compile(r"\[[^\[\]]*\]")
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
# Constraints we cannot reduce to one version: wildcards, <, !=, several clauses.
_UNPINNABLE = re.compile(r"\*|<(?!=)|,|!=")
_OPERATORS = ("===", "==", ">=", "<=", "~=")


def _toml(text: str, location: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(location, f"invalid TOML: {exc}") from exc


def _requirement(line: str) -> tuple[str, str, str] | None:
    """(name, version, operator) of one requirement line; version "" when not reducible to one."""
    if _UNPINNABLE.search(line):
        name = re.split(r"===|==|>=|<=|~=|!=|<|>", line, maxsplit=1)[0]
        return (name, "", "") if _NAME.match(name) else None
    for op in _OPERATORS:
        if op in line:
            name, _, version = line.partition(op)
            return (name, version, op) if _NAME.match(name) and version else None
    name = re.split(r">", line, maxsplit=1)[0]
    return (name, "", "") if _NAME.match(name) and name == line else None


def parse_requirements(path: Path, location: str = "") -> list[Package]:
    """A requirements file outside any scan; its folder is the root its `-r` includes stay in."""
    path = Path(path)
    return read_requirements(RootFS(path.parent), "/" + path.name, location or str(path))


def read_requirements(fs: RootFS, host: str, location: str = "", _seen: set[str] | None = None) -> list[Package]:
    """requirements.txt the way pip reads it: comments, `\\` continuations, markers, extras, -r.

    `-r` includes are host paths resolved in the same root (an absolute or `../` include never
    leaves it), at most MAX_INCLUDES of them, each file once (loops end).
    """
    seen = _seen if _seen is not None else set()
    real = str(fs.local(host) or host)
    if real in seen or len(seen) > MAX_INCLUDES:  # -r loops end here
        return []
    seen.add(real)
    text = fs.read_text(host, kind="lockfile", truncate=False)
    if text is None:
        if not fs.exists(host):
            raise InventoryError(location or host, "unreadable: no such file")
        return []
    out: list[Package] = []
    includes: list[str] = []
    logical: list[str] = []
    buffer = ""
    for raw in text.splitlines():  # pip joins continuations first, then strips comments
        if raw.endswith("\\"):
            buffer += raw[:-1]
            continue
        logical.append(buffer + raw)
        buffer = ""
    if buffer:
        logical.append(buffer)
    for line in logical:
        line = _COMMENT.sub("", line)
        if _ENV_VAR.search(line):
            continue
        line = _OPTION_TAIL.sub("", line)
        line = re.sub(r"[ \t\r]", "", line).split(";", 1)[0]
        line = _EXTRAS.sub("", line)
        if not line:
            continue
        if line.startswith("-r") or line.startswith("--requirement"):
            target = line.removeprefix("--requirement").removeprefix("-r").lstrip("=")
            includes.append(target if target.startswith("/") else posixpath.join(posixpath.dirname(host), target))
            continue
        if line.startswith("-"):
            continue
        req = _requirement(line)
        if req:
            name, version, op = req
            out.append(Package(name, version, "PyPI", location or host, extra={"operator": op}))
    for inc in includes:
        if fs.is_file(inc):
            name = posixpath.basename(inc)
            out += read_requirements(fs, inc, f"{location} -> {name}" if location else inc, seen)
    return out


def parse_pipfile_lock(text: str, location: str = "") -> list[Package]:
    data = load_json_object(text, location)
    out: list[Package] = []
    seen: set[tuple[str, str]] = set()
    for group in ("default", "develop"):
        for name, meta in (data.get(group) or {}).items():
            version = meta.get("version") if isinstance(meta, dict) else None
            if isinstance(version, str) and version.startswith("=="):
                key = (name, version[2:])
                if key not in seen:
                    seen.add(key)
                    out.append(Package(name, version[2:], "PyPI", location, extra={"dev": group == "develop"}))
    return out


def parse_toml_packages(text: str, location: str = "") -> list[Package]:
    """poetry.lock, uv.lock and pdm.lock all list `[[package]]` tables with name and version."""
    data = _toml(text, location)
    out: list[Package] = []
    for pkg in data.get("package") or []:
        if not isinstance(pkg, dict) or not pkg.get("name") or not pkg.get("version"):
            continue
        source = pkg.get("source")
        if isinstance(source, dict) and ("editable" in source or "virtual" in source):
            continue  # the project itself, not a dependency
        out.append(Package(str(pkg["name"]), str(pkg["version"]), "PyPI", location))
    return out


def parse_metadata(text: str, location: str = "") -> Package | None:
    """An installed distribution's METADATA / PKG-INFO headers."""
    headers = HeaderParser().parsestr(text, headersonly=True)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return None
    return Package(str(name).strip(), str(version).strip(), "PyPI", location)
