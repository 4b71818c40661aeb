"""The `respond` and `audit` commands, driven as a user would (Typer's runner, a TOML config)."""

from __future__ import annotations

import json
from pathlib import Path

from respond_helpers import SSH_FAST, alert, script
from typer.testing import CliRunner

from hostwarden.commands.respond import app, audit_app, settings_from
from hostwarden.respond.engine import Responder

runner = CliRunner(env={"COLUMNS": "250"})


def _config(tmp_path: Path, extra: str = "") -> Path:
    log = tmp_path / "nft.log"
    tool = script(tmp_path / "nft", f"cat >> {log}\n")
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "p.yml").write_text(f"""
id: manual-block
trigger: {{rules: [{SSH_FAST}], grades: [L2]}}
actions: [{{block_ip: {{ttl: 1h}}}}]
approval: manual
samples:
  match: [{{rule.id: {SSH_FAST}, hostwarden.grade: L2, source.ip: 203.0.113.5}}]
  nomatch: [{{rule.id: {SSH_FAST}, hostwarden.grade: L3, source.ip: 203.0.113.5}}]
""")
    cfg = tmp_path / "hostwarden.toml"
    cfg.write_text(f"""
data_dir = "{tmp_path / 'data'}"
[respond]
builtin_playbooks = false
playbooks = ["{playbooks}"]
audit_fsync = false
[respond.allowlist]
include_host = false
cidrs = ["192.0.2.0/24"]
[respond.firewall]
backend = "nft"
nft = ["{tool}"]
{extra}
""")
    return cfg


def test_list_approve_undo_and_verify(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    r = Responder(settings_from(cfg, None))
    (pending,) = r.handle(alert("203.0.113.5", **{"user.name": "\x1b[2J[bold]x"}), wait=True)
    r.close()
    assert pending.status == "pending"

    listed = runner.invoke(app, ["list", "--config", str(cfg), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert [e["status"] for e in json.loads(listed.output)] == ["pending"]
    table = runner.invoke(app, ["list", "--config", str(cfg)])
    assert pending.id in table.output and "block_ip" in table.output

    approved = runner.invoke(app, ["approve", pending.id, "--config", str(cfg), "--format", "json"])
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)[0]["status"] == "applied"
    assert "203.0.113.5 timeout 3600s" in (tmp_path / "nft.log").read_text()

    undone = runner.invoke(app, ["undo", pending.id, "--config", str(cfg)])
    assert undone.exit_code == 0 and "undone" in undone.output
    again = runner.invoke(app, ["undo", pending.id, "--config", str(cfg)])
    assert again.exit_code == 2 and "RESP-6012" in again.output

    ok = runner.invoke(audit_app, ["verify", "--config", str(cfg)])
    assert ok.exit_code == 0 and "intact" in ok.output
    audit = tmp_path / "data" / "respond" / "audit.jsonl"
    lines = audit.read_text().splitlines()
    audit.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    bad = runner.invoke(audit_app, ["verify", str(audit)])
    assert bad.exit_code == 2 and "RESP-6010" in bad.output and "record 2" in bad.output


def test_dry_run_and_check(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    alert_file = tmp_path / "alert.json"
    alert_file.write_text(json.dumps(alert("198.51.100.9")))
    out = runner.invoke(app, ["dry-run", "manual-block", "--alert", str(alert_file), "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    assert "dry_run" in out.output and "198.51.100.9" in out.output
    assert not (tmp_path / "nft.log").exists()
    refused = runner.invoke(app, ["dry-run", "manual-block", "--alert", "-", "--config", str(cfg), "--format", "json"],
                            input=json.dumps(alert("192.0.2.5")))
    assert json.loads(refused.output)[0]["code"] == "RESP-6001"
    broken = runner.invoke(app, ["dry-run", "manual-block", "--alert", "-", "--config", str(cfg)], input="[1")
    assert broken.exit_code == 2 and "RESP-6009" in broken.output

    checked = runner.invoke(app, ["check", "--config", str(cfg)])
    assert checked.exit_code == 0 and "ok manual-block" in checked.output
    (tmp_path / "playbooks" / "bad.yml").write_text("id: bad\ntrigger: {grades: [L1]}\nactions: [{explode: {}}]\n")
    failed = runner.invoke(app, ["check", "--config", str(cfg)])
    assert failed.exit_code == 2 and "unknown action 'explode'" in failed.output


def test_bad_respond_config_is_csa_5002(tmp_path: Path) -> None:
    cfg = _config(tmp_path, extra="[respond.rate]\nblocks_per_minute = -3\n")
    out = runner.invoke(app, ["list", "--config", str(cfg)])
    assert out.exit_code == 2 and "CSA-5002" in out.output and "respond.rate.blocks_per_minute" in out.output
