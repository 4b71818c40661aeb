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

import operator
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count, islice
from typing import Any

from hostwarden.core.schema import FIELD_BY_NAME
from hostwarden.detect.ir import Correlation, Rule
from hostwarden.detect.matcher import _number, get_value

MAX_KEPT_EVENTS = 20
# Fields an entry keeps when its window is saved (what evidence, excerpts and sequence alerts read).
SAVED_FIELDS = ("event.id", "@timestamp", "event.original", "event.action", "host.name", "source.ip", "user.name",
                "log.file.path")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le, "eq": operator.eq, "neq": operator.ne}
_TOUCH = count()  # a process-wide use order, so groups of different windows compare for LRU eviction
_NO_COUNTS: Counter[Any] = Counter()  # shared by groups whose kind never counts into it (never written)


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
    # A shared empty default: a streaming engine holds a Match per window entry, and a list of
    # its own would be one more object for the garbage collector to walk (an empty dict isn't).
    events: Sequence[dict[str, Any]] = ()
    group: dict[str, Any] = field(default_factory=dict)
    count: int = 1
    # A correlation firing's window entries, made into events only when read: a window firing
    # again on each new match of a long brute force is usually just counted by an open alert.
    recent: tuple[_Entry, ...] | None = field(default=None, repr=False, compare=False)
    # The alert book's suppression key, when the producer knows it (a correlation group's).
    key: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    # What a window entry keeps of a base rule's match (`kept`), made once for all windows.
    _kept: Match | None = field(default=None, repr=False, compare=False)

    def evidence(self) -> list[dict[str, Any]]:
        """The events that make this match (`events`, or the one `event` of a base rule)."""
        recent = self.recent  # read once: the store thread may gather these while saving state
        if recent is not None:
            self.events = _newest(recent)
            self.recent = None
        return list(self.events) or [self.event]

    def kept(self) -> Match:
        """This match as a window keeps it: a base rule's event cut to the fields evidence and
        sequence alerts read (SAVED_FIELDS), a plain dict the garbage collector doesn't track;
        a firing as it is (its evidence is already such events)."""
        if self.events or self.recent is not None or self.group:
            return self
        if self._kept is None:
            event = self.event
            self._kept = Match(self.rule, self.time, {k: event[k] for k in SAVED_FIELDS if event.get(k) is not None})
        return self._kept


@dataclass(slots=True)
class _Entry:
    time: float
    ref: int
    value: Any
    match: Match


class _Group:
    """One group's window: its entries plus the running aggregate its condition reads, so each
    match costs O(1) amortized instead of a rescan of the window (a brute force is thousands
    of entries). Only that aggregate is kept: an event count needs none."""

    __slots__ = ("chain", "counter", "entries", "fired_as", "refs", "total", "numbers", "touched", "values")

    def __init__(self, n_refs: int, kind: str) -> None:
        self.touched = next(_TOUCH)
        self.entries: deque[_Entry] = deque()
        # Allocated only for the kinds that count them (a Counter per group adds up at 100k groups).
        self.values: Counter[str] = Counter() if kind == "value_count" else _NO_COUNTS
        self.refs: Counter[int] = Counter() if kind.startswith("temporal") else _NO_COUNTS
        self.total = 0.0
        self.numbers = 0
        # temporal_ordered: chain[i] = latest start time of a sequence matching rules[0..i]
        self.chain: list[float | None] = [None] * n_refs
        # (group-by values, alert key, the values that are set) of this group, made on its first firing
        self.fired_as: tuple[dict[str, Any], tuple[Any, ...], dict[str, Any]] | None = None
        # A plain function, not a bound method: that would be a reference cycle per group.
        self.counter = _COUNTERS.get(kind)

    def push(self, e: _Entry) -> None:
        self.entries.append(e)
        if self.counter is not None:
            self.counter(self, e, 1)

    def evict_before(self, horizon: float) -> None:
        entries, counter = self.entries, self.counter
        while entries and entries[0].time < horizon:
            e = entries.popleft()
            if counter is not None:
                counter(self, e, -1)

    def last(self, n: int) -> tuple[_Entry, ...]:
        return tuple(islice(reversed(self.entries), n))[::-1]


def _count_ref(group: _Group, e: _Entry, sign: int) -> None:
    group.refs[e.ref] += sign


def _count_value(group: _Group, e: _Entry, sign: int) -> None:
    if e.value is not None:
        text = str(e.value).lower()
        values = group.values
        values[text] += sign
        if values[text] <= 0:
            del values[text]


