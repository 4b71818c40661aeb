"""Batch detection over the store: a time range, or the rows of one ingest (by source path).

Scan: the rows in scope are read once per group of datasets (`detect.prefilter.plan`), each
base rule a boolean column. Per kind of row (its profile: dataset, category, …) a rule is
reduced to what that profile leaves of it (`prefilter.specialize`), and rules whose texts are
rare are evaluated only on rows where one of those texts occurs (`prefilter.rare_gate`). Only
matching rows come back, as Arrow, with the (rule, row, time) of each match (`Matches`).

Alerts: base rules' own alerts and count correlations are computed per column over the whole
batch (`bulk_alerts`, `detect.bulkcorrelate`); sequences, absence conditions and chains go
through the same engine as the streaming path, fed only the matches and firings they read.
Both give exactly the engine's alerts in the engine's order (the bulk tests pin it).
"""
from __future__ import annotations

import functools
import json
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hostwarden.core.schema import ARROW_SCHEMA, DEFAULT_TENANT, FIELD_BY_NAME, quote_ident, to_arrow
from hostwarden.detect.alerts import (
    ALERT_SOURCE,
    FOLLOW_UP_ACTIONS,
    FOLLOW_UP_MAX,
    FOLLOW_UP_SECONDS,
    KEY_FIELDS,
    follow_up_entry,
)
from hostwarden.detect.bulkcorrelate import (
    Firings,
    Matches,
    combine,
    eligible,
    firings,
    first_distinct,
    refs_of,
    runs,
)
from hostwarden.detect.correlate import Match, Window, firing_fields
from hostwarden.detect.engine import Engine
from hostwarden.detect.ir import Node, Rule
from hostwarden.detect.matcher import get_value
from hostwarden.detect.prefilter import PROFILE_FIELDS, plan, profile_join, profiles_sql, rare_gate, residuals
from hostwarden.detect.ruleset import RuleSet
from hostwarden.detect.sqlcompile import Needles, Sql, compile_sql, needle_options

RULES_PER_SCAN = 64  # rules per statement: more made DuckDB hold far more memory per row batch (1 GB at 192)
_PROFILES = "hw_profiles"  # the scan's profile table (registered for the scan's duration)
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


def _flag(left_over: list[tuple[Node, list[int]]], allowed: set[int]) -> tuple[Sql, list[Needles]]:
    """A rule as a boolean over a scanned row: on each kind of row (`hw_profile`, see
    `detect.prefilter`) only what its profile leaves of the rule is evaluated. Also the
    alternative sets of texts one of which a row must hold for the rule to match."""
    branches, params, options = [], [], []
    for left, ks in left_over:
        ks = [k for k in ks if k in allowed]
        if ks:
            sql = compile_sql(left)
            branches.append(f"WHEN hw_profile IN ({', '.join(str(k) for k in ks)}) THEN {sql.text}")
            params += sql.params
            options.append(needle_options(left))
    if not branches:
        return Sql("FALSE"), []
    if len(options) > 1:  # several profiles: a set must hold on each, so unite their smallest
        options = [[frozenset().union(*(o[0] for o in options))]] if all(options) else [[]]
    return Sql(f"CASE {' '.join(branches)} ELSE FALSE END", params), options[0]


