"""The demo host tells the truth about every scanner, and its report stays stable.

`make run` scans examples/demo-host with the advisory snapshot in examples/advisories. This test
runs the same scan through the CLI (a subprocess, JSON out) on a copy of the demo with the file
modes of examples/demo-host.modes applied, and checks, per scanner section: the findings expected
by rule id, the ones that must not appear, and that nothing a finding says contradicts the demo's
files (every cited file exists, every cited line is that line of that file, every package version
is the installed one).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from hostwarden.scan.baseline.loader import builtin_policy_files, load_policy

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-host"
ADVISORIES = REPO / "examples" / "advisories"
KEV = REPO / "examples" / "kev" / "known_exploited_vulnerabilities.json"
MODES = REPO / "examples" / "demo-host.modes"
RULE = "6b1f4f6e-1d0e-4c53-9a57-0f3d7c0a"  # built-in detection rule ids: RULE + number

EXPECTED: dict[str, set[str]] = {
    # alerts over var/log: web attacks, SSH spray and brute force, the root login, the UID 0 user,
    # the reverse shell (auditd exec records and cron's CMD lines)
    "detect": {RULE + n for n in ("1003", "1005", "1008", "1009", "1101", "1201", "1301", "1303", "1305",
                                  "1306", "1307", "1308")},
    "vuln": {"DEBIAN-CVE-2023-4911", "DEBIAN-CVE-2023-48795", "PYSEC-2023-62", "PYSEC-2023-221", "PYSEC-2023-74",
             "PYSEC-2023-192", "PYSEC-2023-212", "PYSEC-2024-60", "PYSEC-2023-135", "PYSEC-2023-227", "PYSEC-2023-175"},
    "baseline": {
        "HW-ACC-001", "HW-ACC-002", "HW-ACC-006", "HW-ACC-008", "HW-ACC-009",
        "HW-AUD-004", "HW-AUD-005", "HW-AUD-006", "HW-LOG-001", "HW-LOG-002",
        "HW-BOOT-001", "HW-CORE-001", "HW-INT-001", "HW-INT-002", "HW-MAL-001", "HW-MAL-002",
        "HW-MNT-001", "HW-MNT-002", "HW-PERM-007", "HW-PERM-010", "HW-PERM-011", "HW-PERM-012",
        "HW-PWD-001", "HW-PWD-002", "HW-PWD-006", "HW-PWD-007", "HW-PWD-010", "HW-PWD-013", "HW-PWD-014",
        "HW-SSH-001", "HW-SSH-002", "HW-SSH-004", "HW-SSH-005", "HW-SSH-007", "HW-SSH-010", "HW-SSH-014",
        "HW-SSH-015", "HW-SSH-017", "HW-SVC-009",
        "HW-SYS-002", "HW-SYS-003", "HW-SYS-004", "HW-SYS-007", "HW-SYS-009", "HW-SYS-011", "HW-SYS-012",
        "HW-SYS-013",
    },
    "persistence": {"persistence.reverse_shell", "persistence.tmp_binary"},
    "integrity": {"integrity.tampered"},
    "malware": {"HW_PHP_Command_Exec_Request_Input"},
    "firewall": {"firewall.shadowing", "firewall.risky-port-exposed", "firewall.redundancy"},
}
# Sections whose rules this demo pins exactly; detection rules may grow, so only a subset is required.
EXACT = {"vuln", "baseline", "persistence", "integrity", "malware", "firewall"}

MUST_NOT = {
    # the snapshot's deliberate non-matches: the installed version is the fixed one, or out of range
    "vuln": {"DEBIAN-CVE-2023-38408", "PYSEC-2023-57", "PYSEC-2023-58", "PYSEC-2022-42986", "PYSEC-2022-42980"},
    # inputs the demo lacks (not applicable, never failed) and settings the demo gets right
    "baseline": {"HW-PWD-004", "HW-PWD-005", "HW-SYS-001", "HW-SYS-014", "HW-SYS-018", "HW-PERM-008",
                 "HW-CORE-002", "HW-SVC-006", "HW-ACC-003", "HW-ACC-004", "HW-ACC-005", "HW-ACC-007",
                 "HW-ACC-010", "HW-PERM-001", "HW-PERM-002", "HW-PERM-003", "HW-PERM-004", "HW-PERM-005",
                 "HW-PERM-006", "HW-PERM-009", "HW-AUD-001", "HW-AUD-002", "HW-AUD-003", "HW-AUD-007",
                 "HW-FW-001", "HW-FW-002", "HW-FW-003", "HW-TIME-001", "HW-TIME-002", "HW-MAC-001",
                 "HW-FS-001", "HW-FS-002", "HW-FS-003", "HW-FS-004", "HW-SSH-003", "HW-SYS-006", "HW-SYS-008"},
    "detect": {RULE + "1102"},  # `sudo curl URL` without a pipe to a shell is not download-and-execute
}
SECTIONS = ("logs", "detect", "vuln", "baseline", "persistence", "integrity", "malware", "runtime", "firewall")


def apply_modes(root: Path) -> None:
    for line in MODES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            mode, rel = line.split()
            os.chmod(root / rel, int(mode, 8))


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    root = tmp_path_factory.mktemp("demo") / "demo-host"
    shutil.copytree(DEMO, root, symlinks=True)
    apply_modes(root)
    proc = subprocess.run([sys.executable, "-m", "hostwarden.cli", "scan", "--root", str(root),
                           "--advisories", f"{ADVISORIES},{KEV}", "--format", "json"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), root


def by_section(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in report["findings"]:
        out[f["event.module"]].append(f)
    return out


def test_every_scanner_section_reports(scan: tuple[dict[str, Any], Path]) -> None:
    report, _ = scan
    sections = report["summary"]["sections"]
    assert set(SECTIONS) <= set(sections)
    found = by_section(report)
    for name, expected in EXPECTED.items():
        ids = {f.get("rule.id") for f in found[name]}
        assert ids, f"section {name} is empty"
        if name in EXACT:
            assert ids == expected, (name, sorted(ids ^ expected))
        else:
            assert expected <= ids, (name, sorted(expected - ids))
        assert not ids & MUST_NOT.get(name, set()), (name, sorted(ids & MUST_NOT[name]))
    logs = sections["logs"]  # the log scanner reports what the logs are; detection says what they mean
    assert logs["files"] == 4 and logs["events"] > 0 and logs["parse_failures"] == 0
    assert {"sshd", "auditd", "cron", "nginx.access", "accounts", "sudo"} <= set(logs["by_dataset"])


def test_the_kev_listed_glibc_flaw_is_marked_and_urgent(scan: tuple[dict[str, Any], Path]) -> None:
    """CVE-2023-4911 is in CISA's KEV catalog (examples/kev); Debian's record names it as upstream."""
    report, _ = scan
    glibc = [f for f in report["findings"] if f.get("vulnerability.id") == "DEBIAN-CVE-2023-4911"]
    assert {f["package.name"] for f in glibc} == {"libc6", "libc-bin"}
    assert all(f["hostwarden.vuln.kev"] and f["hostwarden.grade"] == "L1" for f in glibc)
    assert not any(f.get("hostwarden.vuln.kev") for f in report["findings"] if f not in glibc)


def test_runtime_says_why_it_has_nothing(scan: tuple[dict[str, Any], Path]) -> None:
    report, _ = scan
    assert not by_section(report)["runtime"]
    assert report["summary"]["sections"]["runtime"]["live"] is False
    notice = [n for n in report["notices"] if n.get("scanner") == "runtime"]
    assert len(notice) == 1 and notice[0]["code"] == "SCAN-9204" and "live host" in notice[0]["message"]


def test_notices_are_only_the_expected_ones(scan: tuple[dict[str, Any], Path]) -> None:
    report, _ = scan
    # SCAN-9010 appears once the snapshot is older than the advisory age limit: true, and allowed.
    assert {n["code"] for n in report["notices"]} <= {"SCAN-9204", "SCAN-9010"}
    baseline = [n for n in report["notices"] if n.get("scanner") == "baseline"]
    assert len(baseline) == 1 and "/etc/security/pwquality.conf (HW-PWD-004, HW-PWD-005)" in baseline[0]["message"]
    gaps = report["summary"]["sections"]["baseline"]["policies"]["hostwarden-linux"]["not_assessed"]
    for path in gaps:  # what a check could not assess really is absent from the demo
        assert not list((DEMO / path.lstrip("/")).parent.glob(Path(path).name)), path


def test_story_findings_cite_the_right_lines(scan: tuple[dict[str, Any], Path]) -> None:
    report, _ = scan
    baseline = {f["rule.id"]: f for f in by_section(report)["baseline"]}
    (uid0,) = baseline["HW-ACC-001"]["hostwarden.evidence"]["items"]
    assert uid0["file"] == "/etc/passwd" and uid0["value"].startswith("sysupdate:x:0:0:")
    (empty,) = baseline["HW-ACC-002"]["hostwarden.evidence"]["items"]
    assert empty["file"] == "/etc/shadow" and empty["value"].startswith("sysupdate::")
    alerts = [f for f in by_section(report)["detect"] if f["rule.id"] == RULE + "1008"]
    assert {f.get("source.ip") for f in alerts} == {"192.0.2.66"}  # alice's one typo is not a brute force
    (tampered,) = by_section(report)["integrity"]
    assert tampered["file.path"] == "/usr/bin/ps" and tampered["package.name"] == "procps"
    (shell,) = by_section(report)["malware"]
    assert shell["file.path"] == "/var/www/shop/uploads/shell.php"
    persistence = {f["file.path"]: f["rule.id"] for f in by_section(report)["persistence"]}
    assert persistence == {"/var/spool/cron/crontabs/root": "persistence.reverse_shell",
                           "/etc/systemd/system/sysupdate.service": "persistence.tmp_binary"}
    shadowed = [f for f in by_section(report)["firewall"] if f["rule.id"] == "firewall.shadowing"]
    assert len(shadowed) == 1 and shadowed[0]["hostwarden.grade"] == "L2"


# The policy's checks whose point is that a file exists: their finding is the file's absence.
MUST_EXIST = {"HW-AUD-003", "HW-MAL-002"}


def _cited_files(f: dict[str, Any]) -> list[str]:
    files = [f["file.path"]] if f.get("file.path") else []
    for item in f.get("hostwarden.evidence", {}).get("items", []) if f["event.module"] == "baseline" else []:
        if item.get("note") == "absent":
            assert f["rule.id"] in MUST_EXIST, (f["rule.id"], item)  # a failure about a missing file
            continue
        files += [p for p in str(item.get("file") or "").split(", ") if p]
    return files


def test_no_finding_cites_what_the_demo_lacks(scan: tuple[dict[str, Any], Path]) -> None:
    report, root = scan
    kinds = {c.id: c.kind for c in load_policy(builtin_policy_files()[0]).checks}
    for f in report["findings"]:
        for path in _cited_files(f):
            assert list(root.glob(path.lstrip("/"))) or (root / path.lstrip("/")).exists(), (f["message"], path)
        for item in f.get("hostwarden.evidence", {}).get("items", []) if f["event.module"] == "baseline" else []:
            if not item.get("line"):
                continue
            text = (root / item["file"].lstrip("/")).read_text(encoding="utf-8").splitlines()
            line = text[item["line"] - 1].strip()
            if kinds[f["rule.id"]] == "file_regex":  # the evidence is the line itself
                assert line[:200] == item["value"], (f["rule.id"], item)
            elif kinds[f["rule.id"]] in ("config", "sysctl"):  # the evidence is the value set on that line
                assert item["value"] in line, (f["rule.id"], item)


def test_vulnerable_versions_are_the_installed_ones(scan: tuple[dict[str, Any], Path]) -> None:
    report, root = scan
    installed: dict[str, str] = {}
    for stanza in (root / "var/lib/dpkg/status").read_text(encoding="utf-8").split("\n\n"):
        fields = dict(re.findall(r"^(Package|Version): (.+)$", stanza, re.MULTILINE))
        if fields:
            installed[fields["Package"]] = fields["Version"]
    for line in (root / "srv/shop-api/requirements.txt").read_text(encoding="utf-8").splitlines():
        name, _, version = line.partition("==")
        installed[name] = version
    for f in by_section(report)["vuln"]:
        assert installed[f["package.name"]] == f["package.version"], f["message"]
        record = next(ADVISORIES.rglob(f"{f['rule.id']}.json"))
        events = [e for a in json.loads(record.read_text())["affected"] for r in a["ranges"] for e in r["events"]]
        assert {"fixed": f["hostwarden.vuln.fixed_version"]} in events
