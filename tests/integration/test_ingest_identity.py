"""Re-ingesting one file under another name never doubles its records or its alerts.

The same 2,000 lines are ingested by a real `hostwarden ingest` as written, then as another
spelling of the path, through a symlink, renamed to `.1` (logrotate's rename) and gzipped as
`.2.gz` (logrotate's compress): the store keeps 2,000 events and the alerts of the first run.
Then the checkpoints are deleted, so only the content-derived `event.id` can recognise the lines.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import duckdb

LINES = 2000


def write_auth_log(path: Path) -> None:
    """Routine sessions, a brute force from 203.0.113.9 that ends in a root login (an L1 alert)."""
    rows = []
    for i in range(LINES - 31):
        rows.append(f"Nov 28 09:{i // 60 % 60:02d}:{i % 60:02d} web01 CRON[{4000 + i}]: "
                    f"pam_unix(cron:session): session opened for user root(uid=0) by (uid=0) #{i}")
    for i in range(30):
        rows.append(f"Nov 28 10:00:{i:02d} web01 sshd[{9000 + i}]: Failed password for root from 203.0.113.9 "
                    f"port {40000 + i} ssh2")
    rows.append("Nov 28 10:00:40 web01 sshd[9100]: Accepted password for root from 203.0.113.9 port 40100 ssh2")
    path.write_text("\n".join(rows) + "\n")


def hw(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "hostwarden.cli", "ingest", "--format", "json", *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def counts(data: Path) -> tuple[int, int]:
    con = duckdb.connect(str(data / "events.duckdb"), read_only=True)
    try:
        row = con.execute("SELECT count(*) FILTER (WHERE \"event.kind\" = 'event'), "
                          "count(*) FILTER (WHERE \"event.kind\" = 'alert') FROM events").fetchall()[0]
        return int(row[0]), int(row[1])
    finally:
        con.close()


def test_other_names_of_one_file_add_no_event_and_no_alert(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    log = logs / "auth.log"
    write_auth_log(log)
    data = tmp_path / "data"
    first = hw(str(log), "--data-dir", str(data))
    assert first["stored"] == LINES and first["alerts"] > 0
    events, alerts = counts(data)
    assert events == LINES and alerts > 0

    (logs / "link.log").symlink_to(log)
    names = [str(logs / "sub" / ".." / "auth.log"), str(logs / "link.log")]
    for name in names:
        again = hw(name, "--data-dir", str(data))
        assert (again["stored"], again["alerts"]) == (0, 0), name
        assert counts(data) == (events, alerts), name

    (logs / "link.log").unlink()
    rotated = logs / "auth.log.1"
    log.rename(rotated)  # logrotate's rename: same inode, other name
    again = hw(str(rotated), "--data-dir", str(data))
    assert (again["stored"], again["alerts"]) == (0, 0)
    compressed = logs / "auth.log.2.gz"  # logrotate's compress: other inode, same content
    compressed.write_bytes(gzip.compress(rotated.read_bytes()))
    again = hw(str(compressed), "--data-dir", str(data))
    assert (again["stored"], again["alerts"]) == (0, 0)
    assert counts(data) == (events, alerts)

    # Without checkpoints every line is read again: the content-derived event.id alone must know them.
    for name in (compressed, rotated):
        con = duckdb.connect(str(data / "events.duckdb"))
        con.execute("DELETE FROM checkpoints")
        con.close()
        again = hw(str(name), "--data-dir", str(data))
        assert again["lines"] == LINES and again["stored"] == 0, name
    assert counts(data) == (events, alerts)


def test_a_grown_copy_adds_only_its_new_lines(tmp_path: Path) -> None:
    """A copy that has grown past what was stored adds exactly the new lines, whatever its name."""
    log = tmp_path / "auth.log"
    write_auth_log(log)
    data = tmp_path / "data"
    hw(str(log), "--data-dir", str(data))
    grown = tmp_path / "copy-of-auth.log"
    extra = "".join(f"Nov 28 11:00:{i:02d} web01 sshd[77{i:02d}]: Connection closed by 192.0.2.{i} port 22\n"
                    for i in range(10))
    grown.write_text(log.read_text() + extra)
    again = hw(str(grown), "--data-dir", str(data))
    assert again["stored"] == 10
    assert counts(data)[0] == LINES + 10
