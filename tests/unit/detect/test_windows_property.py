"""The incremental sliding windows equal a naive re-count of the window at every match."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.detect.correlate import Match, Window
from hostwarden.detect.ir import Correlation, Pred, Rule

REFS = ("a", "b", "c")
BASE = {r: Rule(id=r, name=r, title=r, detection=Pred("kind", "eq", r)) for r in REFS}

stream = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(REFS), st.sampled_from(["g1", "g2"]), st.sampled_from(["u1", "u2", "u3", "u4"])),
    min_size=1, max_size=40,
)


def _events(steps: list[tuple[int, str, str, str]]) -> list[tuple[float, str, dict[str, Any]]]:
    t, out = 0.0, []
    for gap, ref, group, user in steps:
        t += gap
        out.append((t, ref, {"host.name": group, "user.name": user}))
    return out


def _fired(corr: Correlation, events: list[tuple[float, str, dict[str, Any]]]) -> list[tuple[float, str]]:
    window = Window(Rule(id="w", title="w", correlation=corr), [{r} for r in corr.rules])
    fired = []
    for t, ref, ev in events:
        for m in window.add(Match(BASE[ref], t, ev)):
            fired.append((m.time, m.group["host.name"]))
    return fired


def _naive(corr: Correlation, events: list[tuple[float, str, dict[str, Any]]]) -> list[tuple[float, str]]:
    out = []
    for i, (t, ref, ev) in enumerate(events):
        if ref not in corr.rules:
            continue
        group = ev["host.name"]
        inside = [(tt, rr, ee) for tt, rr, ee in events[: i + 1]
                  if ee["host.name"] == group and rr in corr.rules and tt >= t - corr.timespan]
        if corr.type == "event_count":
            ok = corr.holds(len(inside))
        elif corr.type == "value_count":
            ok = corr.holds(len({ee["user.name"] for _, _, ee in inside}))
        elif corr.type == "temporal":
            ok = corr.holds(len({rr for _, rr, _ in inside}))
        else:  # temporal_ordered: ends with the last rule, earlier rules in order inside the window
            want, ok = 0, False
            if ref == corr.rules[-1]:
                for _, rr, _ in inside:
                    if rr == corr.rules[want]:
                        want += 1
                        if want == len(corr.rules):
                            ok = True
                            break
        if ok:
            out.append((t, group))
    return out


@settings(max_examples=200, deadline=None)
@given(steps=stream, kind=st.sampled_from(["event_count", "value_count", "temporal", "temporal_ordered"]),
       span=st.integers(1, 8), bound=st.integers(1, 4))
def test_incremental_windows_match_naive_recount(steps: list[tuple[int, str, str, str]], kind: str, span: int,
                                                 bound: int) -> None:
    refs = ("a",) if kind in ("event_count", "value_count") else ("a", "b")
    corr = Correlation(kind, refs, float(span), ("host.name",), (("gte", float(bound if kind != "temporal_ordered" else 1)),),
                       field="user.name" if kind == "value_count" else None)
    events = _events(steps)
    assert _fired(corr, events) == _naive(corr, events)