def _count_number(group: _Group, e: _Entry, sign: int) -> None:
    n = _number(e.value) if e.value is not None else None
    if n is not None:
        group.total += sign * n
        group.numbers += sign


_COUNTERS: dict[str, Callable[[_Group, _Entry, int], None]] = {
    "value_count": _count_value, "value_sum": _count_number, "value_avg": _count_number,
    "temporal": _count_ref, "temporal_ordered": _count_ref}


@dataclass(frozen=True)
class WindowSpec:
    """What a correlation window reads, described once for every executor of it: the streaming
    `Window` here, and the bulk correlator (detect.bulkcorrelate, detect.batch) that computes
    the same firings per column. Its inputs are the rules the correlation names, in order; for
    each, the ids that name it, the fields its group key is read from and the field its value
    is read from (Sigma aliases applied)."""

    correlation: Correlation
    input_ids: tuple[frozenset[str], ...]
    key_fields: tuple[tuple[str, ...], ...]  # per input, in group-by order
    value_fields: tuple[str | None, ...]  # per input; None without a `field`
    # judged only when the window closes: a condition an empty window meets (`lt`, `eq 0`, …)
    closing: bool

    @classmethod
    def of(cls, correlation: Correlation, input_ids: list[set[str]]) -> WindowSpec:
        ids = tuple(frozenset(i) for i in input_ids)

        def field(name: str, ref: int) -> str:
            alias = correlation.aliases.get(name)
            if alias:
                for key in ids[ref]:
                    if key in alias:
                        return alias[key]
            return name

        return cls(correlation, ids,
                   tuple(tuple(field(g, r) for g in correlation.group_by) for r in range(len(ids))),
                   tuple(field(correlation.field, r) if correlation.field else None for r in range(len(ids))),
                   correlation.type in ("event_count", "value_count", "value_sum") and correlation.holds(0))

    def input_of(self, rule: Rule) -> int | None:
        """Which input `rule` is (by id or name), or None when the window does not read it."""
        names = {rule.id, rule.name}
        return next((i for i, ids in enumerate(self.input_ids) if names & ids), None)

    def field(self, name: str, ref: int) -> str:
        """The field input `ref` holds correlation field `name` in (a group-by or the value)."""
        if name in self.correlation.group_by:
            return self.key_fields[ref][self.correlation.group_by.index(name)]
        if name == self.correlation.field:
            return self.value_fields[ref] or name
        return name


