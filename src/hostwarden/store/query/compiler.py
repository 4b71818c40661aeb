"""AST → a parameterized SQL boolean expression over the `events` table.

Safety rule: the SQL text is built only from constants in this package and column names that
passed the schema whitelist (`schema.quote_ident`). Every value from the query — including label
keys — is a `?` parameter, appended to `params` in the order its `?` appears in the text.

Semantics worth knowing (docs/search.md repeats them for users):

* `field=value` is exact and case-sensitive; wildcards make it a LIKE; free text is ILIKE.
* `field!=value` means "the field is present and differs"; `NOT field=value` is the complement
  of `field=value` and therefore also matches events that lack the field.
* Lists (`tags`, `related.ip`, …) match when any element matches; `!=` means "has elements and
  none matches"; `=*` means non-empty.
* Numbers compare numerically; wildcards on a number match its decimal text (`status_code=5*`).
* A date-only value on a timestamp means the whole UTC day (`@timestamp=2026-11-28`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import timedelta

from hostwarden.core.errors import LOG_SEARCH_FIELD
from hostwarden.core.ipsql import address_forms, in_network_sql, parse_network
from hostwarden.core.schema import quote_ident
from hostwarden.store.query.errors import query_error, shown
from hostwarden.store.query.fields import LABELS, Kind, Resolved, resolve
from hostwarden.store.query.parser import And, Compare, Node, Not, Or, Text, Value
from hostwarden.store.query.timerange import parse_instant

Sql = tuple[str, list[object]]

FREE_TEXT_SQL = f"COALESCE({quote_ident('event.original')}, {quote_ident('message')})"
LABELS_SQL = quote_ident(LABELS)
_INT = re.compile(r"[+-]?\d{1,19}")  # longer digit strings go the float way (no int() DoS)
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_SQL_OP = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
_INT64 = 2**63


def like_pattern(value: Value, *, contains: bool = False) -> str:
    """LIKE pattern (escape character `\\`): wildcards become % and _, the rest is literal."""
    out = ["%"] if contains else []
    for i, ch in enumerate(value.text):
        if i in value.wild:
            out.append("%" if ch == "*" else "_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    if contains:
        out.append("%")
    return "".join(out)


class Compiler:
    def __init__(self, query: str) -> None:
        self.query = query

    def compile(self, node: Node) -> Sql:
        if isinstance(node, And | Or):
            joiner = " AND " if isinstance(node, And) else " OR "
            parts = [self.compile(child) for child in node.children]
            return "(" + joiner.join(sql for sql, _ in parts) + ")", [p for _, ps in parts for p in ps]
        if isinstance(node, Not):
            sql, params = self.compile(node.child)
            return f"(({sql}) IS NOT TRUE)", params
        if isinstance(node, Text):
            return self._text(node.value)
        return self._compare(node)

    # -- leaves ----------------------------------------------------------------------------
    def _error(self, pos: int, message: str) -> Exception:
        return query_error(self.query, pos, message, LOG_SEARCH_FIELD)

    def _text(self, value: Value) -> Sql:
        if value.is_star:
            return "TRUE", []
        return f"({FREE_TEXT_SQL} ILIKE ? ESCAPE '\\')", [like_pattern(value, contains=True)]

    def _compare(self, node: Compare) -> Sql:
        field = resolve(node.field, query=self.query, pos=node.pos)
        value = node.value
        if value.is_star:
            if node.op not in ("=", "!="):
                raise self._error(value.pos, f"'*' (any value) only works with = and !=, not {node.op}")
            exists = self._exists(field)
            return (exists if node.op == "=" else (f"(({exists[0]}) IS NOT TRUE)", exists[1]))
        if value.has_wildcard and node.op not in ("=", "!="):
            raise self._error(value.pos, f"wildcards only work with = and !=, not {node.op}")
        if field.kind is Kind.MAP:
            raise self._error(node.pos, "labels is a map: search one label with KEY=value or labels.KEY=value")
        if field.kind is Kind.LIST:
            return self._list(field, node)
        if field.kind is Kind.LABEL:
            return self._label(field, node)
        assert field.sql is not None
        return self._scalar(field, field.sql, node)

    def _exists(self, field: Resolved) -> Sql:
        if field.kind is Kind.LABEL:
            return f"COALESCE(map_contains({LABELS_SQL}, ?), FALSE)", [field.label]
        if field.kind is Kind.LIST:
            return f"(len({field.sql}) > 0)", []
        if field.kind is Kind.MAP:
            return f"(cardinality({field.sql}) > 0)", []
        return f"({field.sql} IS NOT NULL)", []

    def _list(self, field: Resolved, node: Compare) -> Sql:
        col = field.sql
        if node.op in ("=", "!=") and not node.value.has_wildcard and not field.is_ip:
            any_sql, params = f"list_contains({col}, ?)", [node.value.text]
        else:
            positive = Compare(node.field, "=" if node.op == "!=" else node.op, node.value, node.pos)
            elem = Resolved(field.name, Kind.STRING, sql="x")
            pred, params = self._scalar(elem, "x", positive)
            any_sql = f"(len(list_filter({col}, lambda x: {pred})) > 0)"
        if node.op == "!=":
            return f"(len({col}) > 0 AND ({any_sql}) IS NOT TRUE)", params
        return any_sql, params

    def _label(self, field: Resolved, node: Compare) -> Sql:
        expr = f"map_extract_value({LABELS_SQL}, ?)"
        value = node.value
        if value.has_wildcard:
            return self._like(expr, [field.label], node.op, value)
        number = _number(value.text) if node.op not in ("=", "!=") else None
        if number is not None:
            return f"(TRY_CAST({expr} AS DOUBLE) {_SQL_OP[node.op]} ?)", [field.label, float(number)]
        return f"({expr} {_SQL_OP[node.op]} ?)", [field.label, value.text]

    def _scalar(self, field: Resolved, x: str, node: Compare) -> Sql:
        """Predicate on one column value (or list element `x`); x carries no parameters."""
        value, op = node.value, node.op
        if field.kind is Kind.NUMBER:
            if value.has_wildcard:
                return self._like(f"CAST({x} AS VARCHAR)", [], op, value)
            number = _number(value.text)
            if number is None:
                raise self._error(value.pos, f"{field.name} is numeric; {shown(value.text)} is not a number")
            return f"({x} {_SQL_OP[op]} ?)", [number]
        if field.kind is Kind.TIME:
            return self._time(field, x, node)
        if field.is_ip and op in ("=", "!=") and not value.has_wildcard:
            return self._ip(x, op, value)
        if value.has_wildcard:
            return self._like(x, [], op, value)
        return f"({x} {_SQL_OP[op]} ?)", [value.text]

    def _ip(self, x: str, op: str, value: Value) -> Sql:
        """CIDR or one address; IPv6 is compared normalized (case, zero padding, `::`)."""
        if "/" in value.text:
            net = parse_network(value.text)
            if net is None:
                raise self._error(value.pos, f"{shown(value.text)} is not a valid CIDR network")
        elif ":" in value.text and (host := parse_network(value.text + "/128")) is not None:
            net = host
        else:
            forms = address_forms(value.text)
            marks = ", ".join("?" for _ in forms)
            return f"({x} {'IN' if op == '=' else 'NOT IN'} ({marks}))", list(forms)
        inside, params = in_network_sql(x, net)
        return (inside, params) if op == "=" else (f"({x} IS NOT NULL AND NOT {inside})", params)

    def _like(self, x: str, x_params: list[object], op: str, value: Value) -> Sql:
        negate = "NOT " if op == "!=" else ""
        return f"({x} {negate}LIKE ? ESCAPE '\\')", [*x_params, like_pattern(value)]

    def _time(self, field: Resolved, x: str, node: Compare) -> Sql:
        if node.value.has_wildcard:
            raise self._error(node.value.pos, "wildcards only work on text; for a time span use a bare date "
                                              "(the whole day) or >= and <")
        instant = parse_instant(node.value.text)
        if instant is None:
            raise self._error(node.value.pos, f"{field.name} needs an ISO-8601 date or timestamp, "
                                              f"not {shown(node.value.text)}")
        start = instant.at
        if not instant.date_only:
            return f"({x} {_SQL_OP[node.op]} ?)", [start]
        try:
            end = start + timedelta(days=1)
        except OverflowError as exc:
            raise self._error(node.value.pos, "date out of range") from exc
        day: dict[str, Callable[[], Sql]] = {  # a bare date means the whole UTC day
            "=": lambda: (f"({x} >= ? AND {x} < ?)", [start, end]),
            "!=": lambda: (f"({x} < ? OR {x} >= ?)", [start, end]),
            ">": lambda: (f"({x} >= ?)", [end]),
            ">=": lambda: (f"({x} >= ?)", [start]),
            "<": lambda: (f"({x} < ?)", [start]),
            "<=": lambda: (f"({x} < ?)", [end]),
        }
        return day[node.op]()


def _number(text: str) -> int | float | None:
    """An int within BIGINT range or a finite float; None when the text is not a number."""
    cleaned = text.strip()
    if _INT.fullmatch(cleaned):
        value = int(cleaned)
        return value if -_INT64 <= value < _INT64 else float(value)
    if _FLOAT.fullmatch(cleaned):
        number = float(cleaned)
        return number if math.isfinite(number) else None
    return None
