"""Java archives (.jar, .war, .ear): Maven coordinates from pom.properties, else the manifest, else the name.

What identifies a jar, best first (the order osv-scalibr and Trivy use):

1. `META-INF/maven/<group>/<artifact>/pom.properties`: `groupId`, `artifactId`, `version`,
   written by Maven into every artifact it builds. A shaded jar holds several; each is a package.
2. `META-INF/MANIFEST.MF`: `Implementation-Vendor-Id`/`Bundle-SymbolicName` + `Implementation-Title`
   and `Implementation-Version`/`Bundle-Version`. Only used when there is no pom.properties.
3. The file name `artifact-1.2.3.jar`, when it ends in a version.

Fat jars keep their dependencies as jars inside (`BOOT-INF/lib/*.jar` for Spring Boot,
`WEB-INF/lib/*.jar` in a war, anything `*.jar` in an ear); those are opened one level deep,
in memory, and each found package's location is `outer.jar!inner.jar`.

Archives are hostile input: entries and inflated bytes are capped (zip bombs), a damaged zip
becomes an InventoryError (SCAN-9013), and only small text members and nested jars are read.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

from hostwarden.scan.rootfs import RootFS
from hostwarden.scan.vuln.inventory.model import InventoryError, Package

SUFFIXES = (".jar", ".war", ".ear")
MAX_ARCHIVE_BYTES = 512 << 20  # outer archive on disk
MAX_ENTRIES = 100_000  # members listed per archive
MAX_TEXT_BYTES = 1 << 20  # one pom.properties or MANIFEST.MF, inflated
MAX_NESTED_BYTES = 64 << 20  # one nested jar, inflated, read into memory
MAX_NESTED_TOTAL = 512 << 20  # all nested jars of one archive together
MAX_RATIO = 200  # inflated/compressed beyond this is a bomb, not a library
_PROP_SEP = re.compile(r"\s*[=:]\s*|\s+")  # java.util.Properties: key, then `=`, `:` or blanks
_NAME_VERSION = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+?)-(?P<version>\d[A-Za-z0-9_.+-]*)$")


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(SUFFIXES)


def _properties(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        parts = _PROP_SEP.split(line, maxsplit=1)
        out.setdefault(parts[0], parts[1].strip() if len(parts) > 1 else "")
    return out


def _manifest(text: str) -> dict[str, str]:
    """Main section of a MANIFEST.MF; 72-byte continuation lines (leading space) are joined."""
    out: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            break  # end of the main section; per-entry sections describe files, not the jar
        if line.startswith(" ") and last:
            out[last] += line[1:]
        elif ":" in line:
            key, _, val = line.partition(":")
            last = key.strip()
            out.setdefault(last, val.strip())
    return out


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> str:
    if info.file_size > MAX_TEXT_BYTES:
        raise InventoryError(label, f"{info.filename} is {info.file_size} bytes inflated; not read")
    with zf.open(info) as handle:
        return handle.read(MAX_TEXT_BYTES).decode("utf-8", errors="replace")


def _check_bomb(infos: list[zipfile.ZipInfo], label: str) -> None:
    if len(infos) > MAX_ENTRIES:
        raise InventoryError(label, f"{len(infos)} entries (limit {MAX_ENTRIES}); not read")


def _identify(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], filename: str, location: str) -> list[Package]:
    out: list[Package] = []
    for info in infos:
        parts = PurePosixPath(info.filename).parts
        if len(parts) == 5 and parts[:2] == ("META-INF", "maven") and parts[4] == "pom.properties":
            props = _properties(_read_small(zf, info, location))
            group, artifact, version = props.get("groupId"), props.get("artifactId"), props.get("version")
            if group and artifact and version:
                out.append(Package(f"{group}:{artifact}", version, "Maven", location, extra={"from": "pom.properties"}))
    if out:
        return out
    manifest = next((i for i in infos if i.filename.upper() == "META-INF/MANIFEST.MF"), None)
    if manifest is not None:
        mf = _manifest(_read_small(zf, manifest, location))
        version = mf.get("Implementation-Version") or mf.get("Bundle-Version")
        artifact = mf.get("Implementation-Title") or mf.get("Bundle-SymbolicName", "").split(";")[0].strip()
        group = mf.get("Implementation-Vendor-Id") or ""
        if artifact and version:
            # With a vendor id the coordinates are group:artifact; without one the title (or an OSGi
            # symbolic name such as org.example.lib) is kept whole: guessing a group would invent one.
            name = f"{group}:{artifact}" if group and ":" not in artifact and " " not in artifact else artifact
            return [Package(name, version, "Maven", location, extra={"from": "MANIFEST.MF"})]
    stem = filename.rsplit(".", 1)[0]
    m = _NAME_VERSION.match(stem)
    if m:
        return [Package(m.group("name"), m.group("version"), "Maven", location, extra={"from": "file name"})]
    return []


def _nested(infos: list[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    return [i for i in infos if i.filename.lower().endswith(SUFFIXES) and not i.is_dir()]


def read_archive_stream(handle: IO[bytes], filename: str, location: str, *, depth: int = 1) -> list[Package]:
    """Packages of one archive (an open binary file), and of its nested archives down to `depth`."""
    try:
        with zipfile.ZipFile(handle) as zf:
            infos = zf.infolist()
            _check_bomb(infos, location)
            out = _identify(zf, infos, filename, location)
            if depth <= 0:
                return out
            budget = MAX_NESTED_TOTAL
            for info in _nested(infos):
                inner_location = f"{location}!{info.filename}"
                if info.file_size > MAX_NESTED_BYTES or info.file_size > budget or (
                        info.compress_size and info.file_size / info.compress_size > MAX_RATIO):
                    raise InventoryError(inner_location, f"nested archive of {info.file_size} bytes inflated "
                                         f"({info.compress_size} stored) is over the limits; not read")
                budget -= info.file_size
                with zf.open(info) as member:
                    data = member.read(MAX_NESTED_BYTES + 1)
                if len(data) > MAX_NESTED_BYTES:
                    raise InventoryError(inner_location, "nested archive larger than its header says")
                out += read_archive_stream(io.BytesIO(data), PurePosixPath(info.filename).name, inner_location,
                                           depth=depth - 1)
            return out
    except InventoryError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, EOFError, ValueError) as exc:
        raise InventoryError(location, f"not a readable zip archive: {exc}") from exc
    except (OSError, RuntimeError) as exc:  # RuntimeError: encrypted members
        raise InventoryError(location, f"unreadable archive: {exc}") from exc


def read_archive(fs: RootFS | Path, host: str | None = None, location: str = "") -> list[Package]:
    """Entry point for the walk: one .jar/.war/.ear regular file under a root (never through a link)."""
    if isinstance(fs, Path):  # a file outside any scan
        fs, host = RootFS(fs.parent), "/" + fs.name
    assert host is not None
    handle = fs.open(host, follow=False)
    if handle is None:
        return []  # absent, a symlink (its target is read where it lives) or refused (noticed)
    try:
        with handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_ARCHIVE_BYTES:
                raise InventoryError(location, f"{size} bytes (limit {MAX_ARCHIVE_BYTES}); not read")
            return read_archive_stream(handle, PurePosixPath(host).name, location or host)
    except OSError as exc:
        raise InventoryError(location, f"unreadable: {exc.strerror or exc}") from exc
