"""rpm: header blobs written by a small writer here (independent of the decoder), in an rpmdb.sqlite
with rpm's own schema; hostile headers become notices. The check against real rpm-built headers
and `rpm -qa` is tests/integration/test_vuln_rpm_real.py."""

import sqlite3
import struct

import pytest
from vuln_helpers import osv_record, write_records

from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.vuln.inventory import files, ospkg, rpm
from hostwarden.scan.vuln.inventory import rpmheader as rh
from hostwarden.scan.vuln.scanner import VulnScanner

STRING, INT32, BIN, STRING_ARRAY = 6, 4, 7, 8


def header(tags: dict, *, region: bool = True) -> bytes:
    """An rpm header blob: int32 il, int32 dl, il 16-byte entries, data store; region entry first."""
    entries, data = [], bytearray()
    for tag, val in tags.items():
        if isinstance(val, str):
            kind, raw, count = STRING, val.encode() + b"\0", 1
        elif isinstance(val, int):
            data += b"\0" * (-len(data) % 4)
            kind, raw, count = INT32, struct.pack(">I", val), 1
        else:
            kind, raw, count = STRING_ARRAY, b"".join(v.encode() + b"\0" for v in val), len(val)
        entries.append((tag, kind, len(data), count))
        data += raw
    if region:
        trailer = len(data)
        data += struct.pack(">iiii", 63, BIN, -(len(entries) + 1) * 16, 16)
        entries.insert(0, (63, BIN, trailer, 16))
    index = b"".join(struct.pack(">iiii", *e) for e in entries)
    return struct.pack(">ii", len(entries), len(data)) + index + bytes(data)


def pkg_tags(name, version, release, *, epoch=None, arch="x86_64", source=None):
    tags = {1000: name, 1001: version, 1002: release, 1022: arch, 1044: source or f"{name}-{version}-{release}.src.rpm"}
    if epoch is not None:
        tags[1003] = epoch
    tags[1027] = ["/usr/bin/a", "/usr/bin/b"]  # OLDFILENAMES: an array the reader must step over
    return tags


def make_rpm_root(root, blobs, *, os_release='ID="rocky"\nVERSION_ID="9.3"\nID_LIKE="rhel centos fedora"\n',
                  dbdir="var/lib/rpm"):
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").write_text(os_release)
    (root / dbdir).mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(root / dbdir / "rpmdb.sqlite")
    conn.execute("CREATE TABLE IF NOT EXISTS 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)")
    conn.executemany("INSERT INTO Packages (blob) VALUES (?)", [(b,) for b in blobs])
    conn.commit()
    conn.close()
    return root


@pytest.fixture(autouse=True)
def no_rpm_binary(monkeypatch):
    """The decoder alone is under test here, whether or not rpm is installed."""
    monkeypatch.setattr(rpm, "rpm_binary", lambda: None)


def test_header_decodes_strings_ints_and_skips_region_and_arrays():
    blob = header(pkg_tags("openssl-libs", "3.0.7", "24.el9", epoch=1, source="openssl-3.0.7-24.el9.src.rpm"))
    rec = rpm.record_from_header(blob)
    assert rec == rpm.RpmRecord("openssl-libs", 1, "3.0.7", "24.el9", "x86_64", "openssl-3.0.7-24.el9.src.rpm")
    assert rh.read_tags(blob)[1027] == ["/usr/bin/a", "/usr/bin/b"]
    labelled = rpm.record_from_header(header({**pkg_tags("nodejs", "18.19.0", "1.module+el8.9.0+1"),
                                              1011: "Rocky Enterprise Software Foundation", 5096: "nodejs:18:8090:abc"}))
    assert (labelled.vendor, labelled.modularity_label) == ("Rocky Enterprise Software Foundation", "nodejs:18:8090:abc")
    assert 63 not in rh.read_tags(blob)
    # the 8-byte magic that precedes headers in .rpm files is accepted too
    assert rpm.record_from_header(rh.MAGIC + header(pkg_tags("a", "1", "1"), region=False)).name == "a"


def test_rpmdb_sqlite_packages_with_source_and_epoch(tmp_path):
    root = make_rpm_root(tmp_path, [
        header(pkg_tags("openssl-libs", "3.0.7", "24.el9", epoch=1, source="openssl-3.0.7-24.el9.src.rpm")),
        header(pkg_tags("bash", "5.1.8", "6.el9_1")),
        header({1000: "gpg-pubkey", 1001: "5a6340b3", 1002: "6229229e"}),  # an imported key, not software
    ])
    inv = files.collect(root)
    got = sorted((p.name, p.version, p.ecosystem, p.source_name, p.source_version, p.location) for p in inv.packages)
    assert got == [
        ("bash", "5.1.8-6.el9_1", "Rocky Linux:9", "bash", "5.1.8-6.el9_1", "/var/lib/rpm/rpmdb.sqlite"),
        ("openssl-libs", "1:3.0.7-24.el9", "Rocky Linux:9", "openssl", "1:3.0.7-24.el9", "/var/lib/rpm/rpmdb.sqlite"),
    ]
    assert inv.errors == []


