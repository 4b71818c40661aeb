"""The scan report's own reads (host facts) go through the resolver like every scanner's.

`hostwarden scan --format json` runs in a subprocess whose environment carries the canary:
the root's `etc/machine-id -> /proc/self/environ` would put that environment (tokens
included) into the report's host.id if the runner read the facts by plain path joins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rootfs_hostile import CANARY, build


def test_json_report_host_facts_never_hold_the_scanners_environment(tmp_path: Path) -> None:
    root = build(tmp_path, sparse=False, deep=0)
    (root / "etc/os-release").unlink()
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    env = {**os.environ, "HW_SECRET_TOKEN": CANARY, "PYTHONPATH": os.pathsep.join(sys.path),
           "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.run([sys.executable, "-m", "hostwarden.cli", "scan", "--root", str(root), "--only", "persistence",
                           "--format", "json"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.stdout.startswith("{"), proc.stderr[-3000:]
    assert CANARY not in proc.stdout
    report = json.loads(proc.stdout)
    assert report["host"]["os.id"] == "debian"  # facts inside the root are still read
    assert "id" not in report["host"] and "name" not in report["host"]  # both links leave the root