def _scan_group(store: Any, rules: list[Rule], idxs: tuple[int, ...], datasets: list[str | None], scope: str,
                scope_params: list[Any], columns: list[str], profiles: list[tuple[Any, ...]],
                left_over: dict[int, list[tuple[Node, list[int]]]], found: _Found) -> None:
    """One pass over the rows of `datasets` evaluating only the rules `idxs` that may match them,
    the rare-keyword ones only where one of their texts occurs (`prefilter.rare_gate`).
    Matched rows stay Arrow (only their needed columns); per match a (row, rule) pair of ints."""
    allowed = {k for k, p in enumerate(profiles) if p[0] in datasets}
    where = f'{scope} AND list_contains(?, COALESCE("event.dataset", \'\'))'
    where_params = [*scope_params, [d or "" for d in datasets]]
    for start in range(0, len(idxs), RULES_PER_SCAN):
        chunk = idxs[start:start + RULES_PER_SCAN]
        compiled = [_flag(left_over[i], allowed) for i in chunk]
        gates, gated = rare_gate(store.con, [c[1] for c in compiled], f"SELECT * FROM events WHERE {where}",  # noqa: S608
                                where_params)
        names = {column: f"hw_gate{k}" for k, column in enumerate(gates)}
        flags = ", ".join(
            (f"CASE WHEN {' OR '.join(names[col] for col in sorted(gated[j]))} THEN {c.text} ELSE FALSE END"
             if j in gated else c.text) + f" AS hw_r{j}" for j, (c, _) in enumerate(compiled))
        cols = ", ".join(quote_ident(c) for c in columns)
        gate_cols = "".join(f", {g.text} AS {names[col]}" for col, g in gates.items())
        params = [p for c, _ in compiled for p in c.params] + [p for g in gates.values() for p in g.params] + where_params
        sql = (f"SELECT {cols}, {flags} FROM (SELECT *{gate_cols} FROM events "  # noqa: S608
               f"JOIN {_PROFILES} ON {profile_join(_PROFILES)} WHERE {where})")  # identifiers ours, values parameters
        reader = store.con.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            hits = [batch.column(len(columns) + j) for j in range(len(compiled))]
            any_hit = functools.reduce(pc.or_, hits)
            keep = pc.indices_nonzero(pc.fill_null(any_hit, False))
            if not len(keep):
                continue
            found.add(batch.select(columns).take(keep), [pc.fill_null(pc.take(flag, keep), False) for flag in hits],
                      chunk)


class _Found:
    """The matched rows of a scan (Arrow record batches) and, per match, its row and rule."""

    def __init__(self) -> None:
        self.batches: list[pa.RecordBatch] = []
        self.rows: list[np.ndarray] = []
        self.rules: list[np.ndarray] = []
        self.size = 0

    def add(self, batch: pa.RecordBatch, flags: list[pa.Array], chunk: tuple[int, ...]) -> None:
        for j, flag in enumerate(flags):
            at = np.asarray(pc.indices_nonzero(flag).to_numpy(), dtype=np.int64)
            if len(at):
                self.rows.append(at + self.size)
                self.rules.append(np.full(len(at), chunk[j], dtype=np.int64))
        self.batches.append(batch)
        self.size += batch.num_rows

    def matches(self, columns: list[str]) -> Matches:
        """Matches in stream order: time, then file path, offset and rule index."""
        schema = self.batches[0].schema if self.batches else pa.schema([ARROW_SCHEMA.field(c) for c in columns])
        table = pa.Table.from_batches([b if b.schema == schema else b.cast(schema) for b in self.batches], schema=schema)
        row = np.concatenate(self.rows) if self.rows else np.zeros(0, np.int64)
        rule = np.concatenate(self.rules) if self.rules else np.zeros(0, np.int64)
        micros = table.column("@timestamp").cast(pa.timestamp("us", "UTC")).cast(pa.int64())
        micros_np = np.asarray(pc.fill_null(micros, 0).to_numpy(), dtype=np.int64)
        keys = pa.table({"t": micros_np[row], "p": pc.fill_null(table.column("log.file.path"), "").take(row),
                         "o": pc.fill_null(table.column("log.offset"), 0).take(row), "r": rule})
        order = np.asarray(pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("p", "ascending"),
                                                            ("o", "ascending"), ("r", "ascending")]).to_numpy())
        row, rule = row[order], rule[order]
        # the engine's epoch(): datetime.timestamp(), i.e. microseconds / 10**6 correctly rounded
        return Matches(table, rule, row, micros_np[row] / 1e6)


