"""`hostwarden watch` as a real process: alerts on stdout as lines are appended, a rule file
broken on purpose is refused with CSA-5001 while detection goes on, SIGTERM saves the state,
and a brute force split across a restart still fires once."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from hostwarden.pipelines.watch.state import load_state, read_status
from hostwarden.store.eventstore import EventStore

RULES = """\
title: Auth failure
id: 00000000-0000-0000-0000-0000000000a1
name: auth_failure
level: low
logsource: {product: linux, service: sshd}
detection:
  selection: {event.outcome: failure}
  condition: selection
---
title: Brute force
id: 00000000-0000-0000-0000-0000000000a2
name: brute_force
level: medium
correlation:
  type: event_count
  rules: [auth_failure]
  group-by: [source.ip]
  timespan: 10m
  condition: {gte: 5}
"""
CONFIG = """\
[detect]
builtin = false
reload_interval_seconds = 0.2
state_interval_seconds = 0.5
max_groups = 1000
"""


class Proc:
    """A running `hostwarden watch` with its stdout and stderr read line by line."""

    def __init__(self, tmp: Path, log: Path) -> None:
        cmd = [sys.executable, "-m", "hostwarden.cli", "watch", str(log), "--rules", str(tmp / "rules"),
               "--config", str(tmp / "hw.toml"), "--data-dir", str(tmp / "data"), "--format", "json"]
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "COLUMNS": "200"})
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.err_seen: list[str] = []
        for stream, q in ((self.p.stdout, self.out), (self.p.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, q), daemon=True).start()
        self.wait_err("watching")

    @staticmethod
    def _pump(stream: IO[str] | None, q: queue.Queue[str]) -> None:
        assert stream is not None
        for line in stream:
            q.put(line)

    def alert(self, timeout: float = 10.0) -> dict[str, Any]:
        return json.loads(self.out.get(timeout=timeout))

    def wait_err(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.err.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.err_seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not on stderr; got {self.err_seen} (exit {self.p.poll()})")

    def stop(self) -> int:
        self.p.send_signal(signal.SIGTERM)
        return self.p.wait(timeout=20)


def failures(log: Path, ip: str, n: int, start: int = 0) -> None:
    with log.open("a") as f:
        for i in range(start, start + n):
            f.write(f"Nov  1 00:0{i // 60}:{i % 60:02d} web-01 sshd[{1000 + i}]: "
                    f"Failed password for root from {ip} port 22 ssh2\n")


def test_watch_alerts_reloads_refuses_broken_rules_and_persists(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    rule_file = tmp_path / "rules" / "pack.yml"
    rule_file.write_text(RULES)
    (tmp_path / "hw.toml").write_text(CONFIG)
    log = tmp_path / "auth.log"
    log.write_text("")
    proc = Proc(tmp_path, log)
    try:
        failures(log, "203.0.113.50", 5)
        alert = proc.alert()
        assert alert["rule.name"] == "Brute force" and alert["source.ip"] == "203.0.113.50"
        assert alert["hostwarden.trigger"]["path"] == str(log)

        rule_file.write_text(RULES.replace("condition: selection", "condition: [unclosed"))
        refused = proc.wait_err("CSA-5001")
        assert str(rule_file) in refused and "previous rule set kept" in refused

        failures(log, "203.0.113.51", 5, start=10)  # the old rule set still runs
        alert = proc.alert()
        assert alert["source.ip"] == "203.0.113.51"

        failures(log, "203.0.113.52", 3, start=20)  # a brute force that a restart will split
        time.sleep(1.0)
    finally:
        code = proc.stop()
    assert code == 0, proc.err_seen

    with EventStore(tmp_path / "data") as store:
        saved = load_state(store)
        stored = store.query("SELECT \"source.ip\" FROM events WHERE \"event.kind\" = 'alert' ORDER BY 1")
        checkpoint = store.query('SELECT "offset" FROM checkpoints')
    assert saved is not None and saved["counters"]["events"] == 13
    assert [r[0] for r in stored] == ["203.0.113.50", "203.0.113.51"]
    assert checkpoint == [(log.stat().st_size,)]
    status = read_status(tmp_path / "data")
    assert status is not None and not status["running"] and "CSA-5001" in status["last_error"]

    rule_file.write_text(RULES)  # fixed while stopped
    proc = Proc(tmp_path, log)
    try:
        failures(log, "203.0.113.52", 2, start=23)  # 3 before the restart + 2 after
        alert = proc.alert()
        assert alert["source.ip"] == "203.0.113.52"
        assert json.loads(alert["hostwarden.detail"])["count"] == 5
        failures(log, "203.0.113.50", 5, start=30)  # raised before the restart: suppressed now
        failures(log, "203.0.113.53", 5, start=40)
        assert proc.alert()["source.ip"] == "203.0.113.53"
    finally:
        assert proc.stop() == 0
    assert proc.out.empty()
    status = read_status(tmp_path / "data")
    assert status is not None and status["alerts"] == 4 and status["last_error"] is None
