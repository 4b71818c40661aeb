"""Values of a Berkeley DB *hash* database: enough to read rpm's legacy `Packages` file (RHEL ≤ 8, CentOS 7).

Layout (Berkeley DB 4.x/5.x on-disk format, db_page.h):

* page 0 is the hash metadata page: magic 0x061561 at offset 12 (its byte order tells the byte
  order of the whole file), page size at 20, last page number at 32;
* every page starts with a 26-byte header: page number at 8, next page at 16, entry count at
  20, `hf_offset` at 22 (on overflow pages: bytes used), page type at 25;
* hash pages (types 2 and 13) hold an array of 16-bit item offsets after the header; items
  alternate key, data. An item starts with its type: 1 (H_KEYDATA) data follows inline, its end
  being the start of the previous item (or the page end); 3 (H_OFFPAGE) the data lives in a
  chain of overflow pages (type 7) from the page number at item+4, total length at item+8.

rpm stores one record per package: a 4-byte instance number as key, the header blob as data
(plus record 0, a counter, which is skipped). Duplicate items (types 2 and 4) are never used by
rpm and are skipped. Every page number, offset and length is checked; an overflow chain that
loops or runs long is an error, not a hang.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

HASH_MAGIC = 0x061561
PAGE_HEADER = 26
P_HASH_UNSORTED, P_OVERFLOW, P_HASH = 2, 7, 13
H_KEYDATA, H_OFFPAGE = 1, 3
MAX_VALUE = 256 << 20


class BdbError(ValueError):
    """Not a Berkeley DB hash file, or one whose pages do not hold together."""


class HashDB:
    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh = fh
        meta = self._read(0, 72)
        if len(meta) < 72:
            raise BdbError("shorter than a Berkeley DB metadata page")
        for endian in ("<", ">"):
            if struct.unpack_from(endian + "I", meta, 12)[0] == HASH_MAGIC:
                self.e = endian
                break
        else:
            raise BdbError("no Berkeley DB hash magic (is this a btree, ndb or sqlite database?)")
        self.page_size, = struct.unpack_from(self.e + "I", meta, 20)
        self.last_pgno, = struct.unpack_from(self.e + "I", meta, 32)
        if self.page_size < 512 or self.page_size > 65536 or self.page_size & (self.page_size - 1):
            raise BdbError(f"page size {self.page_size} is not a power of two in 512..65536")
        if (self.last_pgno + 1) * self.page_size > size:
            raise BdbError(f"{self.last_pgno + 1} pages of {self.page_size} bytes do not fit in {size} bytes")
        if meta[25] != 8:
            raise BdbError(f"metadata page type {meta[25]} is not hash (8)")

    def _read(self, offset: int, size: int) -> bytes:
        self.fh.seek(offset)
        return self.fh.read(size)

    def page(self, pgno: int) -> bytes:
        if not 0 <= pgno <= self.last_pgno:
            raise BdbError(f"page {pgno} outside 0..{self.last_pgno}")
        data = self._read(pgno * self.page_size, self.page_size)
        if len(data) != self.page_size:
            raise BdbError(f"page {pgno} truncated")
        return data

    def _overflow(self, pgno: int, total: int) -> bytes:
        if total > MAX_VALUE:
            raise BdbError(f"value of {total} bytes is over the {MAX_VALUE}-byte limit")
        out = bytearray()
        seen: set[int] = set()
        while pgno and len(out) < total:
            if pgno in seen:
                raise BdbError(f"overflow chain loops at page {pgno}")
            seen.add(pgno)
            page = self.page(pgno)
            if page[25] != P_OVERFLOW:
                raise BdbError(f"page {pgno} in an overflow chain has type {page[25]}")
            used, = struct.unpack_from(self.e + "H", page, 22)
            if PAGE_HEADER + used > self.page_size:
                raise BdbError(f"overflow page {pgno} claims {used} bytes")
            out += page[PAGE_HEADER : PAGE_HEADER + used]
            pgno, = struct.unpack_from(self.e + "I", page, 16)
        if len(out) < total:
            raise BdbError(f"overflow chain ends after {len(out)} of {total} bytes")
        return bytes(out[:total])

    def _item(self, page: bytes, offsets: list[int], i: int) -> bytes | None:
        start = offsets[i]
        if not PAGE_HEADER <= start < self.page_size:
            raise BdbError(f"item offset {start} outside the page")
        kind = page[start]
        if kind == H_KEYDATA:
            end = offsets[i - 1] if i > 0 else self.page_size
            if not start < end <= self.page_size:
                raise BdbError(f"item at {start} ends at {end}")
            return page[start + 1 : end]
        if kind == H_OFFPAGE:
            if start + 12 > self.page_size:
                raise BdbError(f"off-page item at {start} truncated")
            pgno, total = struct.unpack_from(self.e + "II", page, start + 4)
            return self._overflow(pgno, total)
        return None  # duplicates: not used by rpm

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs of every hash page, in page order."""
        for pgno in range(1, self.last_pgno + 1):
            page = self.page(pgno)
            if page[25] not in (P_HASH, P_HASH_UNSORTED):
                continue
            entries, = struct.unpack_from(self.e + "H", page, 20)
            if PAGE_HEADER + 2 * entries > self.page_size:
                raise BdbError(f"page {pgno} claims {entries} entries")
            offsets = list(struct.unpack_from(self.e + f"{entries}H", page, PAGE_HEADER))
            for i in range(0, entries - 1, 2):
                key, value = self._item(page, offsets, i), self._item(page, offsets, i + 1)
                if key is not None and value is not None:
                    yield key, value


def read_values(fh: BinaryIO, size: int) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs of a Berkeley DB hash file; BdbError when it is not one or is damaged."""
    try:
        yield from HashDB(fh, size).items()
    except struct.error as exc:
        raise BdbError(f"truncated structure: {exc}") from exc
