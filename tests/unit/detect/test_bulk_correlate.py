"""The batch path's whole-batch count correlations (`detect.bulkcorrelate`) raise exactly the
alerts the engine raises match by match: same ids, counts, first/last, evidence and order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.detect.batch import run_engine
from hostwarden.detect.ir import Correlation, Pred, Rule
from hostwarden.detect.ruleset import RuleSet, load_rules

FAIL = Rule(id="fail", name="fail", title="failure", detection=Pred("event.action", "eq", "fail"), level="low")
OK = Rule(id="ok", name="ok", title="success", detection=Pred("event.action", "eq", "ok"), level="low")
OTHER = Rule(id="other", name="other", title="other failure", detection=Pred("event.action", "eq", "fail"))


def _corr(rid: str, kind: str, refs: tuple[str, ...], span: float, bound: float, group: str,
          op: str = "gte") -> Rule:
    return Rule(id=rid, name=rid, title=rid, level="medium",
                correlation=Correlation(kind, refs, span, (group,), ((op, bound),),
                                        field="user.name" if kind == "value_count" else None))


def _events(steps: list[tuple[int, str, str, str]]) -> list[dict[str, Any]]:
    t, out = 1_700_000_000.0, []
    for i, (gap, action, ip, user) in enumerate(steps):
        t += gap
        out.append({"@timestamp": datetime.fromtimestamp(t, UTC), "event.action": action, "source.ip": ip,
                    "user.name": user, "host.name": "h1", "event.id": f"e{i}", "event.original": f"line {i}",
                    "log.file.path": "/var/log/auth.log", "log.offset": i})
    return out


def _rows(ruleset: RuleSet, events: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """What `matching_rows` hands over: (base rule index, event) in time order, rules in index order."""
    base = ruleset.base_rules
    return [(i, ev) for ev in events for i, rule in enumerate(base) if ruleset.checks[rule.id](ev)]


def _comparable(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(a["event.id"], a["rule.id"], a["message"], a["source.ip"], a["user.name"],
             json.loads(a["hostwarden.detail"])) for a in alerts]


def _same(ruleset: RuleSet, events: list[dict[str, Any]], suppress: float) -> list[tuple[Any, ...]]:
    rows = _rows(ruleset, events)
    bulk = _comparable(run_engine(ruleset, rows, suppress_window=suppress, bulk=True))
    stepwise = _comparable(run_engine(ruleset, rows, suppress_window=suppress, bulk=False))
    assert bulk == stepwise
    return bulk


steps = st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["fail", "fail", "fail", "ok", "noise"]),
                           st.sampled_from(["ip1", "ip2", "ip3"]), st.sampled_from(["u1", "u2", "u3", "u4", "u5"])),
                 min_size=1, max_size=80)


@settings(max_examples=150, deadline=None)
@given(steps=steps, span=st.integers(5, 120), bound=st.integers(1, 6), suppress=st.sampled_from([1.0, 30.0, 3600.0]),
       kind=st.sampled_from(["event_count", "value_count"]), op=st.sampled_from(["gte", "gt", "eq", "neq"]),
       generate=st.booleans())
def test_bulk_and_stepwise_correlations_raise_identical_alerts(
        steps: list[tuple[int, str, str, str]], span: int, bound: int, suppress: float, kind: str, op: str,
        generate: bool) -> None:
    rules = [FAIL, OK, OTHER,
             _corr("count", kind, ("fail",), float(span), float(bound), "source.ip", op),
             _corr("by_user", "value_count", ("fail", "other"), float(span) * 2, float(bound), "source.ip"),
             # chained: a count correlation feeding an ordered sequence (login after brute force)
             _corr("before", "event_count", ("fail",), float(span), float(bound), "source.ip"),
             Rule(id="after", name="after", title="login after failures", level="critical", generate=generate,
                  correlation=Correlation("temporal_ordered", ("before", "ok"), float(span) * 3, ("source.ip",))),
             # absence conditions stay in the engine: mixing both paths must still agree
             _corr("quiet", "event_count", ("ok",), float(span), 2.0, "source.ip", "lt")]
    _same(RuleSet(rules), _events(steps), suppress)


def test_a_long_brute_force_is_one_alert_per_suppression_run() -> None:
    """Thousands of firings collapse into few book updates, yet count, last and evidence agree."""
    ruleset = load_rules()
    lines = [(1, "fail", "203.0.113.9", f"user{i % 7}") for i in range(3000)]
    lines += [(7200, "fail", "203.0.113.9", "root")] + [(2, "fail", "203.0.113.9", "root") for _ in range(10)]
    events = _events(lines)
    for ev in events:  # what the sshd parser gives a failed password line
        ev.update({"event.dataset": "sshd", "event.category": ["authentication"], "event.outcome": "failure",
                   "event.action": "ssh_login_failed", "process.name": "sshd"})
    alerts = _same(ruleset, events, 3600.0)
    fast = [a for a in alerts if a[2].startswith("SSH brute force (fast)")]
    assert len(fast) == 2  # a two-hour gap opens a second alert
    assert fast[0][5]["count"] > 3000 and len(fast[0][5]["events"]) == 10


def test_a_run_longer_than_the_suppression_window_stays_one_alert() -> None:
    """Firings 10 s apart for 20 minutes with a 30 s suppression window: one alert, updated
    all along (merged updates must be issued before the alert's `last` falls behind)."""
    rules = RuleSet([FAIL, OK, OTHER, _corr("count", "event_count", ("fail",), 60.0, 1.0, "source.ip")])
    events = _events([(10, "fail", "ip1", f"u{i % 3}") for i in range(120)] + [(31, "fail", "ip1", "u1")])
    alerts = [a for a in _same(rules, events, 30.0) if a[1] == "count"]
    assert len(alerts) == 2 and alerts[0][5]["count"] > 120
