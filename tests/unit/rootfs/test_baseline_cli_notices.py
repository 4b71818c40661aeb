"""`hostwarden baseline run` shows what the resolver refused, and shows file text inert."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from hostwarden.commands.baseline import app

POLICY = """\
id: t
name: test policy
checks:
- id: T-SSH-1
  title: SSH root login disabled
  severity: high
  remediation: Set PermitRootLogin no.
  check: {kind: config, file: /etc/ssh/sshd_config, key: PermitRootLogin, op: eq, value: "no"}
"""


def _run(root: Path, policy: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["run", "--root", str(root), "--policy", str(policy), *extra])
    return res.exit_code, res.output


def test_a_refused_input_is_a_notice_on_the_table_and_in_json(tmp_path: Path) -> None:
    policy = tmp_path / "p.yml"
    policy.write_text(POLICY)
    root = tmp_path / "root"
    (root / "etc/ssh").mkdir(parents=True)
    os.mkfifo(root / "etc/ssh/sshd_config")  # would block a plain open forever
    code, out = _run(root, policy)
    assert code == 0 and "not_applicable" in out
    assert "SCAN-9030" in out and "/etc/ssh/sshd_config" in out and "FIFO" in out
    code, out = _run(root, policy, "--format", "json")
    notices = json.loads(out)[0]["notices"]
    assert [n["code"] for n in notices] == ["SCAN-9030"] and notices[0]["path"] == "/etc/ssh/sshd_config"


def test_file_text_quoted_as_evidence_is_inert(tmp_path: Path) -> None:
    policy = tmp_path / "p.yml"
    policy.write_text(POLICY)
    root = tmp_path / "root"
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/ssh/sshd_config").write_text("PermitRootLogin [red]yes\x1b]0;owned\x07\n")
    code, out = _run(root, policy)
    assert code == 1, out
    assert "\x1b" not in out and "\x07" not in out  # written out visibly, never sent to the terminal
    assert "\\x1b" in out and "[red]yes" in out  # the markup is shown as text, not applied
