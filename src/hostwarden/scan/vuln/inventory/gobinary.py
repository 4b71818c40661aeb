"""Go executables: the module list the Go linker embeds (`go version -m`), read from ELF files.

Since Go 1.13 every binary carries a `.go.buildinfo` blob that starts with the 14-byte magic
`\\xff Go buildinf:`, then the pointer size and a flags byte, in a 32-byte header:

* flags & 2 (Go ≥ 1.18): the Go version and the module info follow the header inline, each as
  an unsigned varint length and the bytes;
* otherwise (Go 1.13–1.17): two pointers at offsets 16 and 16+ptrsize, each the virtual address
  of a Go string header (data pointer, length) that must be mapped back to a file offset
  through the ELF program headers. flags & 1 means big-endian pointers.

The module info is `runtime/debug.BuildInfo` text, wrapped in two 16-byte sentinels: lines
`path`, `mod PATH VERSION SUM` (the main module), `dep PATH VERSION SUM`, and `=> PATH VERSION
SUM` replacing the line before it. Each module becomes a `Go` package, plus `stdlib` at the Go
version, which is what OSV's Go advisories are written against.

Only regular executable files up to `MAX_BINARY_BYTES` are considered, and only their headers
and the buildinfo section are read (a few KiB), never the whole binary. Non-ELF and non-Go files
yield nothing; a Go binary whose blob is damaged yields an InventoryError (SCAN-9013).
Mach-O and PE binaries are not read (servers run ELF).
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from hostwarden.scan.rootfs import RootFS
from hostwarden.scan.vuln.inventory.model import InventoryError, Package

MAGIC = b"\xff Go buildinf:"
MAX_BINARY_BYTES = 1 << 30
MAX_SECTIONS = 1 << 12
MAX_SEARCH_BYTES = 64 << 20  # data segment searched for the magic when there is no section table
MAX_STRING_BYTES = 4 << 20  # module info of the largest real binaries is well under 1 MiB
_SENTINEL_LEN = 16


@dataclass
class BuildInfo:
    go_version: str
    path: str = ""
    main: tuple[str, str] | None = None
    deps: list[tuple[str, str]] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)


def is_candidate(path: Path) -> bool:
    """A regular, executable, non-empty file of bounded size: the only files worth opening."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return is_candidate_stat(st)


def is_candidate_stat(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111) and 64 <= st.st_size <= MAX_BINARY_BYTES


@dataclass(frozen=True, slots=True)
class _Elf:
    is64: bool
    endian: str
    sections: list[tuple[str, int, int, int]]  # name, vaddr, offset, size
    segments: list[tuple[int, int, int, int, int]]  # type, flags, vaddr, offset, filesz


def _read_at(fh: BinaryIO, offset: int, size: int) -> bytes:
    fh.seek(offset)
    return fh.read(size)


