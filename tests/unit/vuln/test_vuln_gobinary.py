"""Go build info from ELF files written here: both blob formats, with and without a section table,
32/64-bit, both byte orders; damaged blobs are notices. A real Debian Go binary is checked in
tests/integration/test_vuln_gobinary_real.py."""

import struct

import pytest
from vuln_helpers import osv_record, write_records

from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.vuln.inventory import files, gobinary
from hostwarden.scan.vuln.inventory.model import InventoryError
from hostwarden.scan.vuln.scanner import VulnScanner

MAGIC = b"\xff Go buildinf:"
SENTINEL_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
SENTINEL_END = bytes.fromhex("f932433186182072008242104116d8f2")
BASE = 0x4D0000
DATA_OFF = 0x1000

MODINFO = (
    "path\texample.com/app/cmd/server\n"
    "mod\texample.com/app\tv1.4.2\th1:abc=\n"
    "dep\tgolang.org/x/net\tv0.17.0\th1:def=\n"
    "dep\tgithub.com/old/lib\tv1.0.0\th1:ghi=\n"
    "=>\tgithub.com/fork/lib\tv1.0.1-fixed\th1:jkl=\n"
    "dep\tgithub.com/local/thing\tv0.0.0\n"
    "=>\t../thing\t\n"
    "dep\tgithub.com/x/compat\tv2.0.0+incompatible\th1:mno=\n"
    "build\t-compiler=gc\nbuild\tGOOS=linux\n"
)
EXPECTED = [
    ("example.com/app", "1.4.2"), ("github.com/fork/lib", "1.0.1-fixed"), ("github.com/x/compat", "2.0.0"),
    ("golang.org/x/net", "0.17.0"), ("stdlib", "1.21.4"),
]


def uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def inline_blob(version: str, modinfo: str) -> bytes:
    """Go ≥ 1.18: 32-byte header (flags bit 1 set), then varint-prefixed version and module info."""
    mod = SENTINEL_START + modinfo.encode() + SENTINEL_END
    head = MAGIC + bytes([8, 2]) + b"\0" * 16
    return head + uvarint(len(version)) + version.encode() + uvarint(len(mod)) + mod


def pointer_blob(version: str, modinfo: str, *, is64: bool, big: bool) -> bytes:
    """Go 1.13–1.17: two pointers to Go string headers (data pointer, length) in the data segment."""
    p = 8 if is64 else 4
    fmt = (">" if big else "<") + ("Q" if is64 else "I")
    mod = (SENTINEL_START + modinfo.encode() + SENTINEL_END)
    hdr_version, hdr_mod = BASE + 32, BASE + 32 + 2 * p
    str_version = BASE + 32 + 4 * p
    str_mod = str_version + len(version)
    head = MAGIC + bytes([p, 1 if big else 0]) + struct.pack(fmt, hdr_version) + struct.pack(fmt, hdr_mod)
    head += b"\0" * (32 - len(head))
    return (head + struct.pack(fmt, str_version) + struct.pack(fmt, len(version))
            + struct.pack(fmt, str_mod) + struct.pack(fmt, len(mod)) + version.encode() + mod)


def elf(data: bytes, *, is64: bool = True, big: bool = False, sections: bool = True) -> bytes:
    """A minimal ELF executable: one writable PT_LOAD holding `data` at BASE, optional section table."""
    e = ">" if big else "<"
    ehsize, phentsize, shentsize = (64, 56, 64) if is64 else (52, 32, 40)
    shstrtab = b"\0.go.buildinfo\0.shstrtab\0"
    str_off = DATA_OFF + len(data)
    sh_off = str_off + len(shstrtab)
    sh_off += -sh_off % 8
    shnum = 3 if sections else 0
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 2 if big else 1, 1]) + b"\0" * 9
    if is64:
        header = ident + struct.pack(e + "HHIQQQIHHHHHH", 2, 62, 1, BASE, ehsize, sh_off if sections else 0, 0,
                                     ehsize, phentsize, 1, shentsize, shnum, 2 if sections else 0)
        phdr = struct.pack(e + "IIQQQQQQ", 1, 6, DATA_OFF, BASE, BASE, len(data), len(data), 0x1000)
    else:
        header = ident + struct.pack(e + "HHIIIIIHHHHHH", 2, 3, 1, BASE, ehsize, sh_off if sections else 0, 0,
                                     ehsize, phentsize, 1, shentsize, shnum, 2 if sections else 0)
        phdr = struct.pack(e + "IIIIIIII", 1, DATA_OFF, BASE, BASE, len(data), len(data), 6, 0x1000)
    out = bytearray(header + phdr)
    out += b"\0" * (DATA_OFF - len(out))
    out += data + shstrtab
    out += b"\0" * (sh_off - len(out))
    if sections:
        def sh(name, kind, addr, off, size):
            if is64:
                return struct.pack(e + "IIQQQQIIQQ", name, kind, 3, addr, off, size, 0, 0, 16, 0)
            return struct.pack(e + "IIIIIIIIII", name, kind, 3, addr, off, size, 0, 0, 16, 0)
        out += sh(0, 0, 0, 0, 0) + sh(1, 1, BASE, DATA_OFF, len(data)) + sh(15, 3, 0, str_off, len(shstrtab))
    return bytes(out)


