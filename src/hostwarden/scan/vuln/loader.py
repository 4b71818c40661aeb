"""Reading OSV records from JSON or YAML files, folders and the per-ecosystem `all.zip` exports.

Bad files never stop an import: each one becomes a `LoadError` (with SCAN-9011) naming it and
the rest load. Records are yielded one by one so a 600 MB `all.zip` never sits in memory as a
whole. Every input is bounded: a record file or zip member over `MAX_RECORD_BYTES` (inflated,
checked while inflating, not from the header), a member inflating more than `MAX_RATIO` times
its stored size, a zip of more than `MAX_MEMBERS` entries (bombs: SCAN-9033 in the reason), JSON
nested deeper than the safe loader allows, YAML with aliases or foreign tags (billion laughs).
Folders are walked iteratively with the same bounds as a scan root (scan/rootfs.py).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hostwarden.core.errors import SCAN_ADVISORY_INVALID, SCAN_ARCHIVE_LIMIT, HostwardenError
from hostwarden.core.safeload import safe_json_loads, safe_yaml_load
from hostwarden.scan.rootfs import RootFS
from hostwarden.scan.safefiles import read_regular_file

_SUFFIXES = (".json", ".yaml", ".yml")
MAX_RECORD_BYTES = 16 << 20  # the largest real OSV records are well under 2 MiB
MAX_RATIO = 1000  # inflated / stored bytes of one member; JSON text deflates ~5-20x
MAX_MEMBERS = 2_000_000  # entries of one zip (the largest OSV export holds ~300,000)


@dataclass(frozen=True, slots=True)
class LoadError:
    source: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"code": SCAN_ADVISORY_INVALID.code, "source": self.source, "message": self.reason}


def _decode(name: str, data: bytes) -> list[dict[str, Any]]:
    text = data.decode("utf-8")
    loaded = safe_yaml_load(text) if name.lower().endswith((".yaml", ".yml")) else safe_json_loads(text)
    items = loaded if isinstance(loaded, list) else [loaded]
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise ValueError("not an OSV record (no string `id`)")
        _check_shape(item)
    return items


# Fields the database reads, with the type each must have when present: a record that breaks
# one is refused here, by name, instead of failing the batch it would be written in.
_SHAPE = {"affected": list, "aliases": list, "upstream": list, "references": list, "severity": list,
          "summary": str, "details": str}


def _check_shape(item: dict[str, Any]) -> None:
    for key, kind in _SHAPE.items():
        value = item.get(key)
        if value is not None and not isinstance(value, kind):
            raise ValueError(f"{item['id']}: `{key}` is not a {kind.__name__}")
    if not all(isinstance(entry, dict) for entry in item.get("affected") or []):
        raise ValueError(f"{item['id']}: an `affected` entry is not an object")


_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, then (after 22 bytes) name and extra lengths


class Bomb(ValueError):
    """An archive member (or the archive) over the expansion limits; the message names the limit."""


def _check_member(info: zipfile.ZipInfo) -> None:
    # deflate never grows data by more than a few bytes per 16 KiB block: a larger stored size is a lie
    if info.file_size > MAX_RECORD_BYTES or info.compress_size > MAX_RECORD_BYTES + (MAX_RECORD_BYTES >> 8) + 4096:
        raise Bomb(f"{SCAN_ARCHIVE_LIMIT.code}: {info.filename} inflates to {info.file_size} bytes "
                   f"(limit {MAX_RECORD_BYTES}); not read")
    if info.compress_size and info.file_size > MAX_RATIO * info.compress_size:
        raise Bomb(f"{SCAN_ARCHIVE_LIMIT.code}: {info.filename} inflates {info.file_size // info.compress_size}x "
                   f"(limit {MAX_RATIO}x); not read")


def _inflate(data: bytes, name: str) -> bytes:
    """Raw-deflate `data`, stopping one byte past the record limit (the header's size is not trusted)."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, MAX_RECORD_BYTES + 1)
    except zlib.error as exc:
        raise zipfile.BadZipFile(f"{name}: {exc}") from exc
    if len(out) > MAX_RECORD_BYTES:
        raise Bomb(f"{SCAN_ARCHIVE_LIMIT.code}: {name} inflates past {MAX_RECORD_BYTES} bytes; not read")
    return out


def _member(handle: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One member's bytes, read straight from the archive, never more than MAX_RECORD_BYTES.

    Why: an OSV `all.zip` holds one small file per record, and `ZipFile.read` spends ~60 µs of
    Python on each (a `ZipExtFile`, header re-parsing, buffered reads), more than decoding the
    JSON. Plain stored/deflated members are read here with one seek, one read, one bounded
    inflate and the CRC check; anything else (encryption, other methods) goes through
    `zipfile`, read to the same bound.
    """
    _check_member(info)
    fp = handle.fp
    if fp is None or info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        with handle.open(info) as member:
            data = member.read(MAX_RECORD_BYTES + 1)
        if len(data) > MAX_RECORD_BYTES:
            raise Bomb(f"{SCAN_ARCHIVE_LIMIT.code}: {info.filename} inflates past {MAX_RECORD_BYTES} bytes; not read")
        return data
    fp.seek(info.header_offset)
    signature, name_len, extra_len = _LOCAL_HEADER.unpack(fp.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    fp.seek(name_len + extra_len, io.SEEK_CUR)
    data = fp.read(info.compress_size)
    if info.compress_type == zipfile.ZIP_DEFLATED:
        data = _inflate(data, info.filename)
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"bad CRC or size for {info.filename}")
    return data


def _from_zip(path: str, handle: zipfile.ZipFile, errors: list[LoadError]) -> Iterator[dict[str, Any]]:
    infos = handle.infolist()
    if len(infos) > MAX_MEMBERS:
        errors.append(LoadError(path, f"{SCAN_ARCHIVE_LIMIT.code}: {len(infos)} entries (limit {MAX_MEMBERS}); "
                                      f"only the first {MAX_MEMBERS} read"))
        infos = infos[:MAX_MEMBERS]
    for info in infos:
        if info.is_dir() or not info.filename.lower().endswith(_SUFFIXES):
            continue
        where = f"{path}!{info.filename}"
        try:
            yield from _decode(info.filename, _member(handle, info))
        except (ValueError, UnicodeDecodeError, yaml.YAMLError, zipfile.BadZipFile, OSError, RuntimeError) as exc:
            errors.append(LoadError(where, str(exc)[:300]))


def _folder_files(folder: Path, errors: list[LoadError]) -> list[Path]:
    """Record files and zips under a folder: an iterative, bounded walk (deep folders never recurse)."""
    notes: list[str] = []
    fs = RootFS(folder, notify=lambda code, message, **_: notes.append(f"{code}: {message}"))
    found = [folder / e.path.lstrip("/") for _d, _s, others in fs.walk("/") for e in others
             if e.is_file and e.name.lower().endswith((*_SUFFIXES, ".zip"))]
    errors.extend(LoadError(str(folder), note) for note in notes)
    return sorted(found)


def iter_records(paths: list[Path], errors: list[LoadError]) -> Iterator[dict[str, Any]]:
    """Every OSV record under `paths`; unreadable inputs are appended to `errors`."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from iter_records(_folder_files(path, errors), errors)
            continue
        try:
            if path.suffix.lower() == ".zip":
                with zipfile.ZipFile(path) as handle:
                    yield from _from_zip(str(path), handle, errors)
            else:
                yield from _decode(path.name, read_regular_file(path, MAX_RECORD_BYTES))
        except FileNotFoundError:
            errors.append(LoadError(str(path), "no such file or folder"))
        except (ValueError, UnicodeDecodeError, yaml.YAMLError, zipfile.BadZipFile, OSError, RuntimeError) as exc:
            errors.append(LoadError(str(path), str(exc)[:300]))


def iter_zip_bytes(data: bytes, label: str, errors: list[LoadError]) -> Iterator[dict[str, Any]]:
    """Records from a zip held in memory (what `vulndb update` downloads)."""
    try:
        handle = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise HostwardenError(SCAN_ADVISORY_INVALID, f"{label}: not a zip archive ({exc})") from exc
    with handle:
        yield from _from_zip(label, handle, errors)