class Window:
    """The state of one correlation rule: a sliding window per group key."""

    def __init__(self, rule: Rule, ref_ids: list[set[str]]) -> None:
        assert rule.correlation is not None
        self.rule = rule
        self.corr: Correlation = rule.correlation
        self.spec = WindowSpec.of(self.corr, ref_ids)
        self.groups: dict[tuple[Any, ...], _Group] = {}
        self.opened: dict[tuple[Any, ...], float] = {}
        self.closing = self.spec.closing
        # Resolved once (the streaming path adds matches at line rate): which input a rule is,
        # the readers of each input's group key, the condition as plain compares.
        self._refs: dict[str, int | None] = {}
        self._value_fields = self.spec.value_fields
        self._key_of = [_key_reader(fields) for fields in self.spec.key_fields]
        tests = [(_COMPARE[op], bound) for op, bound in self.corr.condition]
        # Set by a streaming engine for a window nothing else reads: updates the open alert of a
        # group firing again (returning it) without building the firing, or returns None.
        self.quick: Callable[[str, tuple[Any, ...], float, int], dict[str, Any] | None] | None = None
        self._cond: Callable[[float], bool] = lambda v: all(cmp(v, bound) for cmp, bound in tests)
        if len(tests) == 1:  # the usual `gte: N`, without a generator per event
            (cmp, bound), = tests
            self._cond = lambda v: bool(cmp(v, bound))

    def _ref(self, m: Match) -> int | None:
        rid = m.rule.id
        if rid not in self._refs:
            self._refs[rid] = self.spec.input_of(m.rule)
        return self._refs[rid]

    def add(self, m: Match, updated: list[dict[str, Any]] | None = None) -> list[Match]:
        """The firings this match causes; with `quick` set, a group that fired before updates
        its open alert directly (appended to `updated`) instead."""
        ref = self._ref(m)
        if ref is None:
            return []
        event = m.event
        key = self._key_of[ref](event)
        value_field = self._value_fields[ref]
        value = get_value(event, value_field) if value_field else None
        fired: list[Match] = []
        if self.closing:
            start = self.opened.get(key)
            if start is not None and m.time > start + self.corr.timespan:
                fired.extend(self._close(key))
            self.opened.setdefault(key, m.time)
        group = self.groups.pop(key, None)  # re-inserted last: `groups` is kept in use order (LRU first)
        if group is None:
            group = _Group(len(self.spec.input_ids), self.corr.type)
        else:
            group.touched = next(_TOUCH)
        self.groups[key] = group
        group.push(_Entry(m.time, ref, value, m.kept()))
        if self.closing:
            return fired
        group.evict_before(m.time - self.corr.timespan)
        if self.corr.type == "temporal_ordered":
            if self._ordered(group, ref, m.time):
                fired.append(self._fire(key, group, m.time))
        elif self._holds(group):
            if self.quick is not None and group.fired_as is not None and updated is not None:
                alert = self.quick(self.rule.id, group.fired_as[1], m.time, len(group.entries))
                if alert is not None:
                    updated.append(alert)
                    return fired
            fired.append(self._fire(key, group, m.time))
        return fired

    def _ordered(self, group: _Group, ref: int, time: float) -> bool:
        chain = group.chain
        if ref == 0:
            chain[0] = time
        elif chain[ref - 1] is not None:
            chain[ref] = chain[ref - 1]  # prefix starts only grow with time: the latest is the best
        last = chain[-1]
        return ref == len(chain) - 1 and last is not None and time - last <= self.corr.timespan

    def _close(self, key: tuple[Any, ...]) -> list[Match]:
        start = self.opened.pop(key)
        group = self.groups.pop(key, None)
        if group is None or not self._holds(group):
            return []
        return [self._fire(key, group, start + self.corr.timespan)]

    def flush(self) -> list[Match]:
        fired: list[Match] = []
        for key in list(self.opened):
            fired.extend(self._close(key))
        return fired

    # -- bounded state (streaming) ---------------------------------------------------------
    def oldest(self) -> int | None:
        """Use stamp of the least recently used group (the first in `groups`), if any."""
        for group in self.groups.values():
            return group.touched
        return None

    def drop_oldest(self) -> None:
        """Forget the least recently used group (an eviction: its partial count is lost)."""
        key = next(iter(self.groups))
        del self.groups[key]
        self.opened.pop(key, None)

    def expire(self, now: float) -> list[Match]:
        """Drop groups whose newest entry left the window by `now` (nothing they hold can count
        again); absence windows past their span are judged first. Walks from the least recently
        used group and stops at the first live one, so a call costs what it removes. (One walk,
        then the removals: taking the first key of a dict again after each deletion rescans the
        deleted slots, quadratic in what is removed.)"""
        span = self.corr.timespan
        victims: list[tuple[tuple[Any, ...], bool]] = []
        for key, group in self.groups.items():
            start = self.opened.get(key) if self.closing else None
            if start is not None:
                if now <= start + span:
                    break
            elif group.entries and group.entries[-1].time >= now - span:
                break
            victims.append((key, start is not None))
        fired: list[Match] = []
        for key, judged in victims:
            if judged:
                fired.extend(self._close(key))
            else:
                del self.groups[key]
                self.opened.pop(key, None)
        return fired

    def capture(self) -> Callable[[], dict[str, Any]]:
        """The window as it is now, cheaply (entries are never changed once made): returns the
        function that turns it into `snapshot` data, which may run later on another thread."""
        groups = [(key, tuple(g.entries), list(g.chain), self.opened.get(key)) for key, g in self.groups.items()]
        return lambda: {"groups": [_saved_group(*group) for group in groups]}

    def snapshot(self) -> dict[str, Any]:
        """The window as JSON-ready data: per group its entries (time, ref, value) and, for the
        last MAX_KEPT_EVENTS, the few event fields alerts show."""
        return self.capture()()

    def restore(self, data: dict[str, Any]) -> None:
        """Rebuild groups saved by `snapshot` (same rule definition: ref indexes still mean the same)."""
        for saved in data.get("groups", ()):
            key = tuple(saved["key"])
            group = _Group(len(self.spec.input_ids), self.corr.type)
            for time, ref, value, events in _saved_entries(saved):
                event = events[-1] if events else {}
                group.push(_Entry(time, ref, value, Match(self.rule, time, event, events if len(events) > 1 else [])))
            chain = saved.get("chain") or []
            if len(chain) == len(group.chain):
                group.chain = [None if c is None else float(c) for c in chain]
            self.groups[key] = group
            if saved.get("opened") is not None:
                self.opened[key] = float(saved["opened"])

    def _holds(self, group: _Group) -> bool:
        t = self.corr.type
        if t == "event_count":
            return self._cond(len(group.entries))
        if t == "value_count":
            return self._cond(len(group.values))
        if t in ("value_sum", "value_avg"):
            if not group.numbers:
                return False
            return self._cond(group.total if t == "value_sum" else group.total / group.numbers)
        return self._cond(sum(1 for c in group.refs.values() if c > 0))  # temporal

    def _fire(self, key: tuple[Any, ...], group: _Group, time: float) -> Match:
        if group.fired_as is None:
            named = dict(zip(self.corr.group_by, key, strict=True))
            group.fired_as = (named, tuple(sorted((k, str(v)) for k, v in named.items())),
                              {k: v for k, v in named.items() if v is not None})
        values, book_key, known = group.fired_as
        recent = group.last(MAX_KEPT_EVENTS)
        synthetic: dict[str, Any] = {**known, "@timestamp": datetime.fromtimestamp(time, UTC)}
        if recent:
            # the event that made the window fire says where it fired (the host), and a sequence's
            # last step who it ended with (the account that logged in)
            last = recent[-1].match.event
            for name in firing_fields(self.corr.type):
                if name not in synthetic and last.get(name) is not None:
                    synthetic[name] = last[name]
        return Match(self.rule, time, synthetic, (), values, count=len(group.entries), recent=recent, key=book_key)


