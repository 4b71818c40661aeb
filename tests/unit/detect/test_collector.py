"""watch's garbage-collector schedule, and the promise it rests on: the engine makes no cycles."""

from __future__ import annotations

import gc
import time
from typing import Any

from hostwarden.detect.engine import Engine
from hostwarden.detect.ruleset import load_rules
from hostwarden.pipelines.watch.gcschedule import NEVER, GcSchedule

FAIL = {"event.dataset": "sshd", "event.action": "ssh_login_failed", "event.outcome": "failure",
        "event.category": ["authentication"], "event.type": ["start"]}
OK = {"event.dataset": "sshd", "event.action": "ssh_login", "event.outcome": "success",
      "event.category": ["authentication"], "event.type": ["start"]}


def _attack(n_ips: int, per_ip: int) -> list[dict[str, Any]]:
    """Brute forces and sprays from many sources, each ending in a login: every window kind of
    the built-in pack fills, fires, chains and slides."""
    events = []
    t = 1_700_000_000.0
    for ip in range(n_ips):
        for i in range(per_ip):
            t += 1.0
            events.append({**FAIL, "@timestamp": t, "source.ip": f"198.51.100.{ip}", "user.name": f"u{i % 7}",
                           "event.id": f"{ip}-{i}", "event.original": f"Failed password for u{i % 7}"})
        events.append({**OK, "@timestamp": t + 1, "source.ip": f"198.51.100.{ip}", "user.name": "root",
                       "event.id": f"{ip}-ok", "event.original": "Accepted password for root"})
    return events


def test_engine_state_is_freed_by_reference_counting_alone() -> None:
    """What the schedule relies on: windows, entries, matches and alerts hold no reference
    cycles, so dropping or expiring them frees memory without a full collection."""
    rules = load_rules()
    gc.collect()
    gc.disable()
    try:
        engine = Engine(rules, streaming=True, eager=False, max_groups=50)  # small cap: evictions too
        for ev in _attack(n_ips=80, per_ip=30):
            engine.feed(ev)
            engine.book.drain_new()
        engine.expire(1_800_000_000.0)  # everything slides out
        assert engine.book.raised > 0 and engine.evictions > 0
        del engine
        assert gc.collect() == 0  # nothing was left for the cycle collector to find
    finally:
        gc.enable()


def test_schedule_runs_the_full_pass_when_idle_or_overdue_and_restores_settings() -> None:
    before = gc.get_threshold()
    now = [1000.0]  # a clock the test moves: the schedule's decisions, not the machine's load
    with GcSchedule(idle_seconds=0.05, max_seconds=0.3, quiet_seconds=0.0, clock=lambda: now[0]) as collector:
        assert gc.get_threshold()[2] == NEVER and gc.get_freeze_count() > 0
        assert collector.tick(idle=True) is False  # too soon after start
        now[0] += 0.06
        assert collector.tick(idle=False) is False  # busy, and not yet overdue
        assert collector.tick(idle=True) is True
        assert collector.tick(idle=True) is False
        now[0] += 0.31
        assert collector.tick(idle=False) is True  # overdue: runs even while busy
        assert collector.full_collections == 2
        collector.thaw()
        assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_idle_moments_of_a_steady_stream_do_not_count_as_idle() -> None:
    """A stream leaves the loop idle for a poll between chunks: the pass waits for real quiet."""
    with GcSchedule(idle_seconds=0.0, max_seconds=3600, quiet_seconds=0.1) as collector:
        for _ in range(8):  # busy, a moment idle, busy ... for longer than quiet_seconds in all
            assert collector.tick(idle=True) is False
            time.sleep(0.02)
            assert collector.tick(idle=False) is False
        assert collector.tick(idle=True) is False  # quiet starts now
        time.sleep(0.11)
        assert collector.tick(idle=True) is True
        assert collector.full_collections == 1


def test_full_pass_reclaims_a_cycle_made_while_watching() -> None:
    """The schedule still reclaims the rare cycle (here one made on purpose)."""
    with GcSchedule(idle_seconds=0.0, max_seconds=3600, quiet_seconds=0.0) as collector:
        cycle: list[Any] = ["made on purpose"]
        cycle.append(cycle)
        del cycle
        gc.collect(1)  # young passes run as usual; the cycle may now sit in the oldest generation
        assert collector.tick(idle=True) is True
        assert gc.collect() == 0  # the scheduled pass already took it
