"""Check kinds at their edges, policy validation, the CLI and the scanner wrapper."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hostwarden.commands.baseline import app
from hostwarden.core.errors import HostwardenError
from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.baseline.host import Host
from hostwarden.scan.baseline.kinds import evaluate
from hostwarden.scan.baseline.loader import builtin_policy_files, load_policy
from hostwarden.scan.baseline.model import FAIL, NA, PASS
from hostwarden.scan.baseline.scanner import BaselineScanner


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _eval(root: Path, spec: dict, live: bool = False):  # noqa: ANN202
    return evaluate(Host(ScanContext(root=root, live=live)), spec)


def test_relative_include_and_first_value_wins(tmp_path: Path) -> None:
    _write(tmp_path, {"etc/ssh/sshd_config": "Include conf.d/*.conf\nPermitRootLogin no\n",
                      "etc/ssh/conf.d/a.conf": "PermitRootLogin yes\n"})
    out = _eval(tmp_path, {"kind": "config", "file": "/etc/ssh/sshd_config", "include": "Include",
                           "key": "PermitRootLogin", "op": "eq", "value": "no"})
    assert out.status == FAIL and out.evidence[0].file == "/etc/ssh/conf.d/a.conf"


def test_missing_file_is_not_applicable_unless_told(tmp_path: Path) -> None:
    spec = {"kind": "config", "file": "/etc/ssh/sshd_config", "key": "X", "op": "eq", "value": "1"}
    assert _eval(tmp_path, spec).status == NA
    assert _eval(tmp_path, {**spec, "missing": "fail"}).status == FAIL


def test_sysctl_runtime_overrides_nothing_silently(tmp_path: Path) -> None:
    _write(tmp_path, {"proc/sys/net/ipv4/ip_forward": "1\n", "etc/sysctl.d/10.conf": "net.ipv4.ip_forward=0\n"})
    out = _eval(tmp_path, {"kind": "sysctl", "key": "net.ipv4.ip_forward", "op": "eq", "value": 0})
    assert out.status == FAIL and out.evidence[0].file == "/proc/sys/net/ipv4/ip_forward"
    _write(tmp_path, {"etc/sysctl.d/20.conf": "net/ipv4/ip_forward = 1\n", "proc/sys/net/ipv4/ip_forward": "0\n"})
    out = _eval(tmp_path, {"kind": "sysctl", "key": "net.ipv4.ip_forward", "op": "eq", "value": 0})
    assert out.status == FAIL and out.evidence[0].file == "/etc/sysctl.d/20.conf"


def test_command_kind_runs_only_on_live_host(tmp_path: Path) -> None:
    spec = {"kind": "command", "argv": ["uname", "-s"], "pattern": "^Linux$"}
    assert _eval(tmp_path, spec).status == NA
    assert _eval(Path("/"), spec, live=True).status == PASS
    assert _eval(Path("/"), {**spec, "expect": "no_match"}, live=True).status == FAIL
    assert _eval(Path("/"), {**spec, "argv": ["no-such-binary-hw"]}, live=True).status == NA


def test_ports_without_socket_table_is_not_applicable(tmp_path: Path) -> None:
    assert _eval(tmp_path, {"kind": "ports", "ports": [23]}).status == NA


def test_live_socket_table_of_this_machine(tmp_path: Path) -> None:
    out = _eval(Path("/"), {"kind": "ports", "ports": [1]}, live=True)
    assert out.status in (PASS, FAIL)  # a real table was read, never "not applicable"


@pytest.mark.parametrize("body", [
    "checks: [{id: A, title: t, severity: high, check: {kind: nosuch}}]",
    "checks: [{id: A, title: t, severity: urgent, check: {kind: file_exists, file: /x}}]",
    "checks: [{id: A, title: t, severity: high, mlps: [不存在], check: {kind: file_exists, file: /x}}]",
    "checks: [{id: A, title: t, severity: high, check: {kind: config, file: /x}}]",
    "checks: [{id: A, title: t, severity: high, check: {kind: config, file: /x, key: k, op: about, value: 1}}]",
    "checks: [{id: A, title: t, severity: high, check: {kind: file_exists, file: /x}}, {id: A, title: t, severity: high, check: {kind: file_exists, file: /y}}]",
    "checks: [{id: A, title: t, severity: high, check: {kind: file_regex, file: /x, pattern: '(unclosed'}}]",
    "checks: [[1, 2]]",
    # an unknown key: a typo, or an unquoted flow-style value with a comma (becomes a key `nosuid`)
    "checks: [{id: A, title: t, probelm: x, severity: high, check: {kind: file_exists, file: /x}}]",
    "checks: [{id: A, title: /tmp mounted nodev,nosuid, severity: high, check: {kind: file_exists, file: /x}}]",
    "checks: [{id: A, title: t, problem: [x], severity: high, check: {kind: file_exists, file: /x}}]",
    "checks: [{id: A, title: t, problem: \"two\\nlines\", severity: high, check: {kind: file_exists, file: /x}}]",
    "just a string",
    "checks: [{id: A",
])
def test_malformed_policy_fails_with_code(tmp_path: Path, body: str) -> None:
    (tmp_path / "p.yml").write_text(body)
    with pytest.raises(HostwardenError) as err:
        load_policy(tmp_path / "p.yml")
    assert err.value.code.code == "SCAN-9201"


def test_cli_list_has_one_row_per_check() -> None:
    res = CliRunner().invoke(app, ["list", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == len(load_policy(builtin_policy_files()[0]).checks)
    assert all(r["mlps"] and r["severity"] for r in rows)
    table = CliRunner().invoke(app, ["list"])
    assert "HW-SSH-001" in table.output and "身份鉴别" in table.output


def test_cli_run_failures_first_with_fix(posture_roots: dict[str, Path]) -> None:
    res = CliRunner().invoke(app, ["run", "--root", str(posture_roots["weakened"]), "--format", "json"])
    assert res.exit_code == 1, res.output
    report = json.loads(res.output)[0]
    statuses = [r["status"] for r in report["results"]]
    assert statuses[0] == "fail" and statuses == sorted(statuses, key=lambda s: s != "fail")
    assert all(r["fix"] and r["evidence"] for r in report["results"] if r["status"] == "fail")
    ok = CliRunner().invoke(app, ["run", "--root", str(posture_roots["hardened"])])
    assert "score" in ok.output and "MLPS" in ok.output


def test_cli_run_bad_policy_and_root(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text("checks: [{id: A}]")
    res = CliRunner().invoke(app, ["run", "--root", str(tmp_path), "--policy", str(tmp_path / "p.yml")])
    assert res.exit_code == 2 and "SCAN-9201" in res.output
    res = CliRunner().invoke(app, ["run", "--root", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "SCAN-9001" in res.output


def test_scanner_findings_carry_evidence_and_fix(posture_roots: dict[str, Path]) -> None:
    scanner = BaselineScanner()
    found = ecs_records(scanner.scan(ScanContext(root=posture_roots["weakened"])))
    assert found and all(f["event.kind"] == "finding" and f["hostwarden.fix"] for f in found)
    assert found[0]["hostwarden.grade"] == "L1"  # most severe first
    assert scanner.summary["policies"]["hostwarden-linux"]["total"]["fail"] == len(found)
    if os.geteuid() == 0:  # test files are root-owned only when the tests run as root
        assert ecs_records(BaselineScanner().scan(ScanContext(root=posture_roots["hardened"]))) == []
