"""Alert runs and count correlations over a whole batch of matches, as array operations.

Why: in bulk, a brute force is hundreds of thousands of failures. Walking them one by one in
Python — a window update in each of five SSH correlations, a firing object per match, an alert
update per firing — was most of the batch detection time and memory. In a batch all matches are
known up front, sorted by time, so everything the engine would compute match by match can be
computed per column with numpy (and DuckDB for distinct counts), and only the few results that
become alerts go back to Python objects.

Exactly the engine's semantics (the agreement tests pin them):

* a window holds its group's matches with `time >= t - timespan` up to and including the
  current one (stream order); `event_count` counts them, `value_count` counts distinct
  lower-cased text values; a correlation fires on each match after which its condition holds;
  a firing's count is the window size and its evidence the window's last `MAX_KEPT_EVENTS`;
* the alert book merges the firings (or, for a base rule, the matches) of one rule and key that
  are no more than `suppress_window` apart into one alert: its count is the sum of their counts,
  its evidence the first `MAX_EVIDENCE` distinct events of their evidence lists in order.

Only correlations whose inputs are all base rules, whose condition cannot hold on an empty window
and whose group-by / value fields are text columns of the scanned rows are taken here (`eligible`);
the rest (temporal, sums, "fewer than", chains of correlations) stay in the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hostwarden.core.schema import FIELD_BY_NAME
from hostwarden.detect.alerts import MAX_EVIDENCE
from hostwarden.detect.correlate import MAX_KEPT_EVENTS, Window
from hostwarden.detect.ir import Rule
from hostwarden.detect.ruleset import RuleSet

_SHARED = frozenset({"host.name", "log.file.path", "source.ip", "user.name"})  # few distinct values
_COMPARE = {"gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal,
            "eq": np.equal, "neq": np.not_equal}


def text_column(name: str) -> bool:
    """A scalar text column of the schema (what grouping by array codes can read)."""
    f = FIELD_BY_NAME.get(name)
    return f is not None and f.sql == "VARCHAR" and name != "labels"


def refs_of(window: Window, rules: Sequence[Rule]) -> list[int | None]:
    """Per base rule: which of the window's inputs it is (None: not an input)."""
    return [window.spec.input_of(rule) for rule in rules]


def eligible(ruleset: RuleSet, window: Window) -> bool:
    """A correlation this module evaluates exactly as the engine would."""
    corr = window.corr
    if corr.type not in ("event_count", "value_count") or window.closing:
        return False
    if not all(ruleset.resolve(r).detection is not None for r in corr.rules):
        return False
    names = [f for fields in window.spec.key_fields for f in fields]
    names += [f for f in window.spec.value_fields if f is not None]
    return all(text_column(n) for n in names)


def encode(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Integer codes of an array's values (equal values, equal codes); null is -1."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks else pa.array([], pa.dictionary(pa.int32(),
                                                                                                 pa.string()))
    return np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def combine(*codes: np.ndarray) -> np.ndarray:
    """One code per distinct tuple of codes (dense, so combining again never overflows)."""
    out = np.zeros(len(codes[0]) if codes else 0, dtype=np.int64)
    for c in codes:
        pair = out * (int(c.max(initial=-1)) + 2) + (c + 1)
        out = np.unique(pair, return_inverse=True)[1].astype(np.int64).reshape(-1)
    return out


def window_starts(times: np.ndarray, first: np.ndarray, span: float) -> np.ndarray:
    """For each element i of a series sorted by (group, time): the first index j of its group with
    `times[j] >= times[i] - span`, searched in `[first[i], i]` — `bisect_left` on every element
    at once (the same float comparison as the engine's)."""
    horizon = times - span
    lo = first.copy()
    hi = np.arange(len(times), dtype=np.int64)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        below = active & (times[np.minimum(mid, len(times) - 1)] < horizon)
        lo = np.where(below, mid + 1, lo)
        hi = np.where(active & ~below, mid, hi)