def firing_fields(kind: str) -> tuple[str, ...]:
    """Entity fields a correlation's alert takes from the event that made it fire, beside its
    group: the host always (an alert grouped by address alone still happened somewhere, and
    incidents group by host), and for a sequence also the address and account it ended with."""
    return ("host.name", "source.ip", "user.name") if kind in ("temporal", "temporal_ordered") else ("host.name",)

def _key_reader(fields: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """Reads a group key from an event; schema fields (the usual case) are plain dict reads."""
    if all(f in FIELD_BY_NAME for f in fields):
        return lambda event: tuple(map(event.get, fields))
    return lambda event: tuple(get_value(event, f) for f in fields)


def _newest(recent: Sequence[_Entry]) -> list[dict[str, Any]]:
    """The newest MAX_KEPT_EVENTS events of these entries, in time order (a chained window's
    entries each carry up to that many of their own: only the newest are walked)."""
    events: list[dict[str, Any]] = []
    for e in reversed(recent):
        own = e.match.evidence()
        events[:0] = own[max(0, len(own) - (MAX_KEPT_EVENTS - len(events))):]
        if len(events) >= MAX_KEPT_EVENTS:
            break
    return events


def _saved_group(key: tuple[Any, ...], entries: tuple[_Entry, ...], chain: list[float | None],
                 opened: float | None) -> dict[str, Any]:
    """A group as JSON-ready data: its entries as columns (a 24 h window holds tens of
    thousands; a list per entry was most of the cost of a save) and, walking back from the
    newest entry, the events `_newest` would take from each until MAX_KEPT_EVENTS: what the
    restored window's alerts read, and no more."""
    evidence: list[list[Any]] = []
    wanted = MAX_KEPT_EVENTS
    for back, e in enumerate(reversed(entries)):
        own = e.match.evidence()
        taken = [_slim(ev) for ev in own[max(0, len(own) - wanted):]]
        evidence.append([len(entries) - 1 - back, taken])
        wanted -= len(taken)
        if wanted <= 0:
            break
    values = [e.value for e in entries]
    return {"key": list(key), "times": [e.time for e in entries], "refs": [e.ref for e in entries],
            "values": values if any(v is not None for v in values) else None, "evidence": evidence,
            "chain": chain, "opened": opened}


def _saved_entries(saved: dict[str, Any]) -> list[tuple[float, int, Any, list[dict[str, Any]]]]:
    """(time, ref, value, events) per entry of a saved group, in either saved layout: columns
    (`_saved_group`), or one row per entry (state saved before columns)."""
    if "times" not in saved:
        return [(float(row[0]), int(row[1]), row[2], row[3] if len(row) > 3 else []) for row in saved["entries"]]
    times, refs = saved["times"], saved["refs"]
    values = saved.get("values") or [None] * len(times)
    events: dict[int, list[dict[str, Any]]] = {int(i): evs for i, evs in saved.get("evidence") or ()}
    return [(float(t), int(r), v, events.get(i, [])) for i, (t, r, v) in enumerate(zip(times, refs, values, strict=True))]


def _slim(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in SAVED_FIELDS:
        value = event.get(name)
        if value is not None:
            out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out
