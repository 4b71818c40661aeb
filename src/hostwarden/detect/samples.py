"""Every rule carries samples it must and must not fire on (`tests: {match: […], nomatch: […]}`).

Sample events are flat ECS dicts with a few helpers so a 20-event burst stays one line:
`_repeat: N` copies the event N times, `_step: S` spaces copies S seconds apart, `_vary: FIELD`
appends the copy's index to that field (`user` → `user0`, `user1` …), `_at: S` places the event
S seconds after the start (otherwise one second after the previous one).

A base rule's samples are tested one by one with both executors; a correlation's `match` list
is one sequence that must raise that rule's alert through the engine, `nomatch` one that must not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hostwarden.core.schema import event_id, to_arrow
from hostwarden.detect.engine import Engine
from hostwarden.detect.ir import Rule
from hostwarden.detect.ruleset import RuleSet
from hostwarden.detect.sqlcompile import match_arrow

START = 1_700_000_000.0


def expand(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    t = START - 1
    for sample in samples:
        spec = dict(sample)
        repeat = int(spec.pop("_repeat", 1))
        step = float(spec.pop("_step", 1))
        vary = spec.pop("_vary", None)
        at = spec.pop("_at", None)
        t = START + float(at) if at is not None else t + 1
        for i in range(repeat):
            ev = dict(spec)
            if vary:
                ev[vary] = f"{ev.get(vary, '')}{i}"
            ev["@timestamp"] = datetime.fromtimestamp(t + i * step, UTC)
            ev.setdefault("event.original", " ".join(f"{k}={v}" for k, v in spec.items()))
            ev["event.id"] = event_id("sample", len(out), ev["event.original"])
            out.append(ev)
        t += (repeat - 1) * step
    return out


@dataclass
class SampleResult:
    rule: Rule
    kind: str  # match / nomatch
    index: int
    ok: bool
    why: str = ""


def _fires(ruleset: RuleSet, rule: Rule, events: list[dict[str, Any]]) -> bool:
    engine = Engine(ruleset)
    for ev in events:
        engine.feed(ev)
    engine.flush()
    return any(a["rule.id"] == rule.id for a in engine.alerts)


def run_samples(ruleset: RuleSet) -> list[SampleResult]:
    """Check every rule's samples; a failure says which sample and which executor disagreed."""
    results: list[SampleResult] = []
    for rule in ruleset.rules:
        for kind in ("match", "nomatch"):
            samples = rule.samples.get(kind) or []
            if not samples:
                continue
            want = kind == "match"
            events = expand(samples)
            if rule.detection is not None:
                check = ruleset.checks[rule.id]
                sql = set(match_arrow(to_arrow(events), rule.detection))
                for i, ev in enumerate(events):
                    py = check(ev)
                    ok = py == want and (i in sql) == want
                    why = "" if ok else f"python={py} duckdb={i in sql}, expected {want}"
                    results.append(SampleResult(rule, kind, i, ok, why))
            else:
                fired = _fires(ruleset, rule, events)
                results.append(SampleResult(rule, kind, 0, fired == want,
                                            "" if fired == want else f"fired={fired}, expected {want}"))
    return results
