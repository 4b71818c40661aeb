"""The built-in rule pack loads cleanly and every rule's samples pass in both executors."""

from __future__ import annotations

import pytest

from hostwarden.detect.ruleset import load_rules
from hostwarden.detect.samples import expand, run_samples

RULESET = load_rules()


def test_pack_loads_without_errors() -> None:
    assert RULESET.errors == []
    assert len(RULESET.rules) >= 20


@pytest.mark.parametrize("rule", RULESET.rules, ids=lambda r: r.name or r.id)
def test_rule_metadata(rule) -> None:  # type: ignore[no-untyped-def]
    assert rule.level in ("informational", "low", "medium", "high", "critical")
    assert rule.author
    assert rule.techniques, "every rule names an ATT&CK technique"
    if rule.id not in RULESET.silent:
        assert rule.falsepositives, "alerting rules say what their false positives are"
        assert len(rule.fix) > 20, "alerting rules say what to do"
        assert rule.samples.get("match") and rule.samples.get("nomatch")


def test_every_sample_passes() -> None:
    results = run_samples(RULESET)
    failures = [f"{r.rule.title} {r.kind}[{r.index}]: {r.why}" for r in results if not r.ok]
    assert len(results) >= 80
    assert failures == []


def test_expand_helpers() -> None:
    events = expand([{"_repeat": 3, "_step": 10, "_vary": "user.name", "user.name": "u"}, {"x": 1}])
    assert [e["user.name"] for e in events[:3]] == ["u0", "u1", "u2"]
    times = [e["@timestamp"].timestamp() for e in events]
    assert times[1] - times[0] == 10 and times[3] - times[2] == 1
    assert len({e["event.id"] for e in events}) == 4
