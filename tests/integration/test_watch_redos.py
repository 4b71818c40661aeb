"""A rule regex that backtracks exponentially in Python (`(a+)+$`) cannot hang `watch`: rule
regexes run on RE2 in the streaming path too. A pattern RE2 refuses is refused at load, naming
the rule. SIGTERM stops watch promptly, with its state saved."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hostwarden.pipelines.watch.state import read_status

pytestmark = pytest.mark.integration

RULE = """\
title: Evil regex
id: 00000000-0000-0000-0000-0000000000e1
level: high
logsource: {product: linux}
detection:
  selection: {message|re: '(a+)+$'}
  condition: selection
"""
LOOKAHEAD = RULE.replace("(a+)+$", "foo(?=bar)").replace("Evil regex", "Lookahead rule").replace("e1", "e2")


def _watch(tmp: Path, log: Path, rules: Path) -> subprocess.Popen[str]:
    (tmp / "hw.toml").write_text("[detect]\nbuiltin = false\nstate_interval_seconds = 0.5\n")
    cmd = [sys.executable, "-m", "hostwarden.cli", "watch", str(log), "--rules", str(rules), "--config",
           str(tmp / "hw.toml"), "--data-dir", str(tmp / "data"), "--format", "json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_redos_pattern_runs_in_linear_time_and_sigterm_stops_watch(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "evil.yml").write_text(RULE)
    log = tmp_path / "app.log"
    attack = "a" * 50_000 + "!"  # the line that makes Python's re backtrack for ever
    log.write_text(f"Nov  1 09:00:00 web-01 app[1]: {attack}\nNov  1 09:00:01 web-01 app[1]: aaaa\n")
    proc = _watch(tmp_path, log, tmp_path / "rules")
    lines: queue.Queue[str] = queue.Queue()  # read on a thread: a hung watch must fail the test, not hang it
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or ()], daemon=True).start()
    try:
        try:
            line = lines.get(timeout=90)
        except queue.Empty:
            pytest.fail("no alert within 90 s: the hostile line hung the matcher")
        alert = json.loads(line)
        assert alert["rule.name"] == "Evil regex" and alert["hostwarden.trigger"]["offset"] > 50_000
        time.sleep(1.0)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        assert rc == 0 and time.monotonic() - started < 30
    finally:
        if proc.poll() is None:
            proc.kill()
    status = read_status(tmp_path / "data")
    assert status is not None and status["running"] is False and status["saved"]  # state saved on the way out


def test_a_pattern_re2_refuses_is_refused_at_load_naming_the_rule(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.yml").write_text(LOOKAHEAD)
    done = subprocess.run([sys.executable, "-m", "hostwarden.cli", "rules", "check", str(tmp_path / "rules")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "Lookahead rule" in said and "foo(?=bar)" in said and "0 rules loaded, 1 failed" in said
