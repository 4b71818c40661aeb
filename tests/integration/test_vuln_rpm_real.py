"""Real rpm: packages built with rpmbuild, installed with `rpm --justdb` into a fresh rpmdb.sqlite;
our header decoder must read exactly what `rpm -qa` prints. Skips when rpm/rpmbuild are absent
(the Makefile installs Debian's `rpm` package)."""

import shutil
import sqlite3
import struct
import subprocess

import pytest

from hostwarden.scan.vuln.inventory import files, rpm

pytestmark = pytest.mark.skipif(not (shutil.which("rpm") and shutil.which("rpmbuild")),
                                reason="rpm and rpmbuild not installed")

SPEC = """\
Name: {name}
Version: {version}
Release: {release}
{epoch}
Summary: hostwarden test package
License: MIT
BuildArch: noarch
%description
test package for the rpmdb decoder
%install
mkdir -p %{{buildroot}}/opt/{name}
echo hello > %{{buildroot}}/opt/{name}/file.txt
%files
/opt/{name}/file.txt
"""


def build_rpm(tmp_path, name, version, release, epoch=None):
    top = tmp_path / "top"
    spec = tmp_path / f"{name}.spec"
    spec.write_text(SPEC.format(name=name, version=version, release=release,
                                epoch=f"Epoch: {epoch}" if epoch is not None else ""))
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", "_build_id_links none",
                    str(spec)], check=True, capture_output=True, timeout=120)
    return next((top / "RPMS" / "noarch").glob(f"{name}-*.rpm"))


@pytest.fixture(scope="module")
def rpm_root(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rpm")
    root = tmp / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID="almalinux"\nVERSION_ID="9.4"\nID_LIKE="rhel centos fedora"\n')
    packages = [build_rpm(tmp, "hwtest-one", "1.2.3", "4.el9", epoch=2),
                build_rpm(tmp, "hwtest-two", "0.9~rc1", "1.el9"),
                build_rpm(tmp, "hwtest-three", "2024.1^git5", "0.1.el9", epoch=0)]
    base = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm"]
    subprocess.run([*base, "--initdb"], check=True, capture_output=True, timeout=60)
    subprocess.run([*base, "-i", "--nodeps", "--justdb", "--noscripts", *map(str, packages)],
                   check=True, capture_output=True, timeout=60)
    return root


def test_decoder_reads_what_rpm_qa_prints(rpm_root):
    ours, damaged = rpm.read_sqlite(rpm_root / "var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/rpmdb.sqlite")
    theirs = rpm.query_binary(rpm_root, "var/lib/rpm")
    assert damaged == []
    assert len(theirs) == 3
    assert sorted(ours, key=lambda r: r.name) == sorted(theirs, key=lambda r: r.name)
    by_name = {r.name: r for r in ours}
    assert by_name["hwtest-one"].epoch == 2 and by_name["hwtest-one"].sourcerpm == "hwtest-one-1.2.3-4.el9.src.rpm"


def test_collect_cross_check_agrees_and_versions_are_evr(rpm_root):
    inv = files.collect(rpm_root)
    got = sorted((p.name, p.version, p.ecosystem, p.source_name, p.source_version) for p in inv.packages)
    assert got == [
        ("hwtest-one", "2:1.2.3-4.el9", "AlmaLinux:9", "hwtest-one", "2:1.2.3-4.el9"),
        ("hwtest-three", "2024.1^git5-0.1.el9", "AlmaLinux:9", "hwtest-three", "2024.1^git5-0.1.el9"),
        ("hwtest-two", "0.9~rc1-1.el9", "AlmaLinux:9", "hwtest-two", "0.9~rc1-1.el9"),
    ]
    assert inv.errors == []  # the `rpm -qa` cross-check ran and agreed


def test_cross_check_reports_a_disagreement(rpm_root, monkeypatch):
    real = rpm.query_binary
    monkeypatch.setattr(rpm, "query_binary", lambda root, dbdir, **kw: real(root, dbdir, **kw)[:2])
    _, errors = rpm.read_rpmdb(rpm_root, None)
    assert len(errors) == 1 and "disagree" in errors[0].reason and "hwtest-" in errors[0].reason


def test_rpm_file_header_decodes_like_the_installed_one(tmp_path):
    """The main header of a .rpm file (after the lead and signature header) uses the same format."""
    path = build_rpm(tmp_path, "hwtest-file", "3.1", "7", epoch=5)
    data = path.read_bytes()
    sig_start = 96  # the lead
    il, dl = int.from_bytes(data[sig_start + 8:sig_start + 12], "big"), int.from_bytes(data[sig_start + 12:sig_start + 16], "big")
    sig_len = 16 + 16 * il + dl
    main = sig_start + sig_len + (-sig_len % 8)  # the signature header is padded to 8 bytes
    rec = rpm.record_from_header(data[main:])
    assert (rec.name, rec.epoch, rec.version, rec.release, rec.arch) == ("hwtest-file", 5, "3.1", "7", "noarch")


def db_load_hash(path, records: dict[int, bytes]) -> None:
    """A real Berkeley DB hash file written by libdb's db_load (text mode: every byte as \\xx)."""
    def esc(data: bytes) -> str:
        return "".join(f"\\{b:02x}" for b in data)
    lines = [line for hnum, blob in records.items() for line in (esc(struct.pack("<I", hnum)), esc(blob))]
    subprocess.run([shutil.which("db5.3_load") or "db_load", "-T", "-t", "hash", str(path)],
                   input=("\n".join(lines) + "\n").encode(), check=True, capture_output=True, timeout=60)


@pytest.mark.skipif(not (shutil.which("db5.3_load") or shutil.which("db_load")), reason="db5.3-util not installed")
def test_berkeleydb_packages_written_by_libdb_read_like_rpm_bdb_ro(rpm_root, tmp_path):
    """The headers rpm installed, moved into a libdb-written BerkeleyDB `Packages` (the RHEL ≤ 8
    format): our decoder must agree with rpm's own read-only BerkeleyDB backend."""
    conn = sqlite3.connect(rpm_root / "var/lib/rpm/rpmdb.sqlite")
    blobs = {hnum: bytes(blob) for hnum, blob in conn.execute("SELECT hnum, blob FROM Packages")}
    conn.close()
    root = tmp_path / "el8"
    (root / "var/lib/rpm").mkdir(parents=True)
    db_load_hash(root / "var/lib/rpm/Packages", {0: struct.pack("<I", max(blobs)), **blobs})
    ours, damaged = rpm.read_bdb(root / "var/lib/rpm/Packages", "/var/lib/rpm/Packages")
    theirs = rpm.query_binary(root, "var/lib/rpm", backend="bdb_ro")
    assert damaged == [] and len(theirs) == 3
    assert sorted(ours, key=lambda r: r.name) == sorted(theirs, key=lambda r: r.name)
    pkgs, errors = rpm.read_rpmdb(root, None)  # decoder plus the bdb_ro cross-check
    assert errors == [] and sorted(p.name for p in pkgs) == ["hwtest-one", "hwtest-three", "hwtest-two"]
