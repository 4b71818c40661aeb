"""The streaming rule dispatch never skips a rule that would match (it only saves checks)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.detect.dispatch import Dispatch, guard_of
from hostwarden.detect.ir import And, Or, Pred
from hostwarden.detect.ruleset import load_rules

PACK = load_rules()
DISPATCH = Dispatch(PACK.base_rules)
VALUES = ["web", "WEB", "process", "failure", "Failure", "success", "ssh_login", "sudo_command", "sshd", "auditd",
          "start", "error", "authentication", "404", 404, None]
FIELDS = ["event.category", "event.outcome", "event.action", "event.dataset", "event.type",
          "http.response.status_code", "user.name"]


def matching(event: dict[str, Any]) -> set[str]:
    return {r.id for r in PACK.base_rules if PACK.checks[r.id](event)}


def test_every_rule_sample_reaches_its_rule() -> None:
    samples = [s for r in PACK.base_rules for kind in ("match", "nomatch") for s in r.samples.get(kind, [])]
    assert len(samples) > 20
    for event in samples:
        assert matching(event) <= {r.id for r in DISPATCH.candidates(event)}, event


def test_most_rules_are_guarded() -> None:
    # why the dispatch pays: only rules without a leading equality test are checked every time
    assert len(DISPATCH.always) < len(PACK.base_rules) / 3


def test_guard_is_a_needed_equality() -> None:
    node = And((Or((Pred("event.dataset", "eq", "sshd"), Pred("process.name", "eq", "sshd"))),
                Pred("event.outcome", "eq", "failure")))
    assert guard_of(node) == ("event.outcome", {"failure"})
    assert guard_of(Or((Pred("a", "eq", "x"), Pred("b", "eq", "y")))) is None
    assert guard_of(Pred("event.category", "eq", "Web")) == ("event.category", {"web"})
    assert guard_of(Pred("event.category", "eq", "Web", cased=True)) is None


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), st.one_of(st.sampled_from(VALUES),
                                                          st.lists(st.sampled_from(VALUES), max_size=3))))
def test_random_events_never_lose_a_match(event: dict[str, Any]) -> None:
    event = {k: v for k, v in event.items() if v is not None}
    event.setdefault("event.original", "x")
    assert matching(event) <= {r.id for r in DISPATCH.candidates(event)}
