"""What absence means: a check never grades content it did not read.

Every built-in check on an empty root, on a root with a few files, and on the weakened fixture
with one file taken away at a time: a failure may only cite files that are there, except the
checks whose point is that a file must exist, which the policy declares (`missing: fail`, or
`file_exists` with `expect: present`) and this test lists by name. Unassessed checks name their
missing input, and the scanner reports those inputs in one SCAN-9204 notice.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.baseline.engine import EVAL_ERROR, run_policy
from hostwarden.scan.baseline.host import Host
from hostwarden.scan.baseline.kinds import evaluate
from hostwarden.scan.baseline.loader import builtin_policy_files, load_policy
from hostwarden.scan.baseline.model import FAIL, NA, PASS, Check, Outcome, Policy, Result
from hostwarden.scan.baseline.sca import policy_from_sca
from hostwarden.scan.baseline.scanner import BaselineScanner

POLICY = load_policy(builtin_policy_files()[0])
DECLARED_MUST_EXIST = {"HW-AUD-003", "HW-MAL-002"}  # the policy's own list, spelled out here on purpose
# An absent file is what these check for, so absence is a pass (not a claim about content).
ABSENCE_IS_THE_POINT = {"HW-SVC-007", "HW-FS-004"}


def must_exist(check: Check) -> bool:
    spec = check.spec
    return spec.get("missing") == "fail" or (spec.get("kind") == "file_exists" and spec.get("expect", "present") == "present")


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _results(root: Path, policy: Policy = POLICY) -> dict[str, Result]:
    return {r.check.id: r for r in run_policy(policy, ScanContext(root=root))}


def cited_but_absent(root: Path, outcome: Outcome) -> list[str]:
    """Files an outcome's evidence names that are not under the root (globs expanded)."""
    absent = []
    for e in outcome.evidence:
        for path in filter(None, (e.file or "").split(", ")):
            if not glob.glob(str(root / path.lstrip("/"))) and not os.path.lexists(root / path.lstrip("/")):
                absent.append(path)
    return absent


def assert_no_claim_about_absent_files(root: Path, results: dict[str, Result]) -> None:
    """A decided result (pass or fail) cites only files that are there, unless absence is its point."""
    for cid, r in results.items():
        if r.status in (FAIL, PASS) and cid not in DECLARED_MUST_EXIST | ABSENCE_IS_THE_POINT:
            assert not cited_but_absent(root, r.outcome), (cid, r.outcome)
            assert not r.outcome.missing, (cid, r.outcome)
        if r.status == NA and r.outcome.missing:
            assert r.outcome.reason.startswith("cannot assess"), (cid, r.outcome.reason)


def test_the_policy_declares_exactly_the_must_exist_checks() -> None:
    assert {c.id for c in POLICY.checks if must_exist(c)} == DECLARED_MUST_EXIST


def test_empty_root_fails_only_what_must_exist(tmp_path: Path) -> None:
    results = _results(tmp_path)
    assert len(results) == len(POLICY.checks) >= 100
    failed = {cid for cid, r in results.items() if r.status == FAIL}
    assert failed == DECLARED_MUST_EXIST
    for cid in failed:  # and the failure says what it is about: a required file that is absent
        assert results[cid].outcome.reason.startswith("required file missing")
        assert all(e.note == "absent" for e in results[cid].outcome.evidence)
    assert {cid for cid, r in results.items() if r.status == PASS} == ABSENCE_IS_THE_POINT
    for cid, r in results.items():
        if r.status == NA and r.check.kind not in ("command",):  # live-only kinds say so instead
            assert r.outcome.missing or "live host" in r.outcome.reason, (cid, r.outcome)
    assert_no_claim_about_absent_files(tmp_path, results)


def test_scanner_on_an_empty_root_names_the_missing_inputs(tmp_path: Path) -> None:
    ctx = ScanContext(root=tmp_path)
    scanner = BaselineScanner()
    findings = ecs_records(scanner.scan(ctx))
    assert {f["rule.id"] for f in findings} == DECLARED_MUST_EXIST
    gaps = scanner.summary["policies"]["hostwarden-linux"]["not_assessed"]
    assert {"HW-ACC-001", "HW-ACC-003", "HW-ACC-005", "HW-ACC-010"} <= set(gaps["/etc/passwd"])
    assert {"HW-ACC-002", "HW-PERM-002"} <= set(gaps["/etc/shadow"])
    assert "HW-SVC-006" in gaps["/proc/net/tcp"] and "HW-AUD-001" in gaps["/var/lib/dpkg/status"]
    unassessed = {c for ids in gaps.values() for c in ids}
    assert unassessed == {c.id for c in POLICY.checks} - DECLARED_MUST_EXIST - ABSENCE_IS_THE_POINT
    (notice,) = [n for n in ctx.notices if n["code"] == "SCAN-9204"]
    assert notice["message"].startswith(f"baseline hostwarden-linux: {len(unassessed)} check(s) not assessed")
    assert "more input(s)" in notice["message"]  # the notice stays short; the summary has them all