def distinct_counts(group: np.ndarray, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Distinct non-null values (codes; -1 is null) in each element's window `[starts[i], i]` of
    its group (one DuckDB windowed count-distinct with a per-row frame)."""
    idx = np.arange(len(values), dtype=np.int64)
    table = pa.table({"g": group, "i": idx, "v": pa.array(values, mask=values < 0),
                      "n": idx - starts})
    con = duckdb.connect()
    try:
        con.register("hw_series", table)
        out = con.sql("SELECT count(DISTINCT v) OVER (PARTITION BY g ORDER BY i ROWS BETWEEN n PRECEDING AND "
                      "CURRENT ROW) AS d, i FROM hw_series ORDER BY i").to_arrow_table()
    finally:
        con.close()
    return np.asarray(out.column("d").to_numpy(), dtype=np.int64)


@dataclass
class Firings:
    """A correlation's firings over a batch. `series` lists the window's input matches (stream
    indexes) sorted by (group, stream order); firing f happened at `series[at[f]]`, its window is
    `series[lo[f]:at[f] + 1]` and its count that window's size."""

    series: np.ndarray
    group: np.ndarray  # group code per series element
    at: np.ndarray
    lo: np.ndarray

    def evidence(self, f: int) -> np.ndarray:
        """Stream indexes of firing f's evidence: its window's newest MAX_KEPT_EVENTS matches."""
        hi = int(self.at[f]) + 1
        return self.series[max(int(self.lo[f]), hi - MAX_KEPT_EVENTS):hi]


def firings(window: Window, refs: np.ndarray, keys: list[np.ndarray], values: np.ndarray | None,
            times: np.ndarray) -> Firings:
    """Every firing of `window` over a stream: `refs` (input index or -1 per match), `keys` (one
    code array per group-by field), `values` (lower-cased value codes, value_count) and `times`."""
    chosen = np.flatnonzero(refs >= 0)
    group = combine(*[k[chosen] for k in keys]) if keys else np.zeros(len(chosen), dtype=np.int64)
    order = np.lexsort((chosen, group))
    series, group = chosen[order], group[order]
    t = times[series]
    new = np.ones(len(series), dtype=bool)
    new[1:] = group[1:] != group[:-1]
    first = np.maximum.accumulate(np.where(new, np.arange(len(series)), 0))
    lo = window_starts(t, first, window.corr.timespan)
    size = np.arange(len(series)) - lo + 1
    n = size if values is None else distinct_counts(group, values[series], lo)
    fires = np.ones(len(series), dtype=bool)
    for op, bound in window.corr.condition:
        fires &= _COMPARE[op](n.astype(np.float64), float(bound))
    at = np.flatnonzero(fires)
    return Firings(series, group, at, lo[at])


def runs(group: np.ndarray, times: np.ndarray, suppress_window: float) -> np.ndarray:
    """Start indexes of the alert runs in a list sorted by (group, stream order): a new alert
    where the group changes or more than `suppress_window` passed since the previous item."""
    if not len(group):
        return np.zeros(0, dtype=np.int64)
    new = np.ones(len(group), dtype=bool)
    new[1:] = (group[1:] != group[:-1]) | (times[1:] - times[:-1] > suppress_window)
    return np.flatnonzero(new)


def first_distinct(candidates: Iterable[np.ndarray], ids: np.ndarray, limit: int = MAX_EVIDENCE) -> list[int]:
    """The first `limit` stream indexes of distinct event ids (codes) in `candidates` (lists of
    stream indexes, walked in order) — the evidence the book would keep."""
    seen: set[int] = set()
    out: list[int] = []
    for chunk in candidates:
        for i in chunk.tolist():
            code = int(ids[i])
            if code not in seen:
                seen.add(code)
                out.append(i)
                if len(out) >= limit:
                    return out
    return out


class Row(Mapping[str, Any]):
    """A matched event as a read-only mapping over a tuple of its needed columns.

    Why: only the events that end up in an alert (evidence, keys) or feed the engine become
    Python objects; a tuple plus a shared column index costs a fifth of a dict."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: tuple[Any, ...]) -> None:
        self._index, self._values = index, values

    def __getitem__(self, name: str) -> Any:
        return self._values[self._index[name]]

    def get(self, name: str, default: Any = None) -> Any:
        i = self._index.get(name)
        return default if i is None else self._values[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


class Matches(Sequence[tuple[int, Mapping[str, Any]]]):
    """Every (base rule index, event) match of a batch, in stream (time) order, kept as columns:
    `table` holds the matched rows' needed fields, `rule`, `row` (into `table`) and `time` one
    entry per match. Indexing gives (rule index, event) like the list it replaces; events are
    built on demand (`load`), so a million matches cost arrays, not a million objects."""

    def __init__(self, table: pa.Table, rule: np.ndarray, row: np.ndarray, time: np.ndarray,
                 given: Sequence[Mapping[str, Any]] | None = None) -> None:
        self.table, self.rule, self.row, self.time = table, rule, row, time
        self._index = {name: i for i, name in enumerate(table.column_names)}
        self._events: dict[int, Mapping[str, Any]] = dict(enumerate(given)) if given is not None else {}
        self._codes: dict[str, np.ndarray] = {}

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[int, Mapping[str, Any]]], columns: Sequence[str]) -> Matches:
        """Matches from (rule index, event) pairs already in time order (events kept as given)."""
        from hostwarden.core.schema import ARROW_SCHEMA
        from hostwarden.detect.correlate import epoch

        schema = pa.schema([ARROW_SCHEMA.field(c) for c in columns])
        events = [ev for _, ev in rows]
        table = pa.Table.from_pylist([{c: ev.get(c) for c in columns} for ev in events], schema=schema)
        n = len(rows)
        return cls(table, np.fromiter((i for i, _ in rows), np.int64, n), np.arange(n, dtype=np.int64),
                   np.fromiter((epoch(ev.get("@timestamp")) for ev in events), np.float64, n), events)

    def __len__(self) -> int:
        return len(self.rule)

    @overload
    def __getitem__(self, i: int) -> tuple[int, Mapping[str, Any]]: ...

    @overload
    def __getitem__(self, i: slice) -> list[tuple[int, Mapping[str, Any]]]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        self.load([i])
        return int(self.rule[i]), self.event(i)

    def __iter__(self) -> Iterator[tuple[int, Mapping[str, Any]]]:
        step = 65_536
        for start in range(0, len(self), step):
            self.load(range(start, min(start + step, len(self))))
            for i in range(start, min(start + step, len(self))):
                yield int(self.rule[i]), self.event(i)

    def event(self, i: int) -> Mapping[str, Any]:
        """The event of match i (after `load`)."""
        return self._events[int(self.row[i])]

    def load(self, matches: Iterable[int]) -> None:
        """Build the events of these matches (one Arrow take for all of them)."""
        rows = sorted({int(self.row[i]) for i in matches} - self._events.keys())
        if not rows:
            return
        taken = self.table.take(pa.array(rows, pa.int64()))
        shared: dict[str, str] = {}
        cols = []
        for name in taken.column_names:
            values = taken.column(name).to_pylist()
            if name in _SHARED:
                values = [shared.setdefault(v, v) if isinstance(v, str) else v for v in values]
            cols.append(values)
        for r, values in zip(rows, zip(*cols, strict=True), strict=True):
            self._events[r] = Row(self._index, values)

    def codes(self, name: str) -> np.ndarray:
        """Per match: a code of its value of column `name` (`encode`)."""
        if name not in self._codes:
            self._codes[name] = encode(self.table.column(name))[self.row] if len(self.row) else np.zeros(0, np.int64)
        return self._codes[name]

    def lower_codes(self, fields: Sequence[str], refs: np.ndarray) -> np.ndarray:
        """Per match: a code of `str(value).lower()` of the column `fields[ref]` (the field its
        correlation input reads); null is -1. What a distinct count compares."""
        encoded = pc.dictionary_encode(self._pick(fields, refs))
        lowered: dict[str, int] = {}
        mapping = np.array([lowered.setdefault(str(v).lower(), len(lowered))
                            for v in encoded.dictionary.to_pylist()] + [-1], dtype=np.int64)
        return mapping[np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)]

    def key_codes(self, fields: Sequence[str], refs: np.ndarray) -> np.ndarray:
        """Like `codes`, reading column `fields[ref]` for a match of input `ref` (aliases)."""
        if len(set(fields)) == 1:
            return self.codes(fields[0])
        return encode(self._pick(fields, refs))

    def _pick(self, fields: Sequence[str], refs: np.ndarray) -> pa.Array:
        distinct = sorted(set(fields))
        which = np.array([distinct.index(f) for f in fields], dtype=np.int64)[np.maximum(refs, 0)]
        stacked = pa.concat_arrays([self.table.column(n).combine_chunks().cast(pa.string()) for n in distinct])
        return stacked.take(pa.array(self.row + which * self.table.num_rows, pa.int64()))
