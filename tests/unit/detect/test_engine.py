"""Correlation windows, chaining, suppression and alert shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hostwarden.detect.engine import Engine
from hostwarden.detect.ir import Correlation, Pred, Rule
from hostwarden.detect.ruleset import RuleSet, load_rules

FAIL = {"event.dataset": "sshd", "event.action": "ssh_login_failed", "event.outcome": "failure"}
OK = {"event.dataset": "sshd", "event.action": "ssh_login", "event.outcome": "success"}


def _ev(t: float, ip: str, base: dict[str, Any], user: str = "root", n: int = 0) -> dict[str, Any]:
    return {**base, "@timestamp": 1_700_000_000 + t, "source.ip": ip, "user.name": user,
            "event.id": f"{ip}-{t}-{n}", "event.original": f"line {t} {ip} {user}"}


def _run(events: list[dict[str, Any]], ruleset: RuleSet | None = None) -> list[dict[str, Any]]:
    engine = Engine(ruleset or load_rules())
    for ev in events:
        engine.feed(ev)
    engine.flush()
    return engine.alerts


def _ids(alerts: list[dict[str, Any]]) -> set[str]:
    return {a["rule.name"] for a in alerts}


def test_window_slides_across_bin_boundaries() -> None:
    # 5 failures at t=50..70: a fixed 1-minute bin would split them 2+3 and miss the burst.
    alerts = _run([_ev(50 + 5 * i, "203.0.113.1", FAIL) for i in range(5)])
    assert "SSH brute force (fast)" in _ids(alerts)


def test_single_mistyped_password_then_success_is_quiet() -> None:
    alerts = _run([_ev(0, "192.0.2.7", FAIL, "alice"), _ev(10, "192.0.2.7", OK, "alice")])
    assert alerts == []


def test_login_after_brute_force_is_l1_with_evidence() -> None:
    events = [_ev(i, "203.0.113.2", FAIL, n=i) for i in range(8)] + [_ev(100, "203.0.113.2", OK)]
    alerts = [a for a in _run(events) if a["rule.name"] == "SSH login success after brute force"]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["event.kind"] == "alert" and alert["event.severity"] == 1
    assert alert["source.ip"] == "203.0.113.2"
    assert "T1110" in alert["threat.technique.id"] and "credential-access" in alert["threat.tactic.name"]
    assert alert["rule.author"] == "hostwarden"
    detail = json.loads(alert["hostwarden.detail"])
    assert any("line 100" in e["excerpt"] for e in detail["events"])
    assert detail["events"][0]["id"].startswith("203.0.113.2-")


def test_streaming_l1_alert_collects_what_the_session_did_next() -> None:
    engine = Engine(load_rules())
    for i in range(6):
        engine.feed(_ev(i, "203.0.113.2", FAIL, n=i))
    engine.feed(_ev(100, "203.0.113.2", OK, user="deploy"))
    engine.feed({"event.action": "crontab_edit", "user.name": "deploy", "@timestamp": 1_700_000_200,
                 "event.original": "crontab edit by deploy", "event.id": "c1"})
    engine.feed({"event.action": "crontab_edit", "user.name": "other", "@timestamp": 1_700_000_210, "event.id": "c2"})
    l1 = next(a for a in engine.alerts if a["event.severity"] == 1)
    follow = json.loads(l1["hostwarden.detail"])["follow_up"]
    assert [f["id"] for f in follow] == ["c1"]


def test_success_from_another_source_is_not_linked() -> None:
    events = [_ev(i, "203.0.113.3", FAIL, n=i) for i in range(8)] + [_ev(100, "198.51.100.1", OK)]
    assert "SSH login success after brute force" not in _ids(_run(events))


def test_suppression_updates_the_open_alert_count() -> None:
    events = [_ev(i, "203.0.113.4", FAIL, n=i) for i in range(40)]
    fast = [a for a in _run(events) if a["rule.name"] == "SSH brute force (fast)"]
    assert len(fast) == 1
    assert json.loads(fast[0]["hostwarden.detail"])["count"] > 5


def test_suppression_window_expiry_raises_a_new_alert() -> None:
    events = [_ev(i, "203.0.113.5", FAIL, n=i) for i in range(5)]
    events += [_ev(20_000 + i, "203.0.113.5", FAIL, n=i) for i in range(5)]
    fast = [a for a in _run(events) if a["rule.name"] == "SSH brute force (fast)"]
    assert len(fast) == 2


def _base(name: str, value: str) -> Rule:
    return Rule(id=name, name=name, title=name, detection=Pred("kind", "eq", value), level="low")


def test_lt_condition_is_judged_when_the_window_closes() -> None:
    quiet = Rule(id="q", title="too few", level="low", correlation=Correlation(
        "event_count", ("hb",), 60, ("host.name",), (("lt", 3),)))
    rs = RuleSet([_base("hb", "heartbeat"), quiet])
    few = [{"kind": "heartbeat", "host.name": "a", "@timestamp": 1000 + t} for t in (0, 10)]
    many = [{"kind": "heartbeat", "host.name": "b", "@timestamp": 1000 + t} for t in (0, 10, 20, 30)]
    alerts = _run(few + many, rs)
    assert [a["message"] for a in alerts] == ["too few (host.name=a)"]


def test_temporal_unordered_and_ordered() -> None:
    def rs(kind: str) -> RuleSet:
        corr = Rule(id="c", title="seq", level="high", correlation=Correlation(kind, ("a", "b"), 60, ("host.name",)))
        return RuleSet([_base("a", "A"), _base("b", "B"), corr])

    b_then_a = [{"kind": "B", "host.name": "h", "@timestamp": 0}, {"kind": "A", "host.name": "h", "@timestamp": 5}]
    assert _ids(_run(b_then_a, rs("temporal"))) == {"seq"}
    assert _ids(_run(b_then_a, rs("temporal_ordered"))) == set()
    a_then_b = list(reversed(b_then_a))
    a_then_b[0]["@timestamp"], a_then_b[1]["@timestamp"] = 0, 5
    assert _ids(_run(a_then_b, rs("temporal_ordered"))) == {"seq"}
    too_late = [{"kind": "A", "host.name": "h", "@timestamp": 0}, {"kind": "B", "host.name": "h", "@timestamp": 61}]
    assert _ids(_run(too_late, rs("temporal_ordered"))) == set()


def test_threshold_override() -> None:
    rs = load_rules(overrides={"ssh_brute_force": {"gte": 3, "timespan": "30s"}})
    assert rs.errors == []
    alerts = _run([_ev(i, "203.0.113.8", FAIL, n=i) for i in range(3)], rs)
    assert "SSH brute force (fast)" in _ids(alerts)
    bad = load_rules(overrides={"nope": {"gte": 1}})
    assert bad.errors and bad.errors[0][2] == "no such rule"


def test_detect_settings_section() -> None:
    import pytest

    from hostwarden.core.errors import HostwardenError
    from hostwarden.detect.settings import DetectSettings

    settings = DetectSettings.from_section({"thresholds": {"ssh_brute_force": {"gte": 3, "timespan": "30s"}}})
    rs = settings.load()
    assert rs.errors == []
    alerts = _run([_ev(i, "203.0.113.9", FAIL, n=i) for i in range(3)], rs)
    assert "SSH brute force (fast)" in _ids(alerts)
    for bad in ({"thresholds": {"x": {"timespan": "soon"}}}, {"nope": 1}, {"suppress_window_seconds": 0}):
        with pytest.raises(HostwardenError) as err:
            DetectSettings.from_section(bad)
        assert err.value.code.code == "CSA-5002"


def test_broken_and_cyclic_correlations_are_load_errors() -> None:
    def corr(rid: str, refs: tuple[str, ...]) -> Rule:
        return Rule(id=rid, name=rid, title=rid, correlation=Correlation("event_count", refs, 60))

    rs = RuleSet([_base("a", "A"), corr("c1", ("c2",)), corr("c2", ("c1",)), corr("c3", ("nope",)),
                  corr("c4", ("c3",)), corr("ok", ("a",))])
    assert [r.id for r in rs.rules] == ["a", "ok"]
    reasons = {title: reason for _, title, reason in rs.errors}
    assert "cycle" in reasons["c1"] and "unknown" in reasons["c3"] and "unknown" in reasons["c4"]
    assert _ids(_run([{"kind": "A", "@timestamp": 1}], rs)) == {"ok"}


def test_duplicate_rule_ids_are_refused() -> None:
    rs = load_rules([Path(__file__).resolve().parents[3] / "rules" / "detect"] * 2)
    assert len(rs.rules) == len(load_rules().rules)
    assert rs.errors and all("duplicate rule id" in reason for _, _, reason in rs.errors)


def test_streaming_quick_update_equals_building_each_firing() -> None:
    """A streaming window nothing reads updates its open alert without building the firing
    (`Window.quick`); the alerts, their counts, evidence and updates must be what building
    each firing and recording it gives."""
    rules = load_rules()
    events = []
    for ip in range(6):  # long brute forces and sprays: every window fires again and again
        for i in range(60):
            events.append(_ev(ip * 1000 + i * 3, f"198.51.100.{ip}", FAIL, user=f"u{i % 9}", n=i))
        events.append(_ev(ip * 1000 + 200, f"198.51.100.{ip}", OK, user="root", n=999))
    books = []
    for quick in (True, False):
        engine = Engine(rules, streaming=True, eager=False)
        if not quick:
            for window in engine.windows.values():
                window.quick = None
        assert any(w.quick for w in engine.windows.values()) is quick
        returned, dirty = [], []
        for ev in events:
            returned.append([a["event.id"] for a in engine.feed(ev)])
            dirty.append(sorted(a["hostwarden.detail"] for a in engine.book.drain_dirty()))
        books.append((returned, dirty, [a["hostwarden.detail"] for a in engine.book.drain_new()], engine.book.raised))
    assert books[0] == books[1]
    assert books[0][3] >= 6 and any(books[0][1])


def _legacy(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The same state in the layout saved before columns: one row per entry."""
    out = json.loads(json.dumps(snapshot, default=str))
    for window in out["windows"].values():
        for group in window["groups"]:
            evidence = {i: evs for i, evs in group.pop("evidence")}
            values = group.pop("values") or [None] * len(group["times"])
            group["entries"] = [[t, r, v, *([evidence[i]] if i in evidence else [])]
                                for i, (t, r, v) in enumerate(zip(group.pop("times"), group.pop("refs"), values, strict=True))]
    return out


def test_state_saved_in_either_layout_restores_to_the_same_alerts() -> None:
    rules = load_rules()
    before = [_ev(i * 7, "198.51.100.9", FAIL, user=f"u{i % 6}", n=i) for i in range(30)]
    engine = Engine(rules, streaming=True, eager=False)
    for ev in before:
        engine.feed(ev)
    saved = json.loads(json.dumps(engine.snapshot(), default=str))
    assert any(g["times"] for w in saved["windows"].values() for g in w["groups"])
    results = []
    for state in (saved, _legacy(saved)):
        restored = Engine(rules, streaming=True, eager=False)
        restored.restore(state)
        restored.feed(_ev(400, "198.51.100.9", OK, user="root", n=500))  # the login after brute force
        restored.book.drain_dirty()
        results.append([(a["rule.name"], json.loads(a["hostwarden.detail"])["events"]) for a in restored.book.drain_new()])
    assert results[0] == results[1]
    assert any(name == "SSH login success after brute force" and len(events) > 1 for name, events in results[0])
