"""Batch detection over the store: a time range, or the rows of one ingest (by source path).

All base rules are evaluated in one scan: each rule's compiled SQL becomes a boolean column
(`r0`, `r1`, …) and the WHERE keeps rows where any is true, so DuckDB reads the events once
however many rules are loaded. Only matching rows come back to Python, in time order, and go
through the same engine (correlation, chaining, suppression) as the streaming path.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import pyarrow.compute as pc

from hostwarden.detect.alerts import (
    ALERT_SOURCE,
    FOLLOW_UP_ACTIONS,
    FOLLOW_UP_MAX,
    FOLLOW_UP_SECONDS,
    KEY_FIELDS,
)
from hostwarden.detect.bulkcorrelate import Firing, as_match, eligible, firings, record_compressed
from hostwarden.detect.correlate import Match, Window, epoch
from hostwarden.detect.duckdb import compile_sql
from hostwarden.detect.engine import Engine
from hostwarden.detect.ir import Rule
from hostwarden.detect.prefilter import plan, profiles_sql
from hostwarden.detect.ruleset import RuleSet
from hostwarden.schema import DEFAULT_TENANT, FIELD_BY_NAME, quote_ident, to_arrow

RULES_PER_SCAN = 128  # keeps one statement's text and parameter list reasonable
BATCH_ROWS = 65_536  # rows per Arrow batch streamed back: bounds memory whatever the file size


@dataclass
class BatchResult:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    matches: int = 0
    stored: int = 0


def _scope(tenant: str, since: datetime | None, until: datetime | None, paths: list[str] | None) -> tuple[str, list[Any]]:
    clauses = ['"organization.id" = ?', "COALESCE(\"event.kind\", 'event') NOT IN ('alert', 'finding')"]
    params: list[Any] = [tenant]
    if since is not None:
        clauses.append('"@timestamp" >= ?')
        params.append(since)
    if until is not None:
        clauses.append('"@timestamp" < ?')
        params.append(until)
    if paths is not None:
        clauses.append('list_contains(?, "log.file.path")')
        params.append(list(paths))
    return " AND ".join(clauses), params


def needed_columns(ruleset: RuleSet) -> list[str]:
    """The event columns anything after the match reads: ordering, alert keys and evidence,
    and every correlation's group-by/value fields (`labels` when one is not a schema field).
    Fetching only these instead of `SELECT *` keeps matched rows cheap to bring to Python."""
    names = {"@timestamp", "log.file.path", "log.offset", "event.id", "event.original", *KEY_FIELDS}
    for rule in ruleset.correlations:
        corr = rule.correlation
        assert corr is not None
        names.update(corr.group_by)
        if corr.field:
            names.add(corr.field)
        names.update(v for alias in corr.aliases.values() for v in alias.values())
    if any(n not in FIELD_BY_NAME for n in names):
        names = {n for n in names if n in FIELD_BY_NAME} | {"labels"}
    return sorted(names)


class Row(Mapping[str, Any]):
    """A matched event as a read-only mapping over a tuple of its needed columns.

    Why: a 1M-line brute force is hundreds of thousands of matches held until the batch ends;
    a dict per row cost ~1 KB each (1.5 GB peak for one auth.log), a tuple plus a shared column
    index costs a fifth of that. Readers only `get` fields, as from the dicts before."""

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


_SHARED = frozenset({"host.name", "log.file.path", "source.ip", "user.name"})  # few distinct values


def _rows(table: Any, index: dict[str, int], shared: dict[str, str]) -> list[Row]:
    """`Row`s of an Arrow table; repeated short strings are stored once (`shared`)."""
    cols = []
    for name in index:
        values = table.column(name).to_pylist()
        if name in _SHARED:
            values = [shared.setdefault(v, v) if isinstance(v, str) else v for v in values]
        cols.append(values)
    return [Row(index, values) for values in zip(*cols, strict=True)]


def _scan_group(store: Any, rules: list[Rule], idxs: tuple[int, ...], datasets: list[str | None], scope: str,
                scope_params: list[Any], columns: list[str],
                found: list[tuple[float, str, int, int, dict[str, Any]]]) -> None:
    """One pass over the rows of `datasets` evaluating only the rules `idxs` that may match them."""
    index = {name: i for i, name in enumerate(columns)}
    shared: dict[str, str] = {}
    for start in range(0, len(idxs), RULES_PER_SCAN):
        chunk = idxs[start:start + RULES_PER_SCAN]
        compiled = [compile_sql(rules[i].detection) for i in chunk]  # type: ignore[arg-type]
        flags = ", ".join(f"{c.text} AS hw_r{j}" for j, c in enumerate(compiled))
        cols = ", ".join(quote_ident(c) for c in columns)
        where = f'{scope} AND list_contains(?, COALESCE("event.dataset", \'\'))'
        params = [p for c in compiled for p in c.params] + scope_params + [[d or "" for d in datasets]]
        sql = f"SELECT {cols}, {flags} FROM events WHERE {where}"  # noqa: S608 - identifiers are ours
        reader = store.con.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            hits = [batch.column(len(columns) + j) for j in range(len(compiled))]
            any_hit = functools.reduce(pc.or_, hits)
            keep = pc.indices_nonzero(pc.fill_null(any_hit, False))
            if not len(keep):
                continue
            rows = _rows(batch.select(columns).take(keep), index, shared)
            for j, flag in enumerate(hits):
                for pos in pc.indices_nonzero(pc.fill_null(pc.take(flag, keep), False)).to_pylist():
                    row = rows[pos]
                    found.append((epoch(row.get("@timestamp")), str(row.get("log.file.path") or ""),
                                  int(row.get("log.offset") or 0), chunk[j], row))


def matching_rows(store: Any, ruleset: RuleSet, *, tenant: str = DEFAULT_TENANT, since: datetime | None = None,
                  until: datetime | None = None, paths: list[str] | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(rule index in ruleset.base_rules, event) for every match, in event time order.

    Rules are first sorted by the datasets they can apply to (`detect.prefilter`), so each row is
    tested only against rules whose logsource fits it, in one pass per group of datasets.
    """
    rules = ruleset.base_rules
    scope, scope_params = _scope(tenant, since, until, paths)
    profiles = store.con.execute(profiles_sql(scope), scope_params).fetchall()
    groups = plan([r.detection for r in rules], profiles)
    columns = needed_columns(ruleset)
    found: list[tuple[float, str, int, int, dict[str, Any]]] = []
    for idxs, datasets in groups.items():
        _scan_group(store, rules, idxs, datasets, scope, scope_params, columns, found)
    found.sort(key=lambda f: (f[0], f[1], f[2], f[3]))
    for i, (_, _, _, idx, row) in enumerate(found):  # in place: the sort keys are freed as we go
        found[i] = (idx, row)  # type: ignore[call-overload]
    return found  # type: ignore[return-value]


