"""Every scanner over a root an attacker built: each ends, reports, and reads nothing outside it.

The scanners run in a subprocess (run_scanners.py) with a generous timeout: on code that opens a
FIFO without O_NONBLOCK they hang, and the timeout turns that into a failure. The subprocess
carries the canary in its environment too, so a read of /proc/self/environ through
`etc/machine-id` would show up in the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rootfs_hostile import CANARY, build

from hostwarden.scan.safefiles import remove_tree

HERE = Path(__file__).resolve().parent
ADVISORY = {"id": "PYSEC-0000-1", "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "flask"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("hostile")
    try:
        root = build(base)
        advisories = base / "adv.json"
        advisories.write_text(json.dumps(ADVISORY))
        env = {**os.environ, "HW_SECRET_TOKEN": CANARY, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.run([sys.executable, str(HERE / "run_scanners.py"), str(root), str(base / "data"),
                               str(advisories)], capture_output=True, text=True, timeout=900, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout)
        out["raw"] = proc.stdout
        yield out
    finally:  # the 1,500-deep trees: pytest's own (recursive) tmp cleanup would hit RecursionError on them
        remove_tree(base)


def test_no_scanner_failed(report: dict) -> None:
    assert report["failed"] == []
    assert not [n for n in report["notices"] if n["code"] == "SCAN-9002"]


def test_nothing_outside_the_root_appears(report: dict) -> None:
    assert CANARY not in report["raw"]


def test_every_scanner_reported(report: dict) -> None:
    for name, summary in report["summaries"].items():
        assert summary is not None or name == "detections", name


def test_deep_folders_end_with_a_walk_bound_notice(report: dict) -> None:
    """1,500 levels down is past the walk depth bound: a notice says so, nothing crashes."""
    codes = {n["code"] for n in report["notices"]}
    assert "SCAN-9032" in codes, codes


def test_special_files_and_limits_are_noticed(report: dict) -> None:
    notes = [(n["code"], n["message"]) for n in report["notices"]]
    refused = " ".join(m for c, m in notes if c == "SCAN-9030")
    assert "/etc/ssh/sshd_config" in refused and "/var/lib/dpkg/status" in refused
    assert "loop" in refused
    assert any(c == "SCAN-9031" and "/lib/apk/db/installed" in m for c, m in notes)


def test_memory_stays_bounded(report: dict) -> None:
    """Two 2 GiB sparse package databases are capped, not read whole."""
    assert report["max_rss_kib"] < 1_500_000, report["max_rss_kib"]