def matching_rows(store: Any, ruleset: RuleSet, *, tenant: str = DEFAULT_TENANT, since: datetime | None = None,
                  until: datetime | None = None, paths: list[str] | None = None) -> Matches:
    """(rule index in ruleset.base_rules, event) for every match, in event time order.

    Rules are first sorted by the datasets they can apply to (`detect.prefilter`), so each row is
    tested only against rules whose logsource fits it, in one pass per group of datasets.
    """
    rules = ruleset.base_rules
    scope, scope_params = _scope(tenant, since, until, paths)
    profiles = store.con.execute(profiles_sql(scope), scope_params).fetchall()
    groups = plan([r.detection for r in rules], profiles)
    columns = needed_columns(ruleset)
    found = _Found()
    left_over = {i: residuals(rules[i].detection, profiles) for idxs in groups for i in idxs}  # type: ignore[arg-type]
    table = pa.table({f"hw_p{i}": pa.array([p[i] for p in profiles], ARROW_SCHEMA.field(name).type)
                      for i, name in enumerate(PROFILE_FIELDS)}).append_column(
        "hw_profile", pa.array(range(len(profiles)), pa.int32()))
    store.con.register(_PROFILES, table)
    try:
        for idxs, datasets in groups.items():
            _scan_group(store, rules, idxs, datasets, scope, scope_params, columns, profiles, left_over, found)
    finally:
        store.con.unregister(_PROFILES)
    return found.matches(columns)


_Opened = list[tuple[int, int, dict[str, Any]]]  # (stream position, phase, alert) of each alert opened


def _spans(starts: np.ndarray, n: int) -> list[tuple[int, int]]:
    """(start, end) of each run given the runs' start indexes in a list of n items."""
    ends = [*starts[1:].tolist(), n]
    return list(zip(starts.tolist(), ends, strict=True)) if n else []


def _chunks(series: np.ndarray, size: int = 32) -> list[np.ndarray]:
    return [series[i:i + size] for i in range(0, len(series), size)]


def _base_alerts(engine: Engine, ruleset: RuleSet, m: Matches, ids: np.ndarray, window: float) -> _Opened:
    """Alerts of the base rules that alert on their own: their matches per rule and key
    (`KEY_FIELDS`, as the book keys them) split into suppression runs, one alert each."""
    rules = ruleset.base_rules
    loud = np.array([r.id not in ruleset.silent for r in rules] + [False], dtype=bool)
    sel = np.flatnonzero(loud[m.rule])
    group = combine(m.rule[sel], *(m.codes(k)[sel] for k in KEY_FIELDS))
    order = np.lexsort((sel, group))
    series, group = sel[order], group[order]
    plans = [(int(series[a]), b - a, float(m.time[series[b - 1]]), first_distinct(_chunks(series[a:b]), ids))
             for a, b in _spans(runs(group, m.time[series], window), len(series))]
    m.load(i for _, _, _, evidence in plans for i in evidence)
    out: _Opened = []
    for first, count, last, evidence in plans:
        match = Match(rules[int(m.rule[first])], float(m.time[first]), m.event(first),  # type: ignore[arg-type]
                      [m.event(i) for i in evidence])  # type: ignore[misc]
        out.append((first, 0, engine.book.record_run(match, count, last)))
    return out


