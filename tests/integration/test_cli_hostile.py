"""Attacker-written text stays inert on every output, and exit codes mean something (issue 16:
markup, terminal escapes, CSV formulas, missing inputs, a held lock, bad options)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
LINK = "[link=https://evil.example/]click[/link]"
USERS = ["[/b]", LINK, f"root{TITLE}{CLEAR}", "=HYPERLINK(\"http://evil\")", "@SUM(1+1)"]


def hw(*args: str, color: bool = True, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    if color:
        env["FORCE_COLOR"] = "1"  # Rich writes as to a terminal: links and styles would be live
    return subprocess.run([sys.executable, "-m", "hostwarden.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("hostile")
    lines = []
    for i, user in enumerate(USERS):
        for k in range(6):  # enough failures for a brute-force alert naming the source
            lines.append(f"Nov  1 09:0{i}:{k:02d} web-01 sshd[{100 + i}]: Failed password for invalid user {user} "
                         f"from 203.0.113.{i + 1} port 4000 ssh2")
    (tmp / "auth.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = hw("ingest", str(tmp / "auth.log"), "--data-dir", str(tmp / "data"))
    assert done.returncode == 0, done.stderr
    _no_live_sequences(done.stdout + done.stderr)
    return tmp


def _no_live_sequences(text: str) -> None:
    assert TITLE not in text and CLEAR not in text  # written out, never sent
    assert "\x1b]8;" not in text  # no OSC 8 hyperlink
    assert "\x07" not in text


def test_search_table_shows_markup_and_escapes_as_text(store: Path) -> None:
    done = hw("search", "event.dataset=sshd", "--data-dir", str(store / "data"), "--fields", "user.name,message",
              "--limit", "100")
    assert done.returncode == 0, done.stderr
    _no_live_sequences(done.stdout)
    assert "[/b]" in done.stdout and "[link=https://evil.example/]click[/link]" in done.stdout
    assert "\\x1b]0;pwned\\x07" in done.stdout  # visible, inert


def test_csv_neutralises_formulas_and_json_keeps_data_exact(store: Path) -> None:
    out = hw("search", "event.dataset=sshd", "--data-dir", str(store / "data"), "--fields", "user.name",
             "--format", "csv", "--limit", "100", color=False).stdout
    users = {row[0] for row in csv.reader(io.StringIO(out))}
    assert "'=HYPERLINK(\"http://evil\")" in users and "'@SUM(1+1)" in users
    assert not any(u.startswith(("=", "@", "+", "-")) for u in users)
    data = json.loads(hw("search", "event.dataset=sshd", "--data-dir", str(store / "data"), "--fields", "user.name",
                         "--format", "json", "--limit", "100", color=False).stdout)
    assert {r["user.name"] for r in data} >= {"[/b]", f"root{TITLE}{CLEAR}", "=HYPERLINK(\"http://evil\")"}


def test_status_and_scan_with_hostile_paths_and_lines(store: Path, tmp_path: Path) -> None:
    weird = tmp_path / "[/b]data"
    assert hw("ingest", str(store / "auth.log"), "--data-dir", str(weird)).returncode == 0
    status = hw("status", "--data-dir", str(weird))
    assert "MarkupError" not in status.stderr and "[/b]data" in status.stdout
    root = tmp_path / "root"
    (root / "var" / "log").mkdir(parents=True)
    (root / "var" / "log" / "auth.log").write_text((store / "auth.log").read_text())
    scan = hw("scan", "--root", str(root), "--only", "logs,detect")
    assert scan.returncode == 0, scan.stderr
    _no_live_sequences(scan.stdout)


def test_missing_input_and_missing_store_are_errors_not_silence(tmp_path: Path) -> None:
    missing = hw("ingest", str(tmp_path / "[/b]nope.log"), "--data-dir", str(tmp_path / "d"), color=False)
    assert missing.returncode == 3 and "LOG-4102" in missing.stderr and "[/b]nope.log" in missing.stderr
    nostore = hw("search", "x=1", "--data-dir", str(tmp_path / "nothing-here"))
    assert nostore.returncode == 2 and "LOG-5034" in nostore.stderr
    (tmp_path / "afile").write_text("x")
    afile = hw("search", "x=1", "--data-dir", str(tmp_path / "afile"))
    assert afile.returncode == 2 and "LOG-5033" in afile.stderr and "Traceback" not in afile.stderr
    ingest_into_file = hw("ingest", "-", "--data-dir", str(tmp_path / "afile"))
    assert ingest_into_file.returncode == 2 and "Traceback" not in ingest_into_file.stderr


def test_a_second_writer_that_cannot_get_the_lock_fails_loudly_and_loses_nothing(store: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert hw("ingest", str(store / "auth.log"), "--data-dir", str(data), "--no-detect").returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time, duckdb
        con = duckdb.connect({str(data / "events.duckdb")!r})
        print("held", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        (tmp_path / "hw.toml").write_text("lock_timeout_seconds = 1\n")
        other = tmp_path / "other.log"
        other.write_text("Nov  1 10:00:00 web-01 sshd[9]: Accepted password for alice from 192.0.2.1 port 1 ssh2\n")
        busy = hw("ingest", str(other), "--data-dir", str(data), "--config", str(tmp_path / "hw.toml"))
        assert busy.returncode in (2, 3) and "LOG-5030" in busy.stderr, busy.stderr
    finally:
        holder.kill()
        holder.wait()
    again = hw("ingest", str(other), "--data-dir", str(data), color=False)  # the input was not consumed
    assert again.returncode == 0 and "1 stored" in again.stdout


@pytest.mark.parametrize("args, code, text", [
    (["scan", "--fail-on", "high"], 2, "not a grade"),
    (["scan", "--fail-on", "L9"], 2, "not a grade"),
    (["scan", "--only", "nosuch"], 2, "SCAN-9003"),
    (["scan", "--output", "/nonexistent/x.json", "--format", "json"], 2, "does not exist"),
    (["search", "--limit", "99999999999999999999"], 2, "limit"),
])
def test_bad_options_are_refused(tmp_path: Path, args: list[str], code: int, text: str) -> None:
    done = hw(*args, "--root" if args[0] == "scan" else "--data-dir", str(tmp_path), color=False)
    assert done.returncode == code and text in (done.stdout + done.stderr), done.stderr
    assert "Traceback" not in done.stderr


def test_fresh_install_status_is_degraded_not_unhealthy(tmp_path: Path) -> None:
    done = hw("status", "--data-dir", str(tmp_path / "fresh"), "--format", "json", color=False)
    report = json.loads(done.stdout)
    vulndb = next(c for c in report["components"] if c["name"] == "vulndb")
    assert vulndb["degraded"] and vulndb["healthy"] and "vulndb import" in vulndb["detail"]
    assert done.returncode == 0 and report["healthy"] and report["degraded"]