def _parse_elf(fh: BinaryIO) -> _Elf | None:
    ident = _read_at(fh, 0, 64)
    if len(ident) < 52 or ident[:4] != b"\x7fELF":
        return None
    is64, endian = ident[4] == 2, "<" if ident[5] == 1 else ">"
    if ident[4] not in (1, 2) or ident[5] not in (1, 2):
        return None
    if is64:
        phoff, shoff = struct.unpack_from(endian + "QQ", ident, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHHHH", ident, 54)
    else:
        phoff, shoff = struct.unpack_from(endian + "II", ident, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHHHH", ident, 42)
    segments: list[tuple[int, int, int, int, int]] = []
    if 0 < phnum <= MAX_SECTIONS and (56 if is64 else 32) <= phentsize <= 256:
        table = _read_at(fh, phoff, phentsize * phnum)
        for i in range(len(table) // phentsize):
            base = i * phentsize
            if is64:
                ptype, pflags, poff, pvaddr, _, pfilesz = struct.unpack_from(endian + "IIQQQQ", table, base)
            else:
                ptype, poff, pvaddr, _, pfilesz, _, pflags = struct.unpack_from(endian + "IIIIIII", table, base)
            segments.append((ptype, pflags, pvaddr, poff, pfilesz))
    sections: list[tuple[str, int, int, int]] = []
    if 0 < shnum <= MAX_SECTIONS and (64 if is64 else 40) <= shentsize <= 256 and shstrndx < shnum:
        table = _read_at(fh, shoff, shentsize * shnum)
        raw = []
        for i in range(len(table) // shentsize):
            base = i * shentsize
            if is64:
                name, _, _, addr, off, size = struct.unpack_from(endian + "IIQQQQ", table, base)
            else:
                name, _, _, addr, off, size = struct.unpack_from(endian + "IIIIII", table, base)
            raw.append((name, addr, off, size))
        if shstrndx < len(raw):
            _, _, str_off, str_size = raw[shstrndx]
            names = _read_at(fh, str_off, min(str_size, 1 << 20))
            for name_off, addr, off, size in raw:
                end = names.find(b"\0", name_off)
                label_bytes = names[name_off:end] if 0 <= name_off < len(names) and end >= 0 else b""
                sections.append((label_bytes.decode("ascii", "replace"), addr, off, size))
    return _Elf(is64, endian, sections, segments)


def _uvarint(data: bytes, pos: int, label: str) -> tuple[int, int]:
    value, shift = 0, 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise InventoryError(label, "Go buildinfo: truncated varint")


def _inline_string(data: bytes, pos: int, label: str) -> tuple[str, int]:
    length, pos = _uvarint(data, pos, label)
    if length > MAX_STRING_BYTES or pos + length > len(data):
        raise InventoryError(label, f"Go buildinfo: string of {length} bytes runs past the blob")
    return data[pos : pos + length].decode("utf-8", "replace"), pos + length


def _vaddr_to_offset(elf: _Elf, vaddr: int) -> tuple[int, int] | None:
    """File offset of a virtual address and how many file bytes follow it in its segment."""
    for ptype, _, seg_vaddr, seg_off, filesz in elf.segments:
        if ptype == 1 and seg_vaddr <= vaddr < seg_vaddr + filesz:
            return seg_off + (vaddr - seg_vaddr), seg_vaddr + filesz - vaddr
    return None


def _pointer_string(fh: BinaryIO, elf: _Elf, header_addr: int, ptr_size: int, endian: str, label: str) -> str:
    fmt = endian + ("Q" if ptr_size == 8 else "I")
    where = _vaddr_to_offset(elf, header_addr)
    if where is None or where[1] < 2 * ptr_size:
        raise InventoryError(label, f"Go buildinfo: string header at {header_addr:#x} is not in the file")
    raw = _read_at(fh, where[0], 2 * ptr_size)
    data_addr, length = struct.unpack(fmt, raw[:ptr_size])[0], struct.unpack(fmt, raw[ptr_size:])[0]
    if length == 0:
        return ""
    target = _vaddr_to_offset(elf, data_addr)
    if length > MAX_STRING_BYTES or target is None or target[1] < length:
        raise InventoryError(label, f"Go buildinfo: string of {length} bytes at {data_addr:#x} is not in the file")
    return _read_at(fh, target[0], length).decode("utf-8", "replace")


def _find_blob(fh: BinaryIO, elf: _Elf) -> bytes | None:
    for name, _, offset, size in elf.sections:
        if name == ".go.buildinfo":
            return _read_at(fh, offset, min(size, MAX_STRING_BYTES * 2 + 64))
    # Stripped section table: Go puts the blob at the start of the first writable data segment.
    for ptype, flags, _, offset, filesz in elf.segments:
        if ptype == 1 and flags & 2:
            data = _read_at(fh, offset, min(filesz, MAX_SEARCH_BYTES))
            pos = data.find(MAGIC)
            while pos >= 0 and pos % 16:
                pos = data.find(MAGIC, pos + 1)
            return data[pos:] if pos >= 0 else None
    return None


def _strip_sentinels(mod: str) -> str:
    if len(mod) >= 2 * _SENTINEL_LEN + 1 and mod[-_SENTINEL_LEN - 1] == "\n":
        return mod[_SENTINEL_LEN:-_SENTINEL_LEN]
    return mod


def read_buildinfo(fh: BinaryIO, label: str) -> BuildInfo | None:
    """The build info of an open ELF file; None when it is not an ELF Go binary."""
    elf = _parse_elf(fh)
    if elf is None:
        return None
    blob = _find_blob(fh, elf)
    if blob is None or not blob.startswith(MAGIC):
        return None
    if len(blob) < 32:
        raise InventoryError(label, "Go buildinfo: header truncated")
    ptr_size, flags = blob[14], blob[15]
    if flags & 2:
        version, pos = _inline_string(blob, 32, label)
        modinfo, _ = _inline_string(blob, pos, label)
    else:
        if ptr_size not in (4, 8):
            raise InventoryError(label, f"Go buildinfo: pointer size {ptr_size}")
        endian = ">" if flags & 1 else "<"
        fmt = endian + ("Q" if ptr_size == 8 else "I")
        version_addr = struct.unpack_from(fmt, blob, 16)[0]
        mod_addr = struct.unpack_from(fmt, blob, 16 + ptr_size)[0]
        version = _pointer_string(fh, elf, version_addr, ptr_size, endian, label)
        modinfo = _pointer_string(fh, elf, mod_addr, ptr_size, endian, label)
    return parse_modinfo(version, _strip_sentinels(modinfo))


def parse_modinfo(go_version: str, text: str) -> BuildInfo:
    """`runtime/debug.BuildInfo` text; a `=>` line replaces the module on the line before it."""
    info = BuildInfo(go_version)
    last: str | None = None  # "main" or "dep"
    for line in text.splitlines():
        fields = line.split("\t")
        kind = fields[0]
        if kind == "path" and len(fields) >= 2:
            info.path = fields[1]
        elif kind == "mod" and len(fields) >= 3:
            info.main, last = (fields[1], fields[2]), "main"
        elif kind == "dep" and len(fields) >= 3:
            info.deps.append((fields[1], fields[2]))
            last = "dep"
        elif kind == "=>" and len(fields) >= 2 and last:
            replacement = (fields[1], fields[2] if len(fields) >= 3 else "")
            if last == "main":
                info.main = replacement
            else:
                info.deps[-1] = replacement
        elif kind == "build" and len(fields) >= 2 and "=" in fields[1]:
            key, _, val = fields[1].partition("=")
            info.settings[key] = val
    return info


def _version(v: str) -> str:
    return v.removeprefix("v").removesuffix("+incompatible")


def _published(path: str, version: str) -> bool:
    return bool(version) and version != "(devel)" and not path.startswith(("./", "../", "/"))


def to_packages(info: BuildInfo, location: str) -> list[Package]:
    """Main module (when it has a released version), every dependency, and `stdlib`.

    A module replaced by a local directory has no version and is not published: skipped, as
    for go.mod. `(devel)` main modules (built from a checkout) are skipped for the same reason.
    """
    out: list[Package] = []
    if info.main and _published(*info.main):
        out.append(Package(info.main[0], _version(info.main[1]), "Go", location, extra={"main": True}))
    out += [Package(path, _version(ver), "Go", location) for path, ver in info.deps if _published(path, ver)]
    go = info.go_version.split()[0] if info.go_version.strip() else ""
    if go.startswith("go") and go[2:3].isdigit():
        out.append(Package("stdlib", go[2:], "Go", location, extra={"binary_path": info.path}))
    return out


def read_binary(path: Path, location: str) -> list[Package]:
    """Packages of one executable outside any scan, [] when it is not a Go ELF binary."""
    path = Path(path)
    return read_binary_in(RootFS(path.parent), "/" + path.name, location)


def read_binary_in(fs: RootFS, host: str, location: str) -> list[Package]:
    """Entry point for the walk: one regular executable under a root (opened through its resolver)."""
    handle = fs.open(host, follow=False)
    if handle is None:
        return []
    try:
        with handle:
            info = read_buildinfo(handle, location)
    except InventoryError:
        raise
    except (OSError, struct.error, ValueError) as exc:
        raise InventoryError(location, f"unreadable executable: {exc}") from exc
    return to_packages(info, location) if info else []
