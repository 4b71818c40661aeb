"""What a file's bytes are, and its content as bounded blocks: plain, or gzip decoded step by step.

- Binary content is recognised from the first block by what a log writer cannot produce, not
  by what an attacker can put in a line: NUL bytes throughout it (syslog, sshd, nginx and Apache
  write C strings, which end at a NUL) — at least a quarter of its bytes in lines that hold one,
  once runs of NULs are set aside: a log zero-filled by a crash, or by a writer that kept its
  offset across a copytruncate, is still a log (a sparse start reads as one cut line). Control characters do not make a file binary: a 2004
  Apache log that logged an exploit's shellcode verbatim has 13% of them in its first block,
  and skipping it would hide the attack (`grep -I` would skip it; hostwarden must not). Bytes
  >= 0x80 are text too (UTF-8, Latin-1; such lines are tagged `invalid_utf8`).
- Known binary formats and compression hostwarden does not decode (ELF, journal files, SQLite,
  images, xz, bzip2, zstd, zip, ...) are named by their magic bytes.
- gzip is decoded in steps of at most DECODE_STEP output bytes (zlib's `max_length`), so a 4.6 MB
  gzip of zeros no longer becomes a 2.2 GB bytes object, and the whole output is capped at
  EXPAND_RATIO times the compressed size (never below EXPAND_FLOOR): past it, the rest of the file
  is not read and the caller is told (LOG-4105). Real logs compress 5-40:1, a log of one line
  repeated ~300:1; deflate cannot exceed ~1032:1, which is what bombs use.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator

DECODE_STEP = 1 << 20  # gzip output per decompression call
EXPAND_RATIO = 500  # decoded bytes allowed per compressed byte, past EXPAND_FLOOR
EXPAND_FLOOR = 1 << 20  # a small file may decode to this much whatever its ratio
SNIFF_BYTES = 8192  # the block the binary test looks at (grep looks at its first buffer)
ZERO_FILL = 8  # a run of this many NULs is padding (preallocated or crash-damaged), not content
GZIP_MAGIC = b"\x1f\x8b"
_UNDECODED = (  # magic bytes of binary, compressed or archive formats that are not read
    (b"\x7fELF", "an ELF executable or core dump"),
    (b"LPKSHHRH", "a systemd journal file (read it with `ingest --journald` or journalctl)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xca\xfe\xba\xbe", "a Java class or Mach-O file"),
    (b"\xfd7zXZ\x00", "xz-compressed"),
    (b"BZh", "bzip2-compressed"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
    (b"\x04\x22\x4d\x18", "lz4-compressed"),
    (b"LZIP", "lzip-compressed"),
    (b"\x5d\x00\x00", "lzma-compressed"),
    (b"PK\x03\x04", "a zip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-zip archive"),
    (b"\x1f\x9d", "compress(1)-compressed"),
)
_ZERO_RUN = re.compile(b"\x00{%d,}" % ZERO_FILL)
TEXT_SHARE = 0.8  # a first block with more text characters than this is text, whatever NULs it holds


def undecoded_format(head: bytes) -> str | None:
    """'xz-compressed' etc. when the raw first bytes name a format that is not decoded."""
    for magic, name in _UNDECODED:
        if head.startswith(magic):
            if name == "bzip2-compressed" and not head[3:4].isdigit():
                continue  # "BZh" then the block size digit; "BZh" alone may start a text line
            if name == "lzma-compressed" and len(head) < 13:
                continue
            return name
    return None


def binary_reason(head: bytes) -> str | None:
    """Why the first decoded bytes of a file are not text, or None if they are.

    Binary means NUL bytes throughout the first block *and* a block that is mostly not text. The
    second half matters: a log whose first lines carry a few NULs an attacker sent (an app that
    logs request data raw) must still be read, or writing one such line right after a rotation
    would hide everything that follows. See `text_share`: random bytes score about 0.55, a log
    with NULs in a few of its lines over 0.95."""
    block = head[:SNIFF_BYTES]
    if b"\x00" not in block:
        return None  # the common case, at C speed
    rest = _ZERO_RUN.sub(b"", block)
    in_nul_lines = sum(len(line) + 1 for line in rest.split(b"\n") if b"\x00" in line)
    if 4 * in_nul_lines > len(rest) > 0 and text_share(rest) < TEXT_SHARE:
        return f"binary (NUL bytes throughout its first block: {min(100, in_nul_lines * 100 // len(rest))}% of it)"
    return None


def text_share(block: bytes) -> float:
    """Share of the block's characters that are text: printable (any script, as valid UTF-8), tab,
    CR or LF; invalid UTF-8 and control characters are not."""
    text = block.decode("utf-8", "replace")
    if not text:
        return 1.0
    texty = sum(1 for ch in text if ch in "\t\r\n" or (ch.isprintable() and ch != "\ufffd"))
    return texty / len(text)


def content_reason(raw_head: bytes, decoded_head: bytes) -> str | None:
    """Why a file is skipped, from its raw first bytes and its first decoded bytes; None to read it."""
    return undecoded_format(raw_head) or undecoded_format(decoded_head) or binary_reason(decoded_head)


def decodes_as_gzip(head: bytes) -> bool:
    """The gzip magic alone is two bytes a plain log can start with; such a file would decode to
    nothing and every line would be lost. Gzip is what yields output, or decodes without error."""
    if len(head) < 18 or head[:2] != GZIP_MAGIC or head[2] != 8 or head[3] & 0xE0:
        return False  # header + trailer; deflate; no reserved flags
    try:  # stops after the first decoded byte: a damaged real gzip still counts, its prefix is kept
        zlib.decompressobj(wbits=31).decompress(head[: 1 << 16], 1)
    except zlib.error:
        return False
    return True


def gunzip_blocks(raw_blocks: Iterator[bytes], on_damage: Callable[[Exception], None], *,
                  compressed_size: int | None = None, on_limit: Callable[[int], None] | None = None,
                  step: int = DECODE_STEP) -> Iterator[bytes]:
    """Decompress (multi-member) gzip in steps of at most `step` bytes, yielding everything
    decodable even from a damaged file, and stopping (with `on_limit(decoded bytes)`) once the
    output passes the expansion limit. `compressed_size` is the file's size when known; for a
    pipe, the compressed bytes read so far stand in for it."""
    decoder = zlib.decompressobj(wbits=31)
    fed = False  # has the current member's decoder seen input?
    consumed = produced = 0
    for raw in raw_blocks:
        consumed += len(raw)
        data = raw
        while data:
            fed = True
            try:
                out = decoder.decompress(data, step)
            except zlib.error as exc:
                on_damage(exc)
                return
            if out:
                produced += len(out)
                yield out
                if produced > max(EXPAND_FLOOR, EXPAND_RATIO * (compressed_size or consumed)):
                    if on_limit is not None:
                        on_limit(produced)
                    return
            if not decoder.eof:
                data = decoder.unconsumed_tail
                continue
            data = decoder.unused_data
            decoder = zlib.decompressobj(wbits=31)
            fed = False
            if len(data) >= 2 and data[:2] != GZIP_MAGIC:
                on_damage(zlib.error("trailing data after the last gzip member"))
                return
    if fed:
        tail = decoder.flush()
        if tail:
            yield tail
        on_damage(EOFError("compressed file ended before the end-of-stream marker"))


def open_content(read: Callable[[int], bytes], *, block_bytes: int, head_bytes: int, compressed_size: int | None,
                 on_damage: Callable[[Exception], None], on_limit: Callable[[int], None] | None = None,
                 ) -> tuple[bytes, bool, bytes, Iterator[bytes]]:
    """A file's content from its first byte: (raw head, is gzip, first `head_bytes` decoded bytes,
    all decoded blocks, the head included). One function, so the reader and `classify` (which
    decides for folder walks) can never disagree about what a file holds."""
    raw_head, raw = take_head(plain_blocks(read, block_bytes), head_bytes)
    gz = decodes_as_gzip(raw_head)
    blocks = gunzip_blocks(raw, on_damage, compressed_size=compressed_size, on_limit=on_limit) if gz else raw
    head, blocks = take_head(blocks, head_bytes)
    return raw_head, gz, head, blocks


def plain_blocks(read: Callable[[int], bytes], size: int) -> Iterator[bytes]:
    while block := read(size):
        yield block


def take_head(blocks: Iterator[bytes], want: int) -> tuple[bytes, Iterator[bytes]]:
    """The first `want` bytes of a block stream (fewer if it is shorter), and the whole stream
    again (the head is not consumed). gzip may decode a first member of a few bytes: gather."""
    parts: list[bytes] = []
    have = 0
    for block in blocks:
        parts.append(block)
        have += len(block)
        if have >= want:
            break
    return b"".join(parts)[:want], _chain(parts, blocks)


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest
