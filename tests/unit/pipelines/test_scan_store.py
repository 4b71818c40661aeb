"""`scan --data-dir`: findings are stored, searchable, and compared with the previous scan."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from hostwarden.cli import app

CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def _root(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    (root / "etc" / "ssh").mkdir(parents=True)
    (root / "etc" / "ssh" / "sshd_config").write_text("PermitRootLogin yes\nPasswordAuthentication no\n")
    (root / "srv" / "app").mkdir(parents=True)
    (root / "srv" / "app" / "requirements.txt").write_text("requests==2.25.0\n")
    adv = tmp_path / "adv"
    adv.mkdir()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    (adv / "PYSEC-T-1.json").write_text(json.dumps({
        "id": "PYSEC-T-1", "modified": now, "summary": "test advisory", "aliases": [],
        "severity": [{"type": "CVSS_V3", "score": CRITICAL}],
        "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.31.0"}]}]}],
    }))
    return root, adv


def _scan(runner: CliRunner, root: Path, adv: Path, data: Path) -> dict:
    result = runner.invoke(app, ["scan", "--root", str(root), "--data-dir", str(data), "--advisories", str(adv),
                                 "--only", "baseline,vuln", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _search(runner: CliRunner, data: Path, query: str) -> list[dict]:
    result = runner.invoke(app, ["search", query, "--data-dir", str(data), "--format", "json",
                                 "--fields", "rule.id,package.name,hostwarden.grade,hostwarden.finding.status,"
                                             "hostwarden.scan.id,message"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_second_scan_shows_the_fixed_weakness_and_search_finds_stored_findings(tmp_path: Path) -> None:
    runner = CliRunner()
    root, adv = _root(tmp_path)
    data = tmp_path / "data"
    first = _scan(runner, root, adv, data)
    rules = {f["rule.id"] for f in first["findings"]}
    assert {"HW-SSH-001", "PYSEC-T-1"} <= rules
    assert "comparison" not in first  # nothing to compare with yet
    assert {f["hostwarden.finding.status"] for f in first["findings"]} == {"new"}

    (root / "etc" / "ssh" / "sshd_config").write_text("PermitRootLogin no\nPasswordAuthentication no\n")
    second = _scan(runner, root, adv, data)
    comparison = second["comparison"]
    assert comparison["previous"] == first["scan"]["id"]
    assert [f["rule.id"] for f in comparison["fixed"]] == ["HW-SSH-001"]
    assert comparison["new"] == 0 and comparison["open"] == len(second["findings"])
    assert "HW-SSH-001" not in {f["rule.id"] for f in second["findings"]}

    by_package = _search(runner, data, "event.kind=finding AND package.name=requests")
    assert {r["rule.id"] for r in by_package} == {"PYSEC-T-1"} and len(by_package) == 2  # one per scan
    critical = _search(runner, data, "event.kind=finding AND hostwarden.grade=L1")
    assert critical and all(r["hostwarden.grade"] == "L1" for r in critical)
    fixed = _search(runner, data, "rule.id=HW-SSH-001")
    assert sorted(r["hostwarden.finding.status"] for r in fixed) == ["fixed", "new"]
    assert {r["hostwarden.scan.id"] for r in fixed} == {first["scan"]["id"], second["scan"]["id"]}


def test_a_scanner_left_out_of_the_second_scan_fixes_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    root, adv = _root(tmp_path)
    data = tmp_path / "data"
    _scan(runner, root, adv, data)
    result = runner.invoke(app, ["scan", "--root", str(root), "--data-dir", str(data), "--only", "baseline",
                                 "--format", "json"])
    second = json.loads(result.stdout)
    assert second["comparison"]["fixed"] == []  # the vuln finding was not looked for, so not fixed


def test_scan_without_data_dir_stores_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    root, adv = _root(tmp_path)
    result = runner.invoke(app, ["scan", "--root", str(root), "--advisories", str(adv), "--only", "baseline",
                                 "--format", "json"], env={"HOSTWARDEN_DATA_DIR": str(tmp_path / "nowhere")})
    assert result.exit_code == 0
    assert not (tmp_path / "nowhere").exists()
