"""Inventory readers on small fixtures of our own: OS detection, dpkg, apk, Python, lockfile walk."""

import json

import pytest
from vuln_helpers import CRITICAL, osv_record, write_records

from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.vuln.inventory import files, ospkg
from hostwarden.scan.vuln.inventory.model import InventoryError
from hostwarden.scan.vuln.scanner import VulnScanner


@pytest.mark.parametrize(("text", "eco"), [
    ('ID=debian\nVERSION_ID="12"\n', "Debian:12"),
    ('ID=ubuntu\nVERSION_ID="22.04"\nID_LIKE=debian\n', "Ubuntu:22.04"),
    ("ID=alpine\nVERSION_ID=3.18.4\n", "Alpine:v3.18"),
    ('ID="rocky"\nVERSION_ID="9.3"\nID_LIKE="rhel centos fedora"\n', "Rocky Linux:9"),
    ("ID=linuxmint\nVERSION_ID=21.2\nID_LIKE='ubuntu debian'\n", None),
])
def test_os_release_ecosystems(text, eco):
    assert ospkg.parse_os_release(text).ecosystem() == eco


def test_derivative_family_from_id_like():
    assert ospkg.parse_os_release("ID=raspbian\nID_LIKE=debian\n").family == "debian"


def test_dpkg_source_field_with_and_without_version():
    text = ("Package: a\nStatus: install ok installed\nSource: srca (1.0-1)\nVersion: 1.0-1+b2\n\n"
            "Package: b\nStatus: install ok installed\nSource: srcb\nVersion: 2.0\n\n"
            "Package: c\nStatus: deinstall reinstreq installed\nVersion: 3.0\n")
    pkgs = {p.name: p for p in ospkg.parse_dpkg_status(text, ecosystem="Debian:12")}
    assert (pkgs["a"].source_name, pkgs["a"].source_version) == ("srca", "1.0-1")
    assert (pkgs["b"].source_name, pkgs["b"].source_version) == ("srcb", "2.0")
    assert "c" in pkgs  # files still on disk: still vulnerable
    strict = ospkg.parse_dpkg_status(text, strict=True)
    assert [p.name for p in strict] == ["a", "b"]


def test_distroless_status_d_without_status_field(tmp_path):
    d = tmp_path / "var/lib/dpkg/status.d"
    d.mkdir(parents=True)
    (d / "libc6").write_text("Package: libc6\nVersion: 2.36-9+deb12u4\nSource: glibc\n")
    (d / "libc6.md5sums").write_text("abc  lib/x\n")
    pkgs = ospkg.read_dpkg(tmp_path, "Debian:12")
    assert [(p.name, p.version, p.source_name) for p in pkgs] == [("libc6", "2.36-9+deb12u4", "glibc")]


def test_apk_origin_is_the_source_package():
    text = "P:libssl3\nV:3.1.0-r4\nA:x86_64\no:openssl\n\nP:musl\nV:1.2.4-r0\n"
    pkgs = ospkg.parse_apk_installed(text, ecosystem="Alpine:v3.18")
    assert [(p.name, p.match_name, p.match_version) for p in pkgs] == [
        ("libssl3", "openssl", "3.1.0-r4"), ("musl", "musl", "1.2.4-r0")]


def test_collect_walks_root_for_lockfiles_and_dist_info(tmp_path):
    site = tmp_path / "usr/lib/python3/dist-packages/Jinja2-2.10.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\n\nbody\n")
    egg = tmp_path / "opt/app/lib/foo.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Name: foo\nVersion: 0.1\n")
    (tmp_path / "srv/web").mkdir(parents=True)
    (tmp_path / "srv/web/package-lock.json").write_text(json.dumps(
        {"lockfileVersion": 3, "packages": {"": {"name": "web"}, "node_modules/lodash": {"version": "4.17.20"}}}))
    (tmp_path / "srv/web/node_modules/x").mkdir(parents=True)
    (tmp_path / "srv/web/node_modules/x/package-lock.json").write_text("{broken")  # never walked into
    (tmp_path / "srv/go.mod").write_text("module m\n\ngo 1.21\n\nrequire golang.org/x/net v0.17.0\n")
    (tmp_path / "srv/Cargo.lock").write_text("not = [toml")
    inv = files.collect(tmp_path)
    got = sorted((p.ecosystem, p.name, p.version, p.location) for p in inv.packages)
    assert got == [
        ("Go", "golang.org/x/net", "0.17.0", "/srv/go.mod"), ("Go", "stdlib", "1.21", "/srv/go.mod"),
        ("PyPI", "Jinja2", "2.10", "/usr/lib/python3/dist-packages/Jinja2-2.10.dist-info/METADATA"),
        ("PyPI", "foo", "0.1", "/opt/app/lib/foo.egg-info/PKG-INFO"),
        ("npm", "lodash", "4.17.20", "/srv/web/package-lock.json"),
    ]
    assert [e.path for e in inv.errors] == ["/srv/Cargo.lock"]