def test_partial_root_judges_what_is_there_and_only_that(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "etc/passwd": "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n",
        "etc/ssh/sshd_config": "PermitRootLogin yes\n",
        "etc/sysctl.conf": "net.ipv4.ip_forward = 0\n",
        "etc/systemd/system/multi-user.target.wants/rsyslog.service": "",
    })
    results = _results(root)
    acc1 = results["HW-ACC-001"]
    assert acc1.status == FAIL and acc1.outcome.evidence[0].file == "/etc/passwd"
    assert acc1.outcome.evidence[0].line == 2 and acc1.outcome.evidence[0].value.startswith("toor:")
    assert results["HW-ACC-002"].status == NA and results["HW-ACC-002"].outcome.missing == ["/etc/shadow"]
    assert results["HW-ACC-002"].outcome.reason == "cannot assess: /etc/shadow missing"
    assert results["HW-SSH-001"].status == FAIL and results["HW-SSH-003"].status == PASS  # sshd's default applies
    assert results["HW-SYS-008"].status == PASS  # set to 0 in sysctl.conf
    log_martians = results["HW-SYS-009"]  # not set anywhere: the kernel default (0) applies at boot
    assert log_martians.status == FAIL and "kernel default" in (log_martians.outcome.evidence[0].note or "")
    assert results["HW-SYS-014"].status == NA  # dmesg_restrict's default depends on the kernel build
    assert results["HW-AUD-002"].status == FAIL  # init configuration exists: auditd is really not enabled
    assert results["HW-AUD-007"].status == PASS
    assert results["HW-PWD-010"].status == NA and results["HW-PWD-010"].outcome.missing == ["/etc/pam.d/common-auth"]
    assert_no_claim_about_absent_files(root, results)


def test_every_file_of_the_weakened_root_removed_in_turn(posture_roots: dict[str, Path], tmp_path: Path) -> None:
    """A root with only some files: whatever is missing, no failure cites it (sweeps left out for speed)."""
    policy = dataclasses.replace(POLICY, checks=[c for c in POLICY.checks if c.kind != "file_scan"])
    weakened = tmp_path / "weakened"
    shutil.copytree(posture_roots["weakened"], weakened, symlinks=True)
    files = sorted(p.relative_to(weakened) for p in weakened.rglob("*") if p.is_file() and not p.is_symlink())
    assert len(files) > 30
    for rel in files:
        target = weakened / rel
        saved = target.read_bytes(), target.stat().st_mode
        target.unlink()
        try:
            results = _results(weakened, policy)
        finally:
            target.write_bytes(saved[0])
            os.chmod(target, saved[1])
        assert_no_claim_about_absent_files(weakened, results)
        named = [c.id for c in policy.checks if (c.spec.get("files") or [c.spec.get("file")]) == [f"/{rel}"]]
        for cid in named:  # a check whose one input was removed can no longer pass or fail
            assert results[cid].status == NA or cid in DECLARED_MUST_EXIST | ABSENCE_IS_THE_POINT, (str(rel), cid)


def test_sysctl_without_runtime_or_configuration_is_not_assessed(tmp_path: Path) -> None:
    spec = {"kind": "sysctl", "key": "net.ipv4.conf.all.log_martians", "op": "eq", "value": 1, "default": 0}
    out = evaluate(Host(ScanContext(root=tmp_path)), spec)
    assert out.status == NA and "/proc/sys/net/ipv4/conf/all/log_martians" in out.missing
    _write(tmp_path, {"proc/sys/net/ipv4/conf/all/log_martians": "1\n"})  # a runtime value decides alone
    assert evaluate(Host(ScanContext(root=tmp_path)), spec).status == PASS