def test_sysimage_location_and_symlinked_var_lib_rpm_read_once(tmp_path):
    root = make_rpm_root(tmp_path, [header(pkg_tags("curl", "8.2.1", "3.fc39"))],
                         os_release="ID=fedora\nVERSION_ID=39\n", dbdir="usr/lib/sysimage/rpm")
    (root / "var/lib").mkdir(parents=True)
    (root / "var/lib/rpm").symlink_to("../../usr/lib/sysimage/rpm")
    pkgs, errors = rpm.read_rpmdb(root, ospkg.read_os_release(root))
    assert [(p.name, p.ecosystem, p.location) for p in pkgs] == [
        ("curl", "Fedora:39", "/usr/lib/sysimage/rpm/rpmdb.sqlite")]
    assert errors == []


def _truncated(blob):
    return blob[: len(blob) // 2]


def _bad_count(blob):
    return struct.pack(">i", 10**6) + blob[4:]


def _bad_data_len(blob):
    return blob[:4] + struct.pack(">i", 10**8) + blob[8:]


def _bad_offset(blob):
    # entry 1 (NAME) offset far outside the data store
    return blob[:8 + 16 + 8] + struct.pack(">i", 99999) + blob[8 + 16 + 12:]


def _bad_type(blob):
    return blob[:8 + 16 + 4] + struct.pack(">i", 42) + blob[8 + 16 + 8:]


def _unterminated(blob):
    assert blob.endswith(b"x86_64\0")  # the last string of the data store loses its NUL
    return blob[:-1] + b"X"


@pytest.mark.parametrize("damage", [_truncated, _bad_count, _bad_data_len, _bad_offset, _bad_type, _unterminated,
                                    lambda b: b"", lambda b: b"\x00\x00\x00\x01"])
def test_hostile_header_is_a_notice_and_the_rest_still_reads(tmp_path, damage):
    bad = damage(header({1000: "hostile", 1001: "1", 1002: "1", 1022: "x86_64"}, region=False))
    root = make_rpm_root(tmp_path, [bad, header(pkg_tags("bash", "5.1.8", "6.el9"))])
    pkgs, errors = rpm.read_rpmdb(root, None)
    assert [p.name for p in pkgs] == ["bash"]
    assert len(errors) == 1 and errors[0].path == "/var/lib/rpm/rpmdb.sqlite" and "header #1" in errors[0].reason


def test_not_a_sqlite_database_is_a_notice(tmp_path):
    (tmp_path / "var/lib/rpm").mkdir(parents=True)
    (tmp_path / "var/lib/rpm/rpmdb.sqlite").write_bytes(b"this is not sqlite" * 100)
    inv = files.collect(tmp_path)
    assert inv.packages == [] and [e.path for e in inv.errors] == ["/var/lib/rpm/rpmdb.sqlite"]


def test_berkeleydb_without_rpm_binary_is_reported_not_silently_empty(tmp_path):
    (tmp_path / "var/lib/rpm").mkdir(parents=True)
    (tmp_path / "var/lib/rpm/Packages").write_bytes(b"\0" * 4096)
    pkgs, errors = rpm.read_rpmdb(tmp_path, None)
    assert pkgs == [] and len(errors) == 1
    assert errors[0].path == "/var/lib/rpm/Packages" and "BerkeleyDB" in errors[0].reason


@pytest.mark.parametrize(("source", "expected"), [
    ("openssl-3.0.7-24.el9.src.rpm", ("openssl", "3.0.7", "24.el9")),
    ("python3.11-3.11.5-1.el9_3.nosrc.rpm", ("python3.11", "3.11.5", "1.el9_3")),
    ("kernel-5.14.0-362.8.1.el9_3.src.rpm", ("kernel", "5.14.0", "362.8.1.el9_3")),
    ("garbage", None), ("a-b.src.rpm", None), ("", None),
])
def test_split_source_rpm(source, expected):
    assert rpm.split_nvr(source) == expected


@pytest.mark.parametrize(("text", "eco"), [
    ('ID="rocky"\nVERSION_ID="9.3"\n', "Rocky Linux:9"),
    ('ID="almalinux"\nVERSION_ID="8.9"\n', "AlmaLinux:8"),
    ('ID="rhel"\nVERSION_ID="9.2"\n', "Red Hat:9"),
    ('ID="opensuse-leap"\nVERSION_ID="15.5"\n', "openSUSE:Leap 15.5"),
    ('ID="opensuse-tumbleweed"\nVERSION_ID="20240101"\n', "openSUSE:Tumbleweed"),
    ('ID="sles"\nVERSION_ID="15.5"\n', "SUSE:Linux Enterprise Server 15 SP5"),
    ('ID="mageia"\nVERSION_ID="9"\n', "Mageia:9"),
    ('ID=fedora\nVERSION_ID=39\n', "Fedora:39"),
])
def test_rpm_ecosystem_names(text, eco):
    assert rpm.rpm_ecosystem(ospkg.parse_os_release(text)) == eco


def test_scanner_matches_rpm_source_package_of_this_release_only(tmp_path):
    root = make_rpm_root(tmp_path / "root", [
        header(pkg_tags("openssl-libs", "3.0.7", "24.el9", epoch=1, source="openssl-3.0.7-24.el9.src.rpm")),
        header(pkg_tags("bash", "5.1.8", "9.el9")),
    ])
    adv = write_records(tmp_path / "adv", [
        osv_record("RLSA-2024:1", "Rocky Linux:9", "openssl", [{"introduced": "0"}, {"fixed": "1:3.0.7-25.el9"}]),
        osv_record("RLSA-2024:2", "Rocky Linux:8", "openssl", [{"introduced": "0"}, {"fixed": "1:9.0-1.el8"}]),
        osv_record("RLSA-2024:3", "Rocky Linux:9", "bash", [{"introduced": "0"}, {"fixed": "5.1.8-9.el9"}]),
    ])
    ctx = ScanContext(root=root, options={"advisories": str(adv), "supply_chain": False})
    findings = ecs_records(VulnScanner().scan(ctx))
    assert [(f["package.name"], f["vulnerability.id"], f["hostwarden.vuln.fixed_version"]) for f in findings] == [
        ("openssl-libs", "RLSA-2024:1", "1:3.0.7-25.el9")]
    assert findings[0]["hostwarden.vuln.source_package"] == "openssl"


def test_sbom_rpm_purl(tmp_path):
    from hostwarden.scan.vuln.sbom import build_sbom

    root = make_rpm_root(tmp_path, [header(pkg_tags("openssl-libs", "3.0.7", "24.el9", epoch=1,
                                                     source="openssl-3.0.7-24.el9.src.rpm"))])
    purls = [c.get("purl") for c in build_sbom(root=root)["components"]]
    assert purls == ["pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=x86_64&distro=rocky-9&epoch=1&upstream=openssl"]


def test_symlinked_rpmdb_file_is_not_followed(tmp_path):
    outside = make_rpm_root(tmp_path / "outside", [header(pkg_tags("host-only", "1", "1"))])
    (tmp_path / "root/var/lib/rpm").mkdir(parents=True)
    (tmp_path / "root/var/lib/rpm/rpmdb.sqlite").symlink_to(outside / "var/lib/rpm/rpmdb.sqlite")
    assert rpm.read_rpmdb(tmp_path / "root", None) == ([], [])


# --- BerkeleyDB `Packages` (hash) written by a small writer here --------------------------------
PAGE = 512


def bdb_hash(records: dict[int, bytes], *, page_size=PAGE, big=False) -> bytes:
    """A Berkeley DB hash file: metadata page, one hash page of key/value items (small values inline
    as H_KEYDATA, larger ones as H_OFFPAGE pointing at overflow page chains)."""
    e = ">" if big else "<"
    pages: list[bytearray] = []
    overflow: list[tuple[int, bytes]] = []  # (first page, data) laid out after the hash page
    next_free = 2
    items: list[bytes] = []
    for hnum, blob in records.items():
        items.append(b"\x01" + struct.pack("<I", hnum))
        if len(blob) < page_size // 4:
            items.append(b"\x01" + blob)
        else:
            chunk = page_size - 26
            count = -(-len(blob) // chunk)
            items.append(b"\x03\0\0\0" + struct.pack(e + "II", next_free, len(blob)))
            overflow.append((next_free, blob))
            next_free += count
    meta = bytearray(page_size)
    struct.pack_into(e + "IIIB", meta, 12, 0x061561, 9, page_size, 0)
    meta[25] = 8
    struct.pack_into(e + "I", meta, 32, next_free - 1)
    page = bytearray(page_size)
    struct.pack_into(e + "I", page, 8, 1)
    struct.pack_into(e + "H", page, 20, len(items))
    page[25] = 13
    end = page_size
    for i, item in enumerate(items):
        end -= len(item)
        page[end:end + len(item)] = item
        struct.pack_into(e + "H", page, 26 + 2 * i, end)
    pages += [meta, page]
    for first, blob in overflow:
        chunk = page_size - 26
        parts = [blob[i:i + chunk] for i in range(0, len(blob), chunk)]
        for n, part in enumerate(parts):
            ov = bytearray(page_size)
            struct.pack_into(e + "III", ov, 8, first + n, first + n - 1 if n else 0,
                             first + n + 1 if n + 1 < len(parts) else 0)
            struct.pack_into(e + "H", ov, 22, len(part))
            ov[25] = 7
            ov[26:26 + len(part)] = part
            pages.append(ov)
    return b"".join(pages)


def bdb_root(tmp_path, data: bytes):
    (tmp_path / "var/lib/rpm").mkdir(parents=True)
    (tmp_path / "var/lib/rpm/Packages").write_bytes(data)
    return tmp_path


BIG = {**pkg_tags("kernel-core", "4.18.0", "513.5.1.el8_9"), 1027: [f"/lib/modules/{i}.ko" for i in range(120)]}


@pytest.mark.parametrize("big", [False, True])
def test_berkeleydb_hash_inline_and_overflow_values(tmp_path, big):
    data = bdb_hash({0: struct.pack("<I", 2), 1: header(pkg_tags("bash", "4.4.20", "4.el8_6")), 2: header(BIG)},
                    big=big)
    root = bdb_root(tmp_path, data)
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text('ID="rocky"\nVERSION_ID="8.9"\n')
    inv = files.collect(root)
    assert sorted((p.name, p.version, p.ecosystem, p.location) for p in inv.packages) == [
        ("bash", "4.4.20-4.el8_6", "Rocky Linux:8", "/var/lib/rpm/Packages"),
        ("kernel-core", "4.18.0-513.5.1.el8_9", "Rocky Linux:8", "/var/lib/rpm/Packages"),
    ]
    assert inv.errors == []


def _loop(data):
    """The overflow chain's second page points back at the first."""
    first = PAGE * 2
    second = bytearray(data[first + PAGE:first + 2 * PAGE])
    struct.pack_into("<I", second, 16, 2)
    return data[:first + PAGE] + bytes(second) + data[first + 2 * PAGE:]


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda d: d[:PAGE + 100], "do not fit"),
    (lambda d: d[:20] + struct.pack("<I", 1000) + d[24:], "page size"),
    (lambda d: d[:12] + b"\x62\x31\x05\x00" + d[16:], "magic"),
    (lambda d: d[:32] + struct.pack("<I", 10**6) + d[36:], "do not fit"),
    (lambda d: d[:PAGE + 20] + struct.pack("<H", 400) + d[PAGE + 22:], "entries"),
    (_loop, "loops"),
])
def test_hostile_berkeleydb_is_a_notice(tmp_path, damage, reason):
    data = bdb_hash({1: header(BIG)})
    pkgs, errors = rpm.read_rpmdb(bdb_root(tmp_path, damage(data)), None)
    assert pkgs == [] and len(errors) == 1
    assert "BerkeleyDB" in errors[0].reason and reason in errors[0].reason


