"""A scanner that never returns cannot hold a scan: it is named (SCAN-9008), the others still
report, and `hostwarden scan` ends within its timeout plus a few seconds, exiting 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

HUNG = '''
import time

class HungScanner:
    name = "hung"

    def scan(self, ctx):
        while True:  # neither returns nor raises: the scan must not wait for it
            time.sleep(3600)
'''


def test_hung_scanner_is_left_behind_and_the_scan_ends(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "hungscanner.py").write_text(HUNG)
    config = tmp_path / "hostwarden.toml"
    config.write_text('[scan]\ntimeout_seconds = 3\nscanners = ["hungscanner:HungScanner"]\n')
    root = tmp_path / "root"
    (root / "etc" / "ssh").mkdir(parents=True)
    (root / "etc" / "ssh" / "sshd_config").write_text("PermitRootLogin yes\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "plugins"), *sys.path])}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "hostwarden.cli", "scan", "--root", str(root), "--config",
                           str(config), "--only", "baseline,hung,persistence", "--format", "json"],
                          capture_output=True, text=True, timeout=120, env=env)
    elapsed = time.monotonic() - started
    assert proc.returncode == 3, proc.stderr  # partial failure: one scanner did not finish
    report = json.loads(proc.stdout)
    timeouts = [n for n in report["notices"] if n["code"] == "SCAN-9008"]
    assert [n["scanner"] for n in timeouts] == ["hung"]
    assert "HW-SSH-001" in {f["rule.id"] for f in report["findings"]}  # baseline ran before it
    assert "persistence" in report["summary"]["sections"] or "persistence" in report["summary"]["timings_seconds"]
    assert elapsed < 60  # ended: the 3 s timeout plus start-up, not the hung scanner's hour


def test_unknown_scanner_name_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "hostwarden.cli", "scan", "--root", str(tmp_path), "--only", "nosuch"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "SCAN-9003" in proc.stderr and "nosuch" in proc.stderr
