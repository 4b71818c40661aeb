"""The zone of zone-less log times, as a user sets it: `--timezone` on ingest and scan, the
config's `[ingest] timezone`, and a scanned root's own /etc/localtime (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LINE = "Nov 20 10:00:00 web-01 sshd[7]: Accepted publickey for alice from 192.0.2.1 port 22 ssh2\n"


def hw(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "hostwarden.cli", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


def first_time(data: Path) -> str:
    out = hw("search", "event.dataset=sshd", "--data-dir", str(data), "--format", "json").stdout
    rows = json.loads(out)
    return str(rows[0]["@timestamp"])


def test_ingest_reads_zone_less_times_in_the_zone_given(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(LINE)
    hw("ingest", str(log), "--no-detect", "--data-dir", str(tmp_path / "utc"), "--timezone", "UTC")
    hw("ingest", str(log), "--no-detect", "--data-dir", str(tmp_path / "cst"), "--timezone", "Asia/Shanghai")
    config = tmp_path / "hw.toml"
    config.write_text('[ingest]\ntimezone = "Asia/Shanghai"\n')
    hw("ingest", str(log), "--no-detect", "--data-dir", str(tmp_path / "conf"), "--config", str(config))
    assert "10:00:00" in first_time(tmp_path / "utc")
    assert "02:00:00" in first_time(tmp_path / "cst") == first_time(tmp_path / "conf")


def test_scan_reads_a_roots_logs_in_the_roots_own_zone_unless_told(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "localtime").symlink_to("/usr/share/zoneinfo/Asia/Shanghai")
    (root / "var" / "log").mkdir(parents=True)
    (root / "var" / "log" / "auth.log").write_text(LINE)

    def first(*extra: str) -> str:
        report = json.loads(hw("scan", "--root", str(root), "--only", "logs", "--format", "json", "--data-dir",
                               str(tmp_path / f"d{len(extra)}"), *extra).stdout)
        (source,) = report["summary"]["sections"]["logs"]["sources"]
        return str(source["first"])

    assert "02:00:00" in first()  # the root's clock: 10:00 in Shanghai is 02:00 UTC
    assert "10:00:00" in first("--timezone", "UTC")