def test_rhel_host_meets_red_hat_advisories_named_by_product_and_repository(tmp_path):
    root = make_rpm_root(tmp_path / "root", [
        header(pkg_tags("openssl-libs", "3.0.7", "24.el9", epoch=1, source="openssl-3.0.7-24.el9.src.rpm")),
    ], os_release='ID="rhel"\nVERSION_ID="9.3"\nID_LIKE="fedora"\n')
    adv = write_records(tmp_path / "adv", [
        osv_record("RHSA-2024:1", "Red Hat:enterprise_linux:9::appstream", "openssl",
                   [{"introduced": "0"}, {"fixed": "1:3.0.7-25.el9"}]),
        osv_record("RHSA-2024:2", "Red Hat:enterprise_linux:8::baseos", "openssl",
                   [{"introduced": "0"}, {"fixed": "1:9.0-1.el8"}]),
        osv_record("RHSA-2024:3", "Red Hat:rhel_eus:9.2::baseos", "openssl",
                   [{"introduced": "0"}, {"fixed": "1:9.0-1.el9"}]),
    ])
    ctx = ScanContext(root=root, options={"advisories": str(adv), "supply_chain": False})
    assert [f["vulnerability.id"] for f in ecs_records(VulnScanner().scan(ctx))] == ["RHSA-2024:1"]
