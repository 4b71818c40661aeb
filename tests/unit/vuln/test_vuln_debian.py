"""Distro correctness: source mapping, release isolation, deinstalled packages, epochs, fixed versions."""

from pathlib import Path

from vuln_helpers import CRITICAL, MEDIUM, osv_record, write_records

from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.vuln.scanner import VulnScanner


def run(root: Path, advisories: Path) -> tuple[list[dict], ScanContext]:
    ctx = ScanContext(root=root, options={"advisories": str(advisories)})
    return ecs_records(VulnScanner().scan(ctx)), ctx


def ids(findings):
    return sorted((f["package.name"], f["vulnerability.id"]) for f in findings)


def test_binary_package_matched_through_its_source_package(debian_root, tmp_path):
    adv = write_records(tmp_path / "adv", [
        osv_record("DSA-1", "Debian:12", "openssl", [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u1"}],
                   aliases=["CVE-2023-0001"], severity=CRITICAL),
        osv_record("DSA-2", "Debian:12", "libssl3", [{"introduced": "0"}, {"fixed": "9.9"}]),  # binary name: no match
    ])
    findings, _ = run(debian_root, adv)
    assert ids(findings) == [("libssl3", "DSA-1")]
    f = findings[0]
    assert f["hostwarden.vuln.source_package"] == "openssl"
    assert f["hostwarden.vuln.source_version"] == "3.0.9-1"
    assert f["hostwarden.grade"] == "L1" and f["vulnerability.score.base"] == 9.8
    assert f["hostwarden.fix"] == "apt-get install --only-upgrade 'libssl3=3.0.11-1~deb12u1'"


def test_advisory_of_another_release_is_ignored(debian_root, tmp_path):
    adv = write_records(tmp_path / "adv", [
        osv_record("DLA-11", "Debian:11", "sudo", [{"introduced": "0"}, {"fixed": "1.9.16-1"}]),
        osv_record("DSA-12", "Debian:12", "sudo", [{"introduced": "0"}, {"fixed": "1.9.13p3-1+deb12u1"}]),
    ])
    findings, _ = run(debian_root, adv)
    assert ids(findings) == [("sudo", "DSA-12")]


def test_deinstalled_package_is_ignored(debian_root, tmp_path):
    adv = write_records(tmp_path / "adv", [
        osv_record("DSA-3", "Debian:12", "removed-tool", [{"introduced": "0"}, {"fixed": "2.0-1"}]),
    ])
    findings, _ = run(debian_root, adv)
    assert findings == []


def test_epoch_comparison_both_ways(debian_root, tmp_path):
    adv = write_records(tmp_path / "adv", [
        # installed 2:1.0-1 is newer than any 1:x fix -> not affected
        osv_record("DSA-4", "Debian:12", "epochy", [{"introduced": "0"}, {"fixed": "1:9.0-1"}]),
        # fix only with a higher epoch -> affected
        osv_record("DSA-5", "Debian:12", "epochy", [{"introduced": "0"}, {"fixed": "3:0.1-1"}], severity=MEDIUM),
    ])
    findings, _ = run(debian_root, adv)
    assert ids(findings) == [("epochy", "DSA-5")]
    assert findings[0]["hostwarden.grade"] == "L2"


def test_already_fixed_backport_is_not_reported(debian_root, tmp_path):
    adv = write_records(tmp_path / "adv", [
        osv_record("DSA-6", "Debian:12", "patched", [{"introduced": "0"}, {"fixed": "2.0-3+deb12u1"}]),
        osv_record("DSA-7", "Debian:12", "patched", [{"introduced": "0"}, {"fixed": "2.0-3"}]),
    ])
    findings, _ = run(debian_root, adv)
    assert findings == []


def test_unfixed_advisory_reported_without_fix_command(debian_root, tmp_path):
    adv = write_records(tmp_path / "adv", [osv_record("DEBIAN-CVE-1", "Debian:12", "sudo", [{"introduced": "0"}])])
    findings, _ = run(debian_root, adv)
    assert len(findings) == 1
    assert findings[0]["hostwarden.vuln.status"] == "unfixed"
    assert findings[0].get("hostwarden.fix") is None


def test_severity_borrowed_from_cve_alias_records_its_source(debian_root, tmp_path):
    adv = write_records(tmp_path / "adv", [
        osv_record("DEBIAN-CVE-2024-1", "Debian:12", "sudo", [{"introduced": "0"}, {"fixed": "1.9.15-1"}],
                   aliases=["CVE-2024-1"]),
        osv_record("GHSA-xxxx", "PyPI", "unrelated", [{"introduced": "0"}], aliases=["CVE-2024-1"],
                   severity=CRITICAL),
    ])
    findings, _ = run(debian_root, adv)
    assert len(findings) == 1
    assert findings[0]["vulnerability.score.base"] == 9.8
    assert findings[0]["hostwarden.vuln.severity_source"] == "GHSA-xxxx"


def test_status_policy_will_not_fix_and_not_affected(debian_root, tmp_path):
    wnf = osv_record("DEBIAN-CVE-3", "Debian:12", "sudo", [{"introduced": "0"}], severity=CRITICAL)
    wnf["affected"][0]["ecosystem_specific"] = {"status": "will_not_fix"}
    na = osv_record("DEBIAN-CVE-4", "Debian:12", "sudo", [{"introduced": "0"}], severity=CRITICAL)
    na["affected"][0]["database_specific"] = {"status": "not-affected"}
    findings, _ = run(debian_root, write_records(tmp_path / "adv", [wnf, na]))
    assert ids(findings) == [("sudo", "DEBIAN-CVE-3")]
    assert findings[0]["hostwarden.grade"] == "L3"
    assert "will not fix" in findings[0]["hostwarden.priority_reason"]


def test_kev_mark_found_through_the_upstream_cve_of_a_debian_record(debian_root, tmp_path):
    """Debian's OSV records name their CVE as `upstream`, not as an alias: the KEV catalog must
    still mark the finding, and the CVE must be among the finding's CVEs."""
    from hostwarden.scan.vuln.db import AdvisoryDB
    from hostwarden.scan.vuln.loader import iter_records

    adv = write_records(tmp_path / "adv", [
        osv_record("DEBIAN-CVE-2023-4911", "Debian:12", "sudo", [{"introduced": "0"}, {"fixed": "9.9"}],
                   upstream=["CVE-2023-4911"]),
    ])
    with AdvisoryDB.in_data_dir(tmp_path / "d") as db:
        db.import_records(iter_records([adv], []))
        db.import_kev({"vulnerabilities": [{"cveID": "CVE-2023-4911", "dateAdded": "2023-11-21"}]})
    ctx = ScanContext(root=debian_root, data_dir=tmp_path / "d", options={"advisory_max_age_days": 100000})
    (finding,) = ecs_records(VulnScanner().scan(ctx))
    assert finding["hostwarden.vuln.kev"] is True and finding["hostwarden.grade"] == "L1"
    assert "CVE-2023-4911" in finding["hostwarden.vuln.cve"]
