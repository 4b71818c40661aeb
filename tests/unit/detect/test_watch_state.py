"""Streaming state: bounded groups with counted LRU eviction, expiry, save/restore across a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hostwarden.detect.engine import Engine
from hostwarden.detect.ruleset import RuleSet, load_rules
from hostwarden.pipelines.watch.state import (
    WatchCounters,
    load_state,
    read_status,
    save_state,
    status_component,
    write_status,
)
from hostwarden.store.eventstore import EventStore

T0 = 1_700_000_000.0
RULES = """\
title: Auth failure
id: 00000000-0000-0000-0000-00000000000a
name: auth_failure
level: low
logsource: {product: linux, service: sshd}
detection:
  selection: {event.outcome: failure}
  condition: selection
---
title: Brute force
id: 00000000-0000-0000-0000-00000000000b
name: brute_force
level: medium
correlation:
  type: event_count
  rules: [auth_failure]
  group-by: [source.ip]
  timespan: 1m
  condition: {gte: 5}
"""


def ruleset(tmp_path: Path, text: str = RULES) -> RuleSet:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "pack.yml").write_text(text)
    rs = load_rules([folder])
    assert not rs.errors
    return rs


def fail(t: float, ip: str, n: int = 0) -> dict[str, Any]:
    return {"@timestamp": T0 + t, "event.dataset": "sshd", "event.action": "ssh_login_failed",
            "event.outcome": "failure", "source.ip": ip, "user.name": "root", "event.id": f"{ip}-{t}-{n}",
            "event.original": f"Failed password for root from {ip} ({t})"}


def streaming(rs: RuleSet, **kw: Any) -> Engine:
    return Engine(rs, eager=False, streaming=True, **kw)


def groups_of(engine: Engine) -> set[str]:
    return {key[0] for w in engine.windows.values() for key in w.groups}


def test_cap_evicts_least_recently_used_group_and_counts_it(tmp_path: Path) -> None:
    engine = streaming(ruleset(tmp_path), max_groups=3)
    for t, ip in enumerate(["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.1", "198.51.100.4"]):
        engine.feed(fail(t, ip))
    assert engine.groups_open == 3
    assert engine.evictions == 1
    # .2 was used least recently (.1 was used again after it): it is the one forgotten
    assert groups_of(engine) == {"198.51.100.1", "198.51.100.3", "198.51.100.4"}
    for t in range(10, 14):
        engine.feed(fail(t, f"198.51.100.{t}"))
    assert engine.groups_open == 3 and engine.evictions == 5


def test_evicted_group_starts_counting_again(tmp_path: Path) -> None:
    engine = streaming(ruleset(tmp_path), max_groups=1)
    for i in range(4):
        engine.feed(fail(i, "203.0.113.1"))
    engine.feed(fail(5, "203.0.113.2"))  # evicts .1 with its four failures
    engine.feed(fail(6, "203.0.113.1"))  # a fifth failure, but the count restarted
    assert engine.book.drain_new() == []
    assert engine.evictions == 2


def test_expire_drops_finished_groups_without_counting_evictions(tmp_path: Path) -> None:
    engine = streaming(ruleset(tmp_path), max_groups=100)
    engine.feed(fail(0, "203.0.113.1"))
    engine.feed(fail(50, "203.0.113.2"))
    engine.expire(T0 + 90)  # .1's only entry left the 1-minute window; .2's has not
    assert groups_of(engine) == {"203.0.113.2"}
    assert engine.evictions == 0


def test_brute_force_split_across_a_restart_fires_once(tmp_path: Path) -> None:
    rs = ruleset(tmp_path)
    store_dir = tmp_path / "data"
    first = streaming(rs, max_groups=100)
    for i in range(3):
        first.feed(fail(i, "203.0.113.7", i))
    assert first.book.drain_new() == []
    with EventStore(store_dir) as store:
        save_state(store, first.snapshot, WatchCounters(events=3))
    with EventStore(store_dir) as store:  # a new process: only the store carries the state
        saved = load_state(store)
    assert saved is not None and saved["counters"]["events"] == 3
    second = streaming(load_rules([tmp_path / "rules"]), max_groups=100)
    assert second.restore(saved["engine"]) == 1
    raised = []
    for i in range(3, 5):
        second.feed(fail(i, "203.0.113.7", i))
        raised += second.book.drain_new()
    assert [a["rule.name"] for a in raised] == ["Brute force"]
    detail = json.loads(raised[0]["hostwarden.detail"])
    assert detail["count"] == 5
    # evidence kept across the restart names the events from before it
    assert {e["id"] for e in detail["events"]} >= {"203.0.113.7-0-0", "203.0.113.7-4-4"}


def test_alert_suppressed_before_restart_is_not_raised_again(tmp_path: Path) -> None:
    rs = ruleset(tmp_path)
    first = streaming(rs)
    for i in range(5):
        first.feed(fail(i, "203.0.113.8", i))
    assert len(first.book.drain_new()) == 1
    saved = json.loads(json.dumps(first.snapshot(), default=str))
    second = streaming(rs)
    second.restore(saved)
    for i in range(5, 10):
        second.feed(fail(i, "203.0.113.8", i))
    assert second.book.drain_new() == []  # the open alert is updated instead
    updated = second.book.drain_dirty()
    assert len(updated) == 1 and json.loads(updated[0]["hostwarden.detail"])["count"] > 1
    assert second.book.raised == 1


def test_restore_skips_windows_whose_rule_changed(tmp_path: Path) -> None:
    first = streaming(ruleset(tmp_path))
    for i in range(4):
        first.feed(fail(i, "203.0.113.9", i))
    saved = json.loads(json.dumps(first.snapshot(), default=str))
    changed = streaming(ruleset(tmp_path, RULES.replace("gte: 5", "gte: 6")))
    assert changed.restore(saved) == 0
    assert changed.groups_open == 0


def test_status_file_and_component(tmp_path: Path) -> None:
    from hostwarden.core.config import Config

    counters = WatchCounters(events=10, alerts=2, groups_open=4, max_groups=100, evictions=1, rules=3,
                             ruleset_version="abc123", running=True)
    write_status(tmp_path, counters)
    assert read_status(tmp_path)["evictions"] == 1
    comp = status_component(Config(data_dir=tmp_path))
    assert comp.healthy and "1 evicted" in comp.detail and "abc123" in comp.detail and "running" in comp.detail
    counters.last_error = "CSA-5001: rule reload refused"
    counters.running = False
    write_status(tmp_path, counters)
    comp = status_component(Config(data_dir=tmp_path))
    assert not comp.healthy and "CSA-5001" in comp.detail and "stopped" in comp.detail
    assert status_component(Config(data_dir=tmp_path / "none")) is None