def test_service_and_sweep_need_their_folders(tmp_path: Path) -> None:
    host = Host(ScanContext(root=tmp_path))
    for spec in ({"kind": "service", "unit": "auditd.service", "expect": "enabled"},
                 {"kind": "service", "units": ["telnet.socket"], "expect": "not_enabled"},
                 {"kind": "file_scan", "condition": "world_writable"}):
        out = evaluate(host, spec)
        assert out.status == NA and out.missing and out.reason.startswith("cannot assess"), spec


def test_owners_of_a_copy_that_kept_none_are_not_judged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the copy another owner")
    _write(tmp_path, {"etc/passwd": "root:x:0:0::/root:/bin/bash\n", "etc/shadow": "root:!:1::::::\n"})
    os.chmod(tmp_path / "etc/shadow", 0o644)
    for p in (tmp_path / "etc", tmp_path / "etc/passwd", tmp_path / "etc/shadow"):
        os.chown(p, 4321, 4321)
    spec = {"kind": "file_mode", "file": "/etc/passwd", "max_mode": "0644", "owner": "root", "group": "root"}
    assert evaluate(Host(ScanContext(root=tmp_path)), spec).status == FAIL  # scanned by root: owner 4321 is real
    monkeypatch.setattr(os, "geteuid", lambda: 4321)  # scanned by the user who made the copy
    host = Host(ScanContext(root=tmp_path))
    assert not host.ownership_preserved
    out = evaluate(host, spec)
    assert out.status == NA and "owner" in out.reason
    loose = evaluate(host, {**spec, "file": "/etc/shadow", "max_mode": "0640"})
    assert loose.status == FAIL and "0644" in loose.reason  # the mode was read, so it is judged
    assert evaluate(host, {"kind": "file_scan", "condition": "unowned", "paths": ["/etc"]}).status == NA


def test_a_check_that_raises_is_not_applicable_with_its_error(tmp_path: Path) -> None:
    def broken(_host: Any) -> Outcome:
        raise ValueError("bad input")

    policy = Policy("p", "p", [Check("X-1", "t", "high", broken)])
    (result,) = run_policy(policy, ScanContext(root=tmp_path))
    assert result.status == NA and result.outcome.reason.startswith(EVAL_ERROR)


SCA_POLICY = {
    "policy": {"id": "sca-absence"},
    "checks": [
        {"id": 1, "title": "content of a missing file", "condition": "all",
         "rules": ["f:/etc/ssh/sshd_config -> r:^PermitRootLogin\\s+no"]},
        {"id": 2, "title": "forbidden content of a missing file", "condition": "none",
         "rules": ["f:/etc/shadow -> r:^\\w+::"]},
        {"id": 3, "title": "a file must exist", "condition": "all", "rules": ["f:/etc/cron.allow"]},
        {"id": 4, "title": "a file must not exist", "condition": "none", "rules": ["f:/etc/hosts.equiv"]},
        {"id": 5, "title": "files in a missing folder", "condition": "any", "rules": ["d:/etc/sudoers.d -> r:. -> r:NOPASSWD"]},
    ],
}


def test_sca_rules_on_an_empty_root_decide_only_about_existence(tmp_path: Path) -> None:
    results = {r.check.id: r.status for r in run_policy(policy_from_sca(SCA_POLICY, "sca.yml"), ScanContext(root=tmp_path))}
    assert results == {"1": NA, "2": NA, "3": FAIL, "4": PASS, "5": NA}


def test_reads_follow_symlinks_inside_the_root_only(tmp_path: Path) -> None:
    outside = tmp_path / "outside-shadow"
    outside.write_text("evil::0:0:99999:7:::\n")  # would be an empty password, if it were read
    root = _write(tmp_path / "root", {"etc/sysctl.conf": "net.ipv4.ip_forward = 0\n",
                                      "usr/lib/os-release": "ID=debian\n"})
    (root / "etc/shadow").symlink_to(outside)  # absolute, outside: resolved under the root instead
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")  # relative, inside
    (root / "etc/passwd").symlink_to("/../../etc/passwd")  # climbs: `..` stops at the root
    (root / "etc/loop").symlink_to("/etc/loop")
    host = Host(ScanContext(root=root))
    assert host.read("/etc/shadow") is None
    assert host.read("/etc/os-release") == "ID=debian\n"
    assert host.read("/etc/passwd") is None and host.read("/etc/loop") is None
    result = evaluate(host, {"kind": "file_regex", "file": "/etc/shadow", "pattern": "^[^:]+::", "expect": "no_match"})
    assert result.status == NA  # not "an account has an empty password" from another machine's file