def write_exe(path, content: bytes, mode=0o755):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(mode)
    return path


def names(pkgs):
    return sorted((p.name, p.version) for p in pkgs)


@pytest.mark.parametrize("sections", [True, False])
def test_inline_buildinfo_go_1_18_and_later(tmp_path, sections):
    exe = write_exe(tmp_path / "server", elf(inline_blob("go1.21.4", MODINFO), sections=sections))
    pkgs = gobinary.read_binary(exe, "/server")
    assert names(pkgs) == EXPECTED
    assert {p.ecosystem for p in pkgs} == {"Go"} and {p.location for p in pkgs} == {"/server"}


@pytest.mark.parametrize(("is64", "big"), [(True, False), (False, False), (False, True), (True, True)])
def test_pointer_buildinfo_before_go_1_18(tmp_path, is64, big):
    exe = write_exe(tmp_path / "old", elf(pointer_blob("go1.16.15", MODINFO, is64=is64, big=big), is64=is64, big=big))
    pkgs = gobinary.read_binary(exe, "/old")
    assert names(pkgs) == [*EXPECTED[:-1], ("stdlib", "1.16.15")]


def test_devel_main_module_and_gopath_build_give_only_stdlib(tmp_path):
    exe = write_exe(tmp_path / "dev", elf(inline_blob("go1.22.1", "path\tcmd/dev\nmod\tcmd/dev\t(devel)\t\n")))
    assert names(gobinary.read_binary(exe, "/dev")) == [("stdlib", "1.22.1")]


def test_non_go_files_yield_nothing(tmp_path):
    assert gobinary.read_binary(write_exe(tmp_path / "c", elf(b"\0" * 64)), "/c") == []
    assert gobinary.read_binary(write_exe(tmp_path / "s", b"#!/bin/sh\necho hi\n" * 10), "/s") == []


@pytest.mark.parametrize("damage", [
    lambda b: b[: b.index(MAGIC) + 40],  # varint lengths run past the blob
    lambda b: b.replace(MAGIC + bytes([8, 2]), MAGIC + bytes([3, 0])),  # pointer format with pointer size 3
    lambda b: b.replace(MAGIC + bytes([8, 2]), MAGIC + bytes([8, 0])),  # pointers to nowhere
])
def test_damaged_buildinfo_is_an_inventory_error(tmp_path, damage):
    exe = write_exe(tmp_path / "bad", damage(elf(inline_blob("go1.21.4", MODINFO), sections=False)))
    with pytest.raises(InventoryError) as info:
        gobinary.read_binary(exe, "/bad")
    assert "Go buildinfo" in info.value.reason


def test_walk_reads_only_executable_regular_files(tmp_path):
    blob = elf(inline_blob("go1.21.4", MODINFO))
    write_exe(tmp_path / "usr/local/bin/server", blob)
    write_exe(tmp_path / "srv/not-executable", blob, mode=0o644)
    (tmp_path / "usr/local/bin/link").symlink_to("server")
    write_exe(tmp_path / "usr/local/bin/broken", elf(inline_blob("go1.21.4", MODINFO))[:DATA_OFF + 40])
    inv = files.collect(tmp_path)
    assert {p.location for p in inv.packages} == {"/usr/local/bin/server"}
    assert names(inv.packages) == EXPECTED
    assert [e.path for e in inv.errors] == ["/usr/local/bin/broken"]


def test_scanner_matches_go_binary_dependency_and_stdlib(tmp_path):
    write_exe(tmp_path / "root/usr/local/bin/server", elf(inline_blob("go1.21.4", MODINFO)))
    adv = write_records(tmp_path / "adv", [
        osv_record("GO-2023-2102", "Go", "golang.org/x/net", [{"introduced": "0"}, {"fixed": "0.17.0"}]),
        osv_record("GO-2024-2687", "Go", "stdlib", [{"introduced": "1.21.0"}, {"fixed": "1.21.9"}]),
        osv_record("GO-2024-9999", "Go", "github.com/fork/lib", [{"introduced": "1.0.0"}, {"fixed": "1.0.2"}]),
    ])
    ctx = ScanContext(root=tmp_path / "root", options={"advisories": str(adv), "supply_chain": False})
    got = sorted((f["package.name"], f["vulnerability.id"]) for f in ecs_records(VulnScanner().scan(ctx)))
    assert got == [("github.com/fork/lib", "GO-2024-9999"), ("stdlib", "GO-2024-2687")]


def test_sbom_golang_purls(tmp_path):
    from hostwarden.scan.vuln.sbom import build_sbom

    write_exe(tmp_path / "bin/server", elf(inline_blob("go1.21.4", MODINFO)))
    purls = {c.get("purl") for c in build_sbom(root=tmp_path)["components"]}
    assert {"pkg:golang/golang.org/x/net@0.17.0", "pkg:golang/example.com/app@1.4.2", "pkg:golang/stdlib@1.21.4"} <= purls