@pytest.mark.parametrize(("kind", "text"), [
    ("package-lock", "[1, 2]"), ("pnpm", "- a\n- b\n"), ("yarn", "__metadata:\n  version: 6\n'x@npm:1': [\n"),
    ("pipfile-lock", "{"), ("poetry", "[[package]\n"), ("composer", "null"), ("gomod", "\x00\x01garbage"),
    ("pnpm", "packages: 5\n"),
])
def test_malformed_inputs_raise_inventory_error(tmp_path, kind, text):
    path = tmp_path / "f"
    path.write_text(text)
    with pytest.raises(InventoryError) as info:
        files.read_file(path, kind)
    assert info.value.reason


def test_scan_reports_malicious_kev_and_unreadable_inventory(tmp_path):
    root = tmp_path / "root"
    (root / "app").mkdir(parents=True)
    (root / "app/requirements.txt").write_text("evil-pkg==1.0\nlog4py==2.0\nbroad>=1.0\n")
    (root / "app/poetry.lock").write_text("[[package]\n")
    adv = write_records(tmp_path / "adv", [
        {"id": "MAL-2024-1", "modified": "2024-01-01T00:00:00Z", "summary": "malicious",
         "affected": [{"package": {"ecosystem": "PyPI", "name": "evil-pkg"}}]},
        osv_record("PYSEC-9", "PyPI", "log4py", [{"introduced": "0"}, {"fixed": "2.1"}], aliases=["CVE-2099-1"]),
        osv_record("PYSEC-10", "PyPI", "broad", [{"introduced": "0"}, {"fixed": "9"}], severity=CRITICAL),
    ])
    kev_db = tmp_path / "d"
    from hostwarden.scan.vuln.db import AdvisoryDB
    from hostwarden.scan.vuln.loader import iter_records

    with AdvisoryDB.in_data_dir(kev_db) as db:
        db.import_records(iter_records([adv], []))
        db.import_kev({"vulnerabilities": [{"cveID": "CVE-2099-1", "dateAdded": "2099-01-01"}]})
    ctx = ScanContext(root=root, data_dir=kev_db, options={"advisory_max_age_days": 100000})
    findings = {f["vulnerability.id"]: f for f in ecs_records(VulnScanner().scan(ctx))}
    assert set(findings) == {"MAL-2024-1", "PYSEC-9"}  # `broad>=1.0` is not an installed version
    assert findings["MAL-2024-1"]["hostwarden.grade"] == "L1"
    assert findings["MAL-2024-1"]["event.category"] == ["malware"]
    assert findings["PYSEC-9"]["hostwarden.grade"] == "L1" and findings["PYSEC-9"]["hostwarden.vuln.kev"] is True
    assert findings["PYSEC-9"]["hostwarden.fix"] == "pip install 'log4py>=2.1'"
    assert [n["code"] for n in ctx.notices] == ["SCAN-9013"]


def test_scan_without_advisories_says_so(tmp_path):
    ctx = ScanContext(root=tmp_path, data_dir=tmp_path / "empty")
    assert ecs_records(VulnScanner().scan(ctx)) == []
    assert [n["code"] for n in ctx.notices] == ["SCAN-9014"]


def test_cyclonedx_sbom_of_a_root(debian_root):
    from hostwarden.scan.vuln.sbom import build_sbom

    (debian_root / "srv").mkdir()
    (debian_root / "srv/package-lock.json").write_text(json.dumps(
        {"lockfileVersion": 3, "packages": {"node_modules/@babel/core": {"version": "7.0.0"}}}))
    doc = build_sbom(root=debian_root)
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.5"
    purls = {c["purl"] for c in doc["components"]}
    assert "pkg:deb/debian/libssl3@3.0.9-1%2Bb1?distro=debian-12&upstream=openssl" in purls
    assert "pkg:npm/%40babel/core@7.0.0" in purls
    assert not any("removed-tool" in p for p in purls)
    assert doc["metadata"]["component"]["type"] == "operating-system"
