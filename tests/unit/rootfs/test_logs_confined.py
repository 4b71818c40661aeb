"""The log scanner lists /var/log through the resolver: only the root's own regular files are ingested."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rootfs_hostile import CANARY, ends

from hostwarden.pipelines.scan.logs import LogScanner, log_files, walk_logs
from hostwarden.scan.base import ScanContext
from hostwarden.scan.hostfacts import clock_zone

SSHD = "Jan  1 00:00:01 web sshd[1]: Failed password for root from 203.0.113.9 port 22 ssh2\n"


def _outside(base: Path) -> Path:
    outside = base / "outside"
    (outside / "logs").mkdir(parents=True)
    (outside / "secret.log").write_text(SSHD.replace("root", CANARY))
    (outside / "logs" / "auth.log").write_text(SSHD.replace("root", CANARY))
    return outside


def test_links_fifos_and_skipped_names_are_not_log_files(tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    log = tmp_path / "root/var/log"
    (log / "journal").mkdir(parents=True)
    (log / "auth.log").write_text(SSHD)
    (log / "journal" / "system.log").write_text(SSHD)  # binary journal folder: skipped
    (log / "wtmp").write_bytes(b"\0" * 384)  # binary login records: skipped by name
    (log / "evil.log").symlink_to(outside / "secret.log")
    (log / "elsewhere").symlink_to(outside / "logs")
    os.mkfifo(log / "pipe.log")
    (log / "core.log").write_bytes(b"\0\x01\x02" * 4096)  # binary: classified as ingest does, not parsed
    files, skipped = ends(lambda: walk_logs(ScanContext(root=tmp_path / "root").fs))
    assert files == [log / "auth.log"]
    assert {(Path(p).name, code) for p, code, _ in skipped} == {
        ("evil.log", "LOG-4109"), ("elsewhere", "LOG-4109"), ("pipe.log", "LOG-4109"), ("core.log", "LOG-4107")}
    scanner = LogScanner()
    ctx = ScanContext(root=tmp_path / "root", data_dir=tmp_path / "data")
    ends(lambda: scanner.scan(ctx))
    assert scanner.summary["files"] == 1 and scanner.summary["events"] == 1
    assert CANARY not in repr(scanner.summary) + repr(ctx.notices)


def test_a_var_log_that_is_a_link_resolves_inside_the_root(tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    root = tmp_path / "root"
    (root / "persist/log").mkdir(parents=True)
    (root / "persist/log/app.log").write_text(SSHD)
    (root / "var").mkdir()
    (root / "var/log").symlink_to("/persist/log")  # absolute: the root's /persist, not this machine's
    assert log_files(ScanContext(root=root).fs) == [root / "persist/log/app.log"]
    (root / "var/log").unlink()
    (root / "var/log").symlink_to(outside / "logs")  # a folder outside the root: absent inside it
    assert log_files(ScanContext(root=root).fs) == []


ZONEINFO = Path("/usr/share/zoneinfo")


def _clock_zone(root: Path) -> tuple[object, list[dict]]:
    ctx = ScanContext(root=root)
    return ends(lambda: clock_zone(ctx.fs)), ctx.notices


@pytest.mark.skipif(not (ZONEINFO / "Europe/Berlin").exists(), reason="no system zoneinfo")
def test_the_roots_clock_zone_is_read_through_the_resolver(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/localtime").symlink_to("/usr/share/zoneinfo/Asia/Shanghai")  # named by the link's text
    assert _clock_zone(root)[0] == ZoneInfo("Asia/Shanghai")
    # a TZif file the link leads to inside the root is read there, not at the same path on this machine
    (root / "opt").mkdir()
    (root / "opt/berlin").write_bytes((ZONEINFO / "Europe/Berlin").read_bytes())
    (root / "etc/localtime").unlink()
    (root / "etc/localtime").symlink_to("/opt/berlin")
    zone, _ = _clock_zone(root)
    assert zone.utcoffset(datetime(2026, 7, 1)) == timedelta(hours=2)
    # a link to a zone file outside the root: absent inside it, so nothing says, UTC
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shanghai").write_bytes((ZONEINFO / "Asia/Shanghai").read_bytes())
    (root / "etc/localtime").unlink()
    (root / "etc/localtime").symlink_to(outside / "shanghai")
    assert _clock_zone(root)[0] == UTC
    # a FIFO where the zone file should be is refused with a notice, never waited on
    (root / "etc/localtime").unlink()
    os.mkfifo(root / "etc/localtime")
    (root / "etc/timezone").write_text("Europe/Berlin\n")
    zone, notices = _clock_zone(root)
    assert zone == ZoneInfo("Europe/Berlin")  # /etc/timezone still says
    assert [n["code"] for n in notices] == ["SCAN-9030"]


def test_a_scan_reads_zone_less_log_times_in_the_roots_zone(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/localtime").symlink_to("../usr/share/zoneinfo/Asia/Shanghai")
    (root / "var/log").mkdir(parents=True)
    (root / "var/log/auth.log").write_text(SSHD)  # Jan 1 00:00:01 in Shanghai: Dec 31 16:00:01 UTC
    scanner = LogScanner()
    ends(lambda: scanner.scan(ScanContext(root=root, data_dir=tmp_path / "data")))
    (source,) = scanner.summary["sources"]
    assert "16:00:01" in str(source["first"])
