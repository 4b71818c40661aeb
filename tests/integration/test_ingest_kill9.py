"""A real `hostwarden ingest` killed with SIGKILL mid-file, then restarted: every line exactly once."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

LINES = 400_000


def write_log(path: Path) -> None:
    with path.open("w") as fh:
        for i in range(LINES):
            fh.write(f"Nov 28 10:{(i // 60) % 60:02d}:{i % 60:02d} web01 sshd[{1000 + i % 5000}]: "
                     f"Failed password for user{i} from 203.0.{(i // 250) % 250}.{i % 250} port {1024 + i % 60000} ssh2\n")


def stored(data_dir: Path) -> tuple[int, int]:
    con = duckdb.connect(str(data_dir / "events.duckdb"), read_only=True)
    try:
        return con.execute('SELECT count(*), count(DISTINCT "log.offset") FROM events').fetchall()[0]
    finally:
        con.close()


def test_sigkill_mid_file_then_restart_stores_each_line_once(tmp_path):
    log = tmp_path / "auth.log"
    write_log(log)
    data_dir = tmp_path / "data"
    config = tmp_path / "hw.toml"
    config.write_text("[ingest]\nchunk_mb = 2\n")

    proc = subprocess.Popen(
        [sys.executable, "-m", "hostwarden.cli", "ingest", str(log), "--data-dir", str(data_dir), "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    # Kill it once some chunks are stored but before the end of the file.
    deadline = time.monotonic() + 120
    killed_midway = False
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        wal = data_dir / "events.duckdb.wal"
        db = data_dir / "events.duckdb"
        if db.exists() and (db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) > 3_000_000:
            proc.send_signal(signal.SIGKILL)
            killed_midway = True
            break
    proc.wait(timeout=60)
    assert killed_midway, "ingest finished before it could be killed; make the file larger"

    restart = subprocess.run(
        [sys.executable, "-m", "hostwarden.cli", "ingest", str(log), "--data-dir", str(data_dir), "--config", str(config)],
        capture_output=True, text=True, timeout=600,
    )
    assert restart.returncode == 0, restart.stderr
    total, distinct = stored(data_dir)
    assert total == LINES
    assert distinct == LINES
