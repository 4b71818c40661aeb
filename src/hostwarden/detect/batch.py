"""Batch detection over the store: a time range, or the rows of one ingest (by source path).

All base rules are evaluated in one scan: each rule's compiled SQL becomes a boolean column
(`r0`, `r1`, …) and the WHERE keeps rows where any is true, so DuckDB reads the events once
however many rules are loaded. Only matching rows come back to Python, in time order, and go
through the same engine (correlation, chaining, suppression) as the streaming path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hostwarden.detect.alerts import ALERT_SOURCE, FOLLOW_UP_ACTIONS, FOLLOW_UP_MAX, FOLLOW_UP_SECONDS
from hostwarden.detect.correlate import Match, epoch
from hostwarden.detect.duckdb import compile_sql
from hostwarden.detect.engine import Engine
from hostwarden.detect.ruleset import RuleSet
from hostwarden.schema import DEFAULT_TENANT, to_arrow

RULES_PER_SCAN = 128  # keeps one statement's text and parameter list reasonable


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


def matching_rows(store: Any, ruleset: RuleSet, *, tenant: str = DEFAULT_TENANT, since: datetime | None = None,
                  until: datetime | None = None, paths: list[str] | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(rule index in ruleset.base_rules, event) for every match, in event time order."""
    rules = ruleset.base_rules
    scope, scope_params = _scope(tenant, since, until, paths)
    found: list[tuple[float, str, int, int, dict[str, Any]]] = []
    for start in range(0, len(rules), RULES_PER_SCAN):
        chunk = rules[start:start + RULES_PER_SCAN]
        compiled = [compile_sql(r.detection) for r in chunk if r.detection is not None]
        flags = ", ".join(f"{c.text} AS hw_r{i}" for i, c in enumerate(compiled))
        any_rule = " OR ".join(f"hw_r{i}" for i in range(len(compiled)))
        params = [p for c in compiled for p in c.params] + scope_params
        sql = (f"SELECT * FROM (SELECT *, {flags} FROM events WHERE {scope}) WHERE {any_rule}")  # noqa: S608
        table = store.con.sql(sql, params=params).to_arrow_table()
        for row in table.to_pylist():
            hits = [i for i in range(len(compiled)) if row.pop(f"hw_r{i}")]
            for i in hits:
                found.append((epoch(row.get("@timestamp")), str(row.get("log.file.path") or ""),
                              int(row.get("log.offset") or 0), start + i, row))
    found.sort(key=lambda f: (f[0], f[1], f[2], f[3]))
    return [(idx, row) for _, _, _, idx, row in found]


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
    engine = Engine(ruleset, suppress_window=suppress_window, tenant=tenant, eager=False)
    rows = matching_rows(store, ruleset, tenant=tenant, since=since, until=until, paths=paths)
    rules = ruleset.base_rules
    for idx, row in rows:
        engine.on_match(Match(rules[idx], epoch(row.get("@timestamp")), row))
    engine.flush()
    alerts = engine.alerts  # serialized once; follow-ups are added to that JSON below
    for alert in alerts:
        if alert.get("event.severity") == 1 and alert.get("user.name"):
            _attach_follow_up(store, alert, tenant)
    result = BatchResult(alerts=list(alerts), matches=len(rows))
    if append and result.alerts:
        result.stored = store.append(to_arrow(result.alerts), source=ALERT_SOURCE, tenant=tenant)
    return result