class _Bulk:
    """One count correlation evaluated over the whole batch (`detect.bulkcorrelate.firings`)."""

    def __init__(self, window: Window, ruleset: RuleSet, m: Matches) -> None:
        self.window, self.m = window, m
        corr = window.corr
        n_refs = len(corr.rules)
        self.ref_of = np.array([-1 if r is None else r for r in refs_of(window, ruleset.base_rules)] + [-1],
                               dtype=np.int64)
        refs = self.ref_of[m.rule]
        keys = [m.key_codes([window.spec.field(g, r) for r in range(n_refs)], refs) for g in corr.group_by]
        values = m.lower_codes([window.spec.field(corr.field, r) for r in range(n_refs)], refs) if corr.field else None
        self.f: Firings = firings(window, refs, keys, values if corr.type == "value_count" else None, m.time)
        self.size = self.f.at - self.f.lo + 1

    def match(self, j: int, events: list[Mapping[str, Any]], count: int | None = None) -> Match:
        """The `Match` the engine's window would produce for firing j (events loaded)."""
        m, corr = self.m, self.window.corr
        p = int(self.f.series[self.f.at[j]])
        ref = int(self.ref_of[m.rule[p]])
        key = tuple(get_value(m.event(p), self.window.spec.field(g, ref)) for g in corr.group_by)  # type: ignore[arg-type]
        values = dict(zip(corr.group_by, key, strict=True))
        time = float(m.time[p])
        synthetic = {**{k: v for k, v in values.items() if v is not None}, "@timestamp": datetime.fromtimestamp(time, UTC)}
        fired = m.event(p)
        for name in firing_fields(corr.type):
            if name not in synthetic and fired.get(name) is not None:
                synthetic[name] = fired[name]
        return Match(self.window.rule, time, synthetic, events, values,  # type: ignore[arg-type]
                     count=int(self.size[j]) if count is None else count)

    def position(self, j: int) -> int:
        return int(self.f.series[self.f.at[j]])

    def alerts(self, book: Any, ids: np.ndarray, window: float, phase: int) -> _Opened:
        """This correlation's alerts: its firings per group split into suppression runs."""
        f, m = self.f, self.m
        group, times = f.group[f.at], m.time[f.series[f.at]]
        spans = _spans(runs(group, times, window), len(group))
        cumulative = np.concatenate(([0], np.cumsum(self.size)))
        plans = [(a, int(cumulative[b] - cumulative[a]), float(times[b - 1]),
                  first_distinct((f.evidence(j) for j in range(a, b)), ids)) for a, b in spans]
        m.load([self.position(a) for a, *_ in plans] + [i for *_, evidence in plans for i in evidence])
        return [(self.position(a), phase, book.record_run(self.match(a, [m.event(i) for i in evidence]), total, last))
                for a, total, last, evidence in plans]

    def handed(self, engine: Engine, ruleset: RuleSet) -> list[int]:
        """The firings the engine's listening windows need (all of them, unless every listener
        is a two-step sequence starting with this correlation: then only firings followed by
        the sequence's second step in the same group within its timespan can matter)."""
        everything = list(range(len(self.f.at)))
        follow = [self._followers(w, ruleset) for w in engine.listeners.get(self.window.rule.id, ())]
        if any(fw is None for fw in follow):
            return everything
        m = self.m
        groups = np.unique(self.f.group[self.f.at], return_index=True)[1]
        m.load(self.position(int(j)) for j in groups)
        keep: set[int] = set()
        for listener, by_key in zip(engine.listeners[self.window.rule.id], follow, strict=True):
            assert by_key is not None
            span = listener.corr.timespan
            for j0 in groups.tolist():
                values = self.match(j0, []).group
                later = by_key.get(tuple(values.get(listener.spec.field(g, 0)) for g in listener.corr.group_by))
                if not later:
                    continue
                g = self.f.group[self.f.at[j0]]
                for j in range(j0, len(self.f.at)):
                    if self.f.group[self.f.at[j]] != g:
                        break
                    p = self.position(j)
                    q = bisect_right(later, p)
                    if q < len(later) and m.time[later[q]] - m.time[p] <= span:
                        keep.add(j)
        return sorted(keep)

    def _followers(self, listener: Window, ruleset: RuleSet) -> dict[tuple[Any, ...], list[int]] | None:
        """For a listener `A then B` (temporal_ordered) with this correlation as A and a base
        rule as B: B's matches (stream positions) by the listener's group key; None otherwise."""
        corr = listener.corr
        if corr.type != "temporal_ordered" or len(corr.rules) != 2 or ruleset.resolve(corr.rules[1]).detection is None:
            return None
        if listener.spec.input_of(self.window.rule) != 0:
            return None
        if any(listener.spec.field(g, 0) not in self.window.corr.group_by for g in corr.group_by):
            return None
        second = np.array([r == 1 for r in refs_of(listener, ruleset.base_rules)] + [False], dtype=bool)
        sel = np.flatnonzero(second[self.m.rule]).tolist()
        self.m.load(sel)
        by_key: dict[tuple[Any, ...], list[int]] = {}
        fields = [listener.spec.field(g, 1) for g in corr.group_by]
        for i in sel:
            by_key.setdefault(tuple(get_value(self.m.event(i), f) for f in fields), []).append(i)  # type: ignore[arg-type]
        return by_key


def _feed(engine: Engine, m: Match) -> None:
    """A match into the engine's windows only (its own alert, if any, is made per column)."""
    for window in engine.listeners.get(m.rule.id, ()):
        for fired in window.add(m):
            engine.on_match(fired)


