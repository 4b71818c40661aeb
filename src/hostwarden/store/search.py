"""The search language: a query string → parameterized SQL over the `events` table.

    compiled = compile_query("process.name=mysqld AND error.code=1213", tenant="acme", since="24h")
    sql, params = build_select(compiled, mode="rows", limit=50)
    store.con.execute(sql, params).fetchall()

Stages live in `store/query/` (lexer, parser → AST, field resolution, compiler, CIDR SQL, time
bounds). The output is SQL text made only of constants and whitelisted column names, plus a list
of parameters carrying every value the user typed; the tenant condition is always the first
conjunct and cannot be left out. Grammar and semantics for users: docs/search.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hostwarden.core.errors import LOG_SEARCH_FIELD, LOG_SEARCH_FORBIDDEN, LOG_SEARCH_SYNTAX, HostwardenError
from hostwarden.core.schema import FIELD_NAMES, FIELDS, quote_ident
from hostwarden.store.query.compiler import LABELS_SQL, Compiler
from hostwarden.store.query.fields import Kind, resolve_column, suggestions
from hostwarden.store.query.parser import parse
from hostwarden.store.query.timerange import time_bounds

__all__ = ["CompiledQuery", "build_select", "compile_query", "parse", "searchable_fields"]

TABLE = "events"
MODES = ("rows", "count", "top")
_TS = quote_ident("@timestamp")
_TENANT = quote_ident("organization.id")


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """A WHERE clause (without the keyword) and its positional `?` parameters, in order."""

    where: str
    params: list[object] = field(default_factory=list)


def compile_query(
    query: str,
    *,
    tenant: str,
    since: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    now: datetime | None = None,
) -> CompiledQuery:
    """Compile a query for one tenant; an empty query matches all of the tenant's events.

    Raises HostwardenError: LOG-4001 (syntax, with column), LOG-4002 (field/value), LOG-4003
    (time range), LOG-4032 (no tenant). `now` pins the clock for `since` (tests).
    """
    if not isinstance(tenant, str) or not tenant:
        raise HostwardenError(LOG_SEARCH_FORBIDDEN, "a search needs the caller's tenant")
    if not isinstance(query, str):
        raise HostwardenError(LOG_SEARCH_SYNTAX, "the query must be text")
    clauses = [f"{_TENANT} = ?"]
    params: list[object] = [tenant]
    lower, upper, inclusive = time_bounds(since=since, from_=from_, to=to, now=now)
    if lower is not None:
        clauses.append(f"{_TS} >= ?")
        params.append(lower)
    if upper is not None:
        clauses.append(f"{_TS} {'<=' if inclusive else '<'} ?")
        params.append(upper)
    node = parse(query)
    if node is not None:
        sql, node_params = Compiler(query).compile(node)
        clauses.append(sql)
        params.extend(node_params)
    return CompiledQuery(" AND ".join(clauses), params)


def build_select(
    compiled: CompiledQuery,
    *,
    mode: str = "rows",
    fields: list[str] | None = None,
    top_field: str | None = None,
    limit: int = 100,
    order: str = "desc",
) -> tuple[str, list[object]]:
    """A complete SELECT for a compiled query.

    rows:  the `fields` columns (default: all), newest first (`order="asc"`: oldest first).
    count: one row, one column `count`.
    top:   `top_field`'s values with their `count`, most frequent first (`asc`: rarest first);
           list fields count each element; a label key names the column `value`.
    """
    if mode not in MODES:
        raise HostwardenError(LOG_SEARCH_SYNTAX, f"unknown result mode {mode!r}; use one of {', '.join(MODES)}")
    if order not in ("asc", "desc"):
        raise HostwardenError(LOG_SEARCH_SYNTAX, f"unknown order {order!r}; use asc or desc")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise HostwardenError(LOG_SEARCH_SYNTAX, f"limit must be a whole number ≥ 0, not {limit!r}")
    direction = order.upper()
    where, params = compiled.where, list(compiled.params)
    if mode == "count":
        return f'SELECT count(*) AS "count" FROM {TABLE} WHERE {where}', params
    if mode == "top":
        return _top(where, params, top_field, limit, direction)
    columns = [_output_column(name) for name in (fields or list(FIELD_NAMES))]
    sql = (
        f"SELECT {', '.join(columns)} FROM {TABLE} WHERE {where} "
        f"ORDER BY {_TS} {direction} NULLS LAST, {quote_ident('event.id')} LIMIT ?"
    )
    return sql, [*params, limit]


def _output_column(name: str) -> str:
    if not isinstance(name, str) or name not in FIELD_NAMES:
        close = suggestions(name) if isinstance(name, str) else []
        hint = f"; did you mean {', '.join(close)}?" if close else "; see docs/schema.md"
        raise HostwardenError(LOG_SEARCH_FIELD, f"cannot show {name!r}: not a schema field{hint}")
    return quote_ident(name)


def _top(where: str, params: list[object], top_field: str | None, limit: int, direction: str) -> tuple[str, list[object]]:
    if not top_field or not isinstance(top_field, str):
        raise HostwardenError(LOG_SEARCH_FIELD, "top needs a field (--top FIELD)")
    resolved = resolve_column(top_field)
    head: list[object] = []
    if resolved.kind is Kind.LABEL:
        expr, alias = f"map_extract_value({LABELS_SQL}, ?)", '"value"'
        head = [resolved.label]
    elif resolved.kind is Kind.MAP:
        raise HostwardenError(LOG_SEARCH_FIELD, "top of labels needs one key: --top KEY or --top labels.KEY")
    else:
        assert resolved.sql is not None
        expr = f"unnest({resolved.sql})" if resolved.kind is Kind.LIST else resolved.sql
        alias = resolved.sql
    sql = (
        f'SELECT hw_value AS {alias}, count(*) AS "count" '
        f"FROM (SELECT {expr} AS hw_value FROM {TABLE} WHERE {where}) "
        f'WHERE hw_value IS NOT NULL GROUP BY hw_value ORDER BY "count" {direction}, hw_value LIMIT ?'
    )
    return sql, [*head, *params, limit]


def searchable_fields() -> list[tuple[str, str, str]]:
    """(name, SQL type, meaning) of every schema field, for `hostwarden search --fields`."""
    return [(f.name, f.sql, f.doc) for f in FIELDS]
