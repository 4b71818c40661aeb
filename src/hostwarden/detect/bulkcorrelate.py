"""Count and distinct-count correlations over a whole batch of matches at once.

Why: in bulk, a brute force is tens of thousands of failures, and the streaming engine
(`detect.engine`) pays per failure a window update in each of five SSH correlations, plus a
`Match`, an alert update and a JSON-ready evidence list for every firing — most of the batch
detection time. In a batch all matches are known up front, sorted by time, so a sliding
count per group is a binary search over that group's match times, and the firings that only
update the same open alert can be applied as one update per suppression step.

Exactly the engine's semantics (the agreement tests pin them): a window holds the group's
matches with `time >= t - timespan` up to and including the current one; `event_count` counts
them, `value_count` counts distinct lower-cased text values; a correlation fires on each match
after which its condition holds; a firing's evidence is the window's last `MAX_KEPT_EVENTS`
events and its count is the window size; suppression merges firings of the same rule and group
no more than `suppress_window` apart into one alert. Only correlations whose inputs are all base
rules and whose condition cannot hold on an empty window are taken here; others (temporal, sums,
"fewer than", chains of correlations) stay in the engine. A correlation that feeds another one
(the failures that precede a login) is evaluated here but its firings are handed back to the
engine one by one at the right place in the stream, so chaining is unchanged.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hostwarden.detect.alerts import MAX_EVIDENCE, AlertBook
from hostwarden.detect.correlate import MAX_KEPT_EVENTS, Match, Window
from hostwarden.detect.ir import Rule
from hostwarden.detect.matcher import get_value
from hostwarden.detect.ruleset import RuleSet

Event = Mapping[str, Any]  # a stored event's fields (a dict, or the batch scan's compact row)


def eligible(ruleset: RuleSet, window: Window) -> bool:
    """A correlation this module evaluates exactly as the engine would."""
    corr = window.corr
    if corr.type not in ("event_count", "value_count") or window.closing:
        return False
    return all(ruleset.resolve(r).detection is not None for r in corr.rules)


class Firing:
    """The engine's `Window._fire` for match `pos` of the stream: group, time, window size; its
    evidence (the window's last events) is sliced only when asked for — most firings of a long
    brute force only add to a count."""

    __slots__ = ("_all", "_lo", "count", "key", "pos", "time")

    def __init__(self, pos: int, time: float, key: tuple[Any, ...], count: int, events: list[Event], lo: int) -> None:
        self.pos, self.time, self.key, self.count, self._all, self._lo = pos, time, key, count, events, lo

    @property
    def events(self) -> list[Event]:
        hi = self._lo + self.count  # the window is events[lo:hi]; evidence is its tail
        return self._all[max(self._lo, hi - MAX_KEPT_EVENTS):hi]


@dataclass
class _Series:
    """One group's matches of one correlation, in stream order."""

    pos: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    values: list[str | None] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def firings(window: Window, stream: Sequence[tuple[Rule, float, Event]]) -> Iterator[Firing]:
    """Every firing of `window` over `stream` ((rule, time, event) of each match, sorted by
    time), group by group."""
    corr = window.corr
    series: dict[tuple[Any, ...], _Series] = {}
    refs: dict[str, int | None] = {}  # rule id → which referenced rule it is (None: not an input)
    holds: dict[int, bool] = {}  # condition by window size / distinct count, decided once each
    fields: dict[int, tuple[str, ...]] = {}  # ref → the group-by fields it reads (aliases applied)
    for pos, (rule, time, event) in enumerate(stream):
        ref = refs[rule.id] if rule.id in refs else refs.setdefault(rule.id, window._ref(Match(rule, time, event)))
        if ref is None:
            continue
        names = fields.get(ref)
        if names is None:
            names = fields[ref] = tuple(window._field(g, ref) for g in corr.group_by)
        key = tuple(get_value(event, name) for name in names)
        s = series.get(key)
        if s is None:
            s = series[key] = _Series()
        s.pos.append(pos)
        s.times.append(time)
        s.events.append(event)
        if corr.field:
            value = get_value(event, window._field(corr.field, ref))
            s.values.append(None if value is None else str(value).lower())
    distinct = corr.type == "value_count"
    for key, s in series.items():
        start = 0
        seen: Counter[str] = Counter()
        for k, t in enumerate(s.times):
            if distinct:
                if s.values[k] is not None:
                    seen[s.values[k]] += 1  # type: ignore[index]
                new_start = bisect_left(s.times, t - corr.timespan, start, k + 1)
                for j in range(start, new_start):
                    gone = s.values[j]
                    if gone is not None:
                        seen[gone] -= 1
                        if seen[gone] <= 0:
                            del seen[gone]
                start = new_start
                n = len(seen)
            else:
                start = bisect_left(s.times, t - corr.timespan, start, k + 1)
                n = k - start + 1
            fires = holds.get(n)
            if fires is None:
                fires = holds[n] = corr.holds(n)
            if fires:
                yield Firing(s.pos[k], t, key, k - start + 1, s.events, start)


def as_match(window: Window, f: Firing) -> Match:
    """The `Match` the engine's window would have produced for this firing."""
    values = dict(zip(window.corr.group_by, f.key, strict=True))
    synthetic: dict[str, Any] = {**{k: v for k, v in values.items() if v is not None},
                        "@timestamp": datetime.fromtimestamp(f.time, UTC)}
    return Match(window.rule, f.time, synthetic, f.events, values, count=f.count)


def record_compressed(book: AlertBook, window: Window, fired: Sequence[Firing], suppress_window: float) -> list[
        tuple[int, dict[str, Any]]]:
    """Apply one group's firings (in order) to the alert book with as few updates as possible.

    Equal to recording each firing: a firing more than `suppress_window` after the previous one
    opens a new alert (recorded on its own); the others of a run are summed into updates, each
    issued just before the alert's `last` would fall more than the window behind. Evidence is
    the same because the book takes the first `MAX_EVIDENCE` distinct event ids in order, and
    the merged update lists the firings' events in order. Returns (stream position, alert) of
    each alert opened.
    """
    opened: list[tuple[int, dict[str, Any]]] = []
    pending: list[Firing] = []
    last = float("-inf")  # the book's `last` for this group's open alert
    evidence: list[Any] = []  # mirror of the open alert's evidence ids

    def take(events: list[Event]) -> list[Event]:
        out = []
        for ev in events:
            if len(evidence) >= MAX_EVIDENCE:
                break
            if ev.get("event.id") not in evidence:
                evidence.append(ev.get("event.id"))
                out.append(ev)
        return out

    def flush() -> None:
        nonlocal last
        if not pending:
            return
        events = [ev for f in pending for ev in take(f.events)] or pending[-1].events
        merged = as_match(window, pending[-1])
        merged.events, merged.count = events, sum(f.count for f in pending)
        book.record(merged)
        last = pending[-1].time
        pending.clear()

    for f in fired:
        if f.time - (pending[-1].time if pending else last) > suppress_window:  # a new alert
            flush()
            evidence.clear()
            take(f.events)
            opened.append((f.pos, book.record(as_match(window, f))))
            last = f.time
            continue
        if pending and f.time - last > suppress_window:
            flush()
        pending.append(f)
    flush()
    return opened
