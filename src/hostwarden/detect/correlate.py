"""Stateful correlation: sliding windows per group over the matches of other rules.

Each match looks back `timespan` seconds from its own time within its group (sliding, not fixed
bins), so five failures spread over a bin boundary still count as five. Conditions that a window
can only satisfy by *absence* (`lt`, `lte`, `eq 0`, …: true for an empty window) cannot be
decided when an event arrives; those windows open at a group's first match and are judged when
they close (a later match beyond the span, or `flush`).

A firing is itself a `Match`, so correlations chain: "≥ 5 failures" feeding "failures, then a
success" is how the built-in pack finds a login after brute force.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hostwarden.detect.ir import Correlation, Rule
from hostwarden.detect.matcher import _number, get_value

MAX_KEPT_EVENTS = 20


def epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return epoch(datetime.fromisoformat(value))
        except ValueError:
            return 0.0
    return 0.0


@dataclass
class Match:
    """A rule matched: one event (base rule) or a window of them (correlation)."""

    rule: Rule
    time: float
    event: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    group: dict[str, Any] = field(default_factory=dict)
    count: int = 1


@dataclass
class _Entry:
    time: float
    ref: int
    value: Any
    match: Match


class Window:
    """The state of one correlation rule: a deque of recent matches per group key."""

    def __init__(self, rule: Rule, ref_ids: list[set[str]]) -> None:
        assert rule.correlation is not None
        self.rule = rule
        self.corr: Correlation = rule.correlation
        self.ref_ids = ref_ids  # per referenced rule: the ids/names that identify it
        self.groups: dict[tuple[Any, ...], deque[_Entry]] = {}
        self.opened: dict[tuple[Any, ...], float] = {}
        self.closing = self.corr.type in ("event_count", "value_count", "value_sum") and self.corr.holds(0)

    def _field(self, name: str, ref: int) -> str:
        alias = self.corr.aliases.get(name)
        if alias:
            for key in self.ref_ids[ref]:
                if key in alias:
                    return alias[key]
        return name

    def _ref(self, m: Match) -> int | None:
        ids = {m.rule.id, m.rule.name}
        return next((i for i, refs in enumerate(self.ref_ids) if ids & refs), None)

    def add(self, m: Match) -> list[Match]:
        ref = self._ref(m)
        if ref is None:
            return []
        key = tuple(get_value(m.event, self._field(g, ref)) for g in self.corr.group_by)
        value = get_value(m.event, self._field(self.corr.field, ref)) if self.corr.field else None
        fired: list[Match] = []
        if self.closing:
            start = self.opened.get(key)
            if start is not None and m.time > start + self.corr.timespan:
                fired.extend(self._close(key))
            self.opened.setdefault(key, m.time)
        entries = self.groups.setdefault(key, deque())
        entries.append(_Entry(m.time, ref, value, m))
        if not self.closing:
            horizon = m.time - self.corr.timespan
            while entries and entries[0].time < horizon:
                entries.popleft()
            if self._holds(entries):
                fired.append(self._fire(key, list(entries), m.time))
        return fired

    def _close(self, key: tuple[Any, ...]) -> list[Match]:
        start = self.opened.pop(key)
        entries = list(self.groups.pop(key, ()))
        inside = [e for e in entries if e.time <= start + self.corr.timespan]
        return [self._fire(key, inside, start + self.corr.timespan)] if self._holds(inside) else []

    def flush(self) -> list[Match]:
        fired: list[Match] = []
        for key in list(self.opened):
            fired.extend(self._close(key))
        return fired

    def _holds(self, entries: Any) -> bool:
        t = self.corr.type
        if t == "event_count":
            return self.corr.holds(len(entries))
        if t == "value_count":
            return self.corr.holds(len({str(e.value).lower() for e in entries if e.value is not None}))
        if t in ("value_sum", "value_avg"):
            nums = [n for n in (_number(e.value) for e in entries) if n is not None]
            if not nums:
                return False
            return self.corr.holds(sum(nums) if t == "value_sum" else sum(nums) / len(nums))
        if t == "temporal":
            return self.corr.holds(len({e.ref for e in entries}))
        # temporal_ordered: the referenced rules occur in their listed order inside the window
        want = 0
        for e in entries:
            if e.ref == want:
                want += 1
                if want == len(self.ref_ids):
                    return True
        return False

    def _fire(self, key: tuple[Any, ...], entries: list[_Entry], time: float) -> Match:
        group = dict(zip(self.corr.group_by, key, strict=True))
        events = [ev for e in entries for ev in (e.match.events or [e.match.event])][-MAX_KEPT_EVENTS:]
        synthetic: dict[str, Any] = {**{k: v for k, v in group.items() if v is not None},
                                     "@timestamp": datetime.fromtimestamp(time, UTC)}
        last = entries[-1].match.event if entries else {}
        for name in ("host.name", "source.ip", "user.name"):  # carried for chained correlations
            if name not in synthetic and last.get(name) is not None:
                synthetic[name] = last[name]
        return Match(self.rule, time, synthetic, events, group, count=len(entries))
