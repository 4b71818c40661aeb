"""The columnar correlation of batch detection (`detect.bulkcorrelate`, driven by
`batch.bulk_alerts`) against the per-match engine on seeded random match streams.

Streams bigger and odder than the hypothesis test in test_bulk_correlate.py: ties in time,
missing group values, one event matched by two inputs of the same correlation (the same event id
twice in a window), group-by aliases reading different fields per input, distinct counts over
values that differ only in case, long runs whose evidence is gathered over several firings, and a
count correlation feeding a two-step sequence (whose firings the batch path prunes).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from hostwarden.detect.batch import run_engine
from hostwarden.detect.bulkcorrelate import window_starts
from hostwarden.detect.ir import Correlation, Pred, Rule
from hostwarden.detect.ruleset import RuleSet

FAIL = Rule(id="fail", name="fail", title="failure", detection=Pred("event.action", "eq", "fail"), level="low")
DENY = Rule(id="deny", name="deny", title="denied", detection=Pred("event.outcome", "eq", "failure"), level="low")
OK = Rule(id="ok", name="ok", title="success", detection=Pred("event.action", "eq", "ok"), level="low")
LOUD = Rule(id="loud", name="loud", title="any failure", detection=Pred("event.action", "eq", "fail"), level="high")


def _corr(rid: str, kind: str, refs: tuple[str, ...], span: float, cond: tuple[tuple[str, float], ...],
          group: tuple[str, ...], field: str | None = None, aliases: dict[str, dict[str, str]] | None = None,
          level: str = "medium") -> Rule:
    return Rule(id=rid, name=rid, title=rid, level=level,
                correlation=Correlation(kind, refs, span, group, cond, field=field, aliases=aliases or {}))


def _ruleset(rng: random.Random) -> RuleSet:
    span = float(rng.choice([3, 10, 45, 300]))
    bound = float(rng.randint(1, 6))
    op = rng.choice(["gte", "gt", "eq", "neq"])
    return RuleSet([
        FAIL, DENY, OK, LOUD,
        _corr("count", "event_count", ("fail", "deny"), span, ((op, bound),), ("source.ip",)),
        _corr("users", "value_count", ("fail",), span * 2, (("gte", bound),), ("source.ip",), field="user.name"),
        _corr("ips", "value_count", ("fail", "deny"), span, (("gte", 2.0), ("lt", bound + 3)), ("user.name",),
              field="source.ip"),
        # one group name read from a different field per input
        _corr("actor", "event_count", ("fail", "deny"), span, (("gte", bound),), ("actor",),
              aliases={"actor": {"fail": "source.ip", "deny": "host.name"}}),
        _corr("before", "event_count", ("fail",), span, (("gte", bound),), ("source.ip",)),
        Rule(id="after", name="after", title="login after failures", level="critical", generate=rng.random() < 0.5,
             correlation=Correlation("temporal_ordered", ("before", "ok"), span * 3, ("source.ip",))),
    ])


def _stream(rng: random.Random, n: int) -> list[dict[str, Any]]:
    t, out = 1_700_000_000.0, []
    for i in range(n):
        t += rng.choice([0, 0, 0.5, 1, 1, 2, 7, 30, 400, 4000])
        action = rng.choice(["fail", "fail", "fail", "ok", "noise"])
        out.append({"@timestamp": datetime.fromtimestamp(t, UTC), "event.action": action,
                    "event.outcome": rng.choice(["failure", "failure", None, "success"]),
                    "source.ip": rng.choice(["ip1", "ip2", "ip3", None]),
                    "user.name": rng.choice(["u1", "U1", "u2", "u3", "u4", "u5", "u6", None]),
                    "host.name": rng.choice(["h1", "ip1", None]), "event.id": f"e{i}",
                    "event.original": f"line {i}", "log.file.path": "/var/log/auth.log", "log.offset": i})
    return out


def _rows(ruleset: RuleSet, events: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    base = ruleset.base_rules
    return [(i, ev) for ev in events for i, rule in enumerate(base) if ruleset.checks[rule.id](ev)]


def _comparable(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(a["event.id"], a["rule.id"], a["message"], a["source.ip"], a["user.name"], a["threat.technique.id"],
             json.loads(a["hostwarden.detail"])) for a in alerts]


@pytest.mark.parametrize("seed", range(12))
def test_columnar_correlations_equal_the_engine_on_random_streams(seed: int) -> None:
    rng = random.Random(seed)
    ruleset = _ruleset(rng)
    rows = _rows(ruleset, _stream(rng, rng.choice([50, 300, 900])))
    suppress = rng.choice([1.0, 60.0, 3600.0])
    bulk = _comparable(run_engine(ruleset, rows, suppress_window=suppress, bulk=True))
    stepwise = _comparable(run_engine(ruleset, rows, suppress_window=suppress, bulk=False))
    assert bulk == stepwise
    assert bulk  # every seed raises something, so the comparison is not vacuous


def test_window_starts_is_bisect_left_per_group() -> None:
    from bisect import bisect_left

    rng = np.random.default_rng(3)
    groups = np.sort(rng.integers(0, 5, 400))
    times = np.concatenate([np.sort(rng.integers(0, 50, int((groups == g).sum()))).astype(float) for g in range(5)])
    new = np.ones(len(groups), dtype=bool)
    new[1:] = groups[1:] != groups[:-1]
    first = np.maximum.accumulate(np.where(new, np.arange(len(groups)), 0))
    got = window_starts(times, first, 7.0)
    want = [bisect_left(times.tolist(), t - 7.0, int(first[i]), i + 1) for i, t in enumerate(times.tolist())]
    assert got.tolist() == want
