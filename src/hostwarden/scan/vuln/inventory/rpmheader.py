"""The rpm header format, decoded by hand so an rpmdb can be read without rpm installed.

A header as rpmdb stores it (the `blob` column of rpmdb.sqlite's `Packages` table; the same
bytes follow the 8-byte magic in a .rpm file) is:

    int32 il   number of index entries      (big-endian, like every integer here)
    int32 dl   size of the data store
    il x 16 bytes  entries: tag, type, offset (into the data store), count
    dl bytes       data store

The first entry is usually a *region* tag (61–63, RPMTAG_HEADERIMMUTABLE for installed
packages) whose data is a 16-byte trailer pointing back at the index. It only tells rpm which
entries were signed; every real tag still has its own index entry, so a reader that wants values
skips regions and reads the entries. Tags rpm adds after install (INSTALLTIME, …) are plain
entries after the region, read the same way.

Everything comes from untrusted images: counts, offsets and string ends are checked against the
blob, sizes are capped, and damage raises `HeaderError` (turned into a SCAN-9013 notice), never
an IndexError or a MemoryError.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Tags this project reads (rpmtag.h).
NAME, VERSION, RELEASE, EPOCH, ARCH, VENDOR, SOURCERPM, MODULARITYLABEL = 1000, 1001, 1002, 1003, 1022, 1011, 1044, 5096
REGION_TAGS = frozenset({61, 62, 63, 64})  # HEADERSIGNATURES, HEADERIMMUTABLE, HEADERREGIONS, HEADERI18NTABLE

# Types (rpmtag.h rpmTagType_e).
NULL, CHAR, INT8, INT16, INT32, INT64, STRING, BIN, STRING_ARRAY, I18NSTRING = range(10)
_INT_FORMATS = {CHAR: ("B", 1), INT8: ("B", 1), INT16: (">H", 2), INT32: (">I", 4), INT64: (">Q", 8)}

MAX_ENTRIES = 1 << 16  # rpm's own hdrchkTags limit
MAX_DATA = 256 << 20  # rpm's hdrchkData limit: 256 MiB
MAGIC = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"  # precedes a header inside a .rpm file, absent in rpmdb blobs

Value = str | int | bytes | list[str] | list[int]


class HeaderError(ValueError):
    """A header blob whose counts, offsets or types do not hold together."""


@dataclass(frozen=True, slots=True)
class Entry:
    tag: int
    type: int
    offset: int
    count: int


def parse_entries(blob: bytes) -> tuple[list[Entry], bytes]:
    """The index entries and the data store of one header blob, bounds-checked."""
    if len(blob) >= 8 and blob[:8] == MAGIC:
        blob = blob[8:]
    if len(blob) < 8:
        raise HeaderError(f"header of {len(blob)} bytes is shorter than its 8-byte preamble")
    il, dl = struct.unpack_from(">ii", blob, 0)
    if not 0 < il <= MAX_ENTRIES:
        raise HeaderError(f"index entry count {il} out of range")
    if not 0 <= dl <= MAX_DATA:
        raise HeaderError(f"data size {dl} out of range")
    start = 8 + 16 * il
    if start + dl > len(blob):
        raise HeaderError(f"header claims {start + dl} bytes but the blob has {len(blob)}")
    entries = [Entry(*struct.unpack_from(">iiii", blob, 8 + 16 * i)) for i in range(il)]
    store = bytes(blob[start : start + dl])
    for e in entries:
        if e.type < NULL or e.type > I18NSTRING:
            raise HeaderError(f"tag {e.tag}: unknown type {e.type}")
        if e.offset < 0 or e.offset > dl:
            raise HeaderError(f"tag {e.tag}: offset {e.offset} outside the {dl}-byte data store")
        if e.count < 0 or e.count > dl + 1:
            raise HeaderError(f"tag {e.tag}: count {e.count} out of range")
    return entries, store


def _strings(store: bytes, entry: Entry) -> list[str]:
    out: list[str] = []
    pos = entry.offset
    for _ in range(entry.count):
        end = store.find(b"\0", pos)
        if end < 0:
            raise HeaderError(f"tag {entry.tag}: string runs past the end of the data store")
        out.append(store[pos:end].decode("utf-8", errors="replace"))
        pos = end + 1
    return out


def value(store: bytes, entry: Entry) -> Value:
    """One entry's value: str for STRING, list[str] for arrays, int/list[int] for numbers, bytes for BIN."""
    if entry.type == STRING:
        return _strings(store, Entry(entry.tag, entry.type, entry.offset, 1))[0]
    if entry.type in (STRING_ARRAY, I18NSTRING):
        return _strings(store, entry)
    if entry.type == BIN:
        if entry.offset + entry.count > len(store):
            raise HeaderError(f"tag {entry.tag}: {entry.count} bytes past the end of the data store")
        return bytes(store[entry.offset : entry.offset + entry.count])
    if entry.type in _INT_FORMATS:
        fmt, size = _INT_FORMATS[entry.type]
        if entry.offset + size * entry.count > len(store):
            raise HeaderError(f"tag {entry.tag}: {entry.count} integers past the end of the data store")
        ints = [struct.unpack_from(fmt, store, entry.offset + size * i)[0] for i in range(entry.count)]
        return ints[0] if entry.count == 1 else ints
    return b""


def read_tags(blob: bytes, wanted: frozenset[int] | set[int] | None = None) -> dict[int, Value]:
    """Tag -> value for the wanted tags (all non-region tags when None); first occurrence wins."""
    entries, store = parse_entries(blob)
    out: dict[int, Value] = {}
    for entry in entries:
        if entry.tag in REGION_TAGS or entry.tag in out or (wanted is not None and entry.tag not in wanted):
            continue
        out[entry.tag] = value(store, entry)
    return out