def run_engine(ruleset: RuleSet, rows: list[tuple[int, dict[str, Any]]], *, suppress_window: float = 3600.0,
               tenant: str = DEFAULT_TENANT, bulk: bool = True) -> list[dict[str, Any]]:
    """Matches (in time order) → alerts, through the engine; with `bulk`, the count and
    distinct-count correlations are evaluated for the whole batch at once (`detect.bulkcorrelate`),
    which gives the same alerts. Alerts are listed in the order they were opened."""
    engine = Engine(ruleset, suppress_window=suppress_window, tenant=tenant, eager=False)
    rules = ruleset.base_rules
    # (rule, time, event) per match; a `Match` is made only when the engine itself takes it
    stream = [(rules[idx], epoch(row.get("@timestamp")), row) for idx, row in rows]
    bulk_windows = [w for w in engine.windows.values() if bulk and eligible(ruleset, w)]
    for w in bulk_windows:  # the engine no longer sees these windows' inputs
        for listening in engine.listeners.values():
            if w in listening:
                listening.remove(w)
    chained = {w.rule.id: w for w in bulk_windows if engine.listeners.get(w.rule.id) or w.rule.id in ruleset.silent}
    # firings handed back to the engine at their place in the stream (they feed other windows);
    # kept as `Firing`s (evidence sliced on demand) until their turn, so memory stays small
    handed: dict[int, list[tuple[int, Window, Firing]]] = {}
    opened: list[tuple[int, int, dict[str, Any]]] = []  # (position, phase, alert)
    phase = {r.id: i + 1 for i, r in enumerate(ruleset.rules) if r.correlation is not None}
    for w in bulk_windows:
        if w.rule.id in chained:
            if engine.listeners.get(w.rule.id):
                for f in firings(w, stream):
                    handed.setdefault(f.pos, []).append((phase[w.rule.id], w, f))
            continue
        for _, fired in groupby(firings(w, stream), key=lambda f: f.key):  # firings come group by group
            opened.extend((pos, phase[w.rule.id], a) for pos, a in record_compressed(engine.book, w, list(fired),
                                                                                       suppress_window))
    book = engine.book
    idle = {r.id for r in rules if r.id in ruleset.silent and not engine.listeners.get(r.id)}  # nothing to do
    for pos, (rule, time, event) in enumerate(stream):
        before = len(book.all)
        if rule.id not in idle:
            engine.on_match(Match(rule, time, event))
        for _, w, f in sorted(handed.pop(pos, ()), key=lambda h: h[0]):
            engine.on_match(as_match(w, f))
        if len(book.all) > before:
            opened.extend((pos, phase.get(a["rule.id"], 0), a) for a in book.all[before:])
    engine.flush()
    alerts = engine.alerts  # serializes every detail once
    if bulk_windows:
        ordered = sorted(opened, key=lambda o: (o[0], o[1]))
        seen = {id(o[2]) for o in ordered}
        alerts = [o[2] for o in ordered] + [a for a in alerts if id(a) not in seen]
    return alerts