def bulk_alerts(engine: Engine, ruleset: RuleSet, m: Matches, suppress_window: float) -> list[dict[str, Any]]:
    """The engine's alerts for a whole batch of matches, most of them computed per column:
    base rules' own alerts and count correlations (`_Bulk`); what is left (sequences, absence
    conditions, chains) runs through the engine, fed only the matches and firings it reads."""
    rules, book = ruleset.base_rules, engine.book
    ids = m.codes("event.id")
    phase = {r.id: i + 1 for i, r in enumerate(ruleset.rules) if r.correlation is not None}
    bulk = [w for w in engine.windows.values() if eligible(ruleset, w)]
    for w in bulk:  # the engine no longer sees these windows' inputs
        for listening in engine.listeners.values():
            if w in listening:
                listening.remove(w)
    opened = _base_alerts(engine, ruleset, m, ids, suppress_window)
    handed: dict[int, list[tuple[int, _Bulk, int]]] = {}
    for w in bulk:
        b = _Bulk(w, ruleset, m)
        if w.rule.id not in ruleset.silent:
            opened += b.alerts(book, ids, suppress_window, phase[w.rule.id])
        if engine.listeners.get(w.rule.id):
            for j in b.handed(engine, ruleset):
                handed.setdefault(b.position(j), []).append((phase[w.rule.id], b, j))
    fed = np.array([bool(engine.listeners.get(r.id)) for r in rules] + [False], dtype=bool)
    stream = np.flatnonzero(fed[m.rule]).tolist()
    m.load(stream)
    m.load(i for hand in handed.values() for _, b, j in hand for i in [b.position(j), *b.f.evidence(j).tolist()])
    for pos in sorted({*stream, *handed}):
        before = len(book.all)
        if fed[m.rule[pos]]:
            _feed(engine, Match(rules[int(m.rule[pos])], float(m.time[pos]), m.event(pos)))  # type: ignore[arg-type]
        for _, b, j in sorted(handed.get(pos, ()), key=lambda h: h[0]):
            _feed(engine, b.match(j, [m.event(i) for i in b.f.evidence(j).tolist()]))
        opened.extend((pos, phase.get(a["rule.id"], 0), a) for a in book.all[before:])
    engine.flush()
    alerts = engine.alerts  # serializes every detail once
    ordered = sorted(opened, key=lambda o: (o[0], o[1]))
    seen = {id(o[2]) for o in ordered}
    return [o[2] for o in ordered] + [a for a in alerts if id(a) not in seen]


def run_engine(ruleset: RuleSet, rows: Matches | Sequence[tuple[int, Mapping[str, Any]]], *,
               suppress_window: float = 3600.0, tenant: str = DEFAULT_TENANT, bulk: bool = True) -> list[dict[str, Any]]:
    """Matches (in time order) → alerts. With `bulk`, base rules' alerts and the count and
    distinct-count correlations are computed per column for the whole batch (`bulk_alerts`), the rest through the engine; without, every match goes through the
    engine one by one. Both give the same alerts, in the order they were opened."""
    engine = Engine(ruleset, suppress_window=suppress_window, tenant=tenant, eager=False)
    matches = rows if isinstance(rows, Matches) else Matches.from_rows(rows, needed_columns(ruleset))
    if bulk:
        return bulk_alerts(engine, ruleset, matches, suppress_window)
    rules = ruleset.base_rules
    for i, (idx, event) in enumerate(matches):
        engine.on_match(Match(rules[idx], float(matches.time[i]), event))  # type: ignore[arg-type]
    engine.flush()
    return engine.alerts


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
        + " AND ".join(clauses) + f' ORDER BY "@timestamp", "log.file.path", "log.offset" LIMIT {FOLLOW_UP_MAX}', params)
    detail["follow_up"] = [follow_up_entry(i, t, a, o) for i, t, a, o in rows]
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
    matches = len(rows)
    del rows  # the matched rows are not needed for follow-ups and storing
    for alert in alerts:
        if alert.get("event.severity") == 1 and alert.get("user.name"):
            _attach_follow_up(store, alert, tenant)
    result = BatchResult(alerts=list(alerts), matches=matches)
    if append and result.alerts:
        result.stored = store.append(to_arrow(result.alerts), source=ALERT_SOURCE, tenant=tenant)
    return result