def _attach_follow_up(store: Any, alert: dict[str, Any], tenant: str) -> None:
    """Add `follow_up` (what the account did next) to an L1 alert's detail."""
    detail = json.loads(alert["hostwarden.detail"])
    start = datetime.fromisoformat(detail["first"])
    clauses = ['"organization.id" = ?', '"@timestamp" >= ?', '"@timestamp" <= ?', 'list_contains(?, "event.action")',
               '("user.name" = ? OR "user.effective.name" = ? OR "user.target.name" = ?)']
    params: list[Any] = [tenant, start, start + timedelta(seconds=FOLLOW_UP_SECONDS), list(FOLLOW_UP_ACTIONS),
                         *([alert["user.name"]] * 3)]
    if alert.get("host.name"):
        clauses.append('"host.name" = ?')
        params.append(alert["host.name"])
    rows = store.query(
        'SELECT "event.id", "@timestamp", "event.action", "event.original" FROM events WHERE '  # noqa: S608
        + " AND ".join(clauses) + f' ORDER BY "@timestamp" LIMIT {FOLLOW_UP_MAX}', params)
    detail["follow_up"] = [{"id": i, "time": str(t), "action": a, "excerpt": (o or "")[:300]} for i, t, a, o in rows]
    alert["hostwarden.detail"] = json.dumps(detail, default=str)


def detect_store(
    store: Any,
    ruleset: RuleSet,
    *,
    tenant: str = DEFAULT_TENANT,
    since: datetime | None = None,
    until: datetime | None = None,
    paths: list[str] | None = None,
    append: bool = True,
    suppress_window: float = 3600.0,
) -> BatchResult:
    """Run the rule set over stored events; alerts are appended to the store unless `append=False`.

    Re-running over the same events yields the same alert ids (rule + key + first time), which
    the store deduplicates, so a repeated backfill never doubles alerts.
    """
    rows = matching_rows(store, ruleset, tenant=tenant, since=since, until=until, paths=paths)
    alerts = run_engine(ruleset, rows, suppress_window=suppress_window, tenant=tenant)
    for alert in alerts:
        if alert.get("event.severity") == 1 and alert.get("user.name"):
            _attach_follow_up(store, alert, tenant)
    result = BatchResult(alerts=list(alerts), matches=len(rows))
    if append and result.alerts:
        result.stored = store.append(to_arrow(result.alerts), source=ALERT_SOURCE, tenant=tenant)
    return result
