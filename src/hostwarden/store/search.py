"""The search language, compiled to parameterized SQL over the `events` table.

    process.name=mysqld AND error.code=1213
    source.ip=203.0.113.0/24 NOT user.name=root
    event.dataset=sshd (event.action="ssh_login_failed" OR event.action=ssh_invalid_user) "Bye Bye"

Grammar (precedence NOT > AND > OR; adjacent terms are ANDed):
    query   := or
    or      := and ("OR" and)*
    and     := not (["AND"] not)*
    not     := "NOT" not | "(" or ")" | term
    term    := FIELD OP VALUE | VALUE          (a bare VALUE is free text over the raw line)
    OP      := = != > >= < <=                  VALUE := bare word | "double" | 'single' quoted

User text never becomes SQL text: values are bound parameters and field names are looked up
in the schema whitelist (anything else is read from `labels`, by a bound key). Every predicate
is made two-valued (COALESCE(…, FALSE)) so NOT over a missing field is true, as in Sigma.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hostwarden.errors import LOG_SEARCH_FIELD, LOG_SEARCH_SYNTAX, LOG_SEARCH_TIME, HostwardenError
from hostwarden.schema import FIELD_BY_NAME, quote_ident

IP_FIELDS = {"source.ip", "destination.ip", "related.ip", "host.ip"}
_ECS_GROUPS = {name.split(".")[0] for name in FIELD_BY_NAME} - {"labels", "message", "tags"}
_FIELD_OP = re.compile(r"([A-Za-z_@][\w.@-]*)\s*(!=|>=|<=|=|>|<)\s*")
_KEYWORDS = {"AND", "OR", "NOT"}
MAX_QUERY = 10_000


# --- lexing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    kind: str  # LP RP AND OR NOT TERM TEXT END
    pos: int  # 0-based column
    field: str | None = None
    op: str | None = None
    value: str | None = None
    quoted: bool = False


def _error(query: str, pos: int, message: str) -> HostwardenError:
    caret = f"\n  {query}\n  {' ' * pos}^"
    return HostwardenError(LOG_SEARCH_SYNTAX, f"{message} at column {pos + 1}{caret}", position=pos + 1)


def _read_value(query: str, i: int) -> tuple[str, bool, int]:
    if i < len(query) and query[i] in "\"'":
        quote, i, out = query[i], i + 1, []
        while i < len(query):
            ch = query[i]
            if ch == "\\" and i + 1 < len(query):
                out.append(query[i + 1])
                i += 2
                continue
            if ch == quote:
                return "".join(out), True, i + 1
            out.append(ch)
            i += 1
        raise _error(query, i, "unterminated quoted string")
    start = i
    while i < len(query) and not query[i].isspace() and query[i] not in "()":
        i += 1
    return query[start:i], False, i


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(query):
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "()":
            tokens.append(Token("LP" if ch == "(" else "RP", i))
            i += 1
            continue
        m = _FIELD_OP.match(query, i)
        if m:
            start = i
            value, quoted, i = _read_value(query, m.end())
            if not value and not quoted:
                raise _error(query, m.end(), f"missing value after {m.group(2)}")
            tokens.append(Token("TERM", start, m.group(1), m.group(2), value, quoted))
            continue
        value, quoted, end = _read_value(query, i)
        if not quoted and value.upper() in _KEYWORDS:
            tokens.append(Token(value.upper(), i))
        elif not quoted and value and value[0] in "=!<>":
            raise _error(query, i, "operator without a field name")
        else:
            tokens.append(Token("TEXT", i, value=value, quoted=quoted))
        i = end
    tokens.append(Token("END", len(query)))
    return tokens


# --- parsing --------------------------------------------------------------------------------
@dataclass
class Node:
    kind: str  # and or not term text
    children: list[Node] = field(default_factory=list)
    token: Token | None = None


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node | None:
        if self.peek().kind == "END":
            return None
        node = self.parse_or()
        if self.peek().kind != "END":
            tok = self.peek()
            raise _error(self.query, tok.pos, "unexpected ')'" if tok.kind == "RP" else f"unexpected {tok.kind}")
        return node

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while self.peek().kind == "OR":
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Node("or", parts)

    def parse_and(self) -> Node:
        parts = [self.parse_not()]
        while self.peek().kind in ("AND", "NOT", "LP", "TERM", "TEXT"):
            if self.peek().kind == "AND":
                self.take()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else Node("and", parts)

    def parse_not(self) -> Node:
        tok = self.peek()
        if tok.kind == "NOT":
            self.take()
            return Node("not", [self.parse_not()])
        if tok.kind == "LP":
            self.take()
            if self.peek().kind == "RP":
                raise _error(self.query, self.peek().pos, "empty parentheses")
            inner = self.parse_or()
            if self.peek().kind != "RP":
                raise _error(self.query, self.peek().pos, "missing ')'")
            self.take()
            return inner
        if tok.kind in ("TERM", "TEXT"):
            self.take()
            return Node("term" if tok.kind == "TERM" else "text", token=tok)
        what = "end of query" if tok.kind == "END" else tok.kind
        raise _error(self.query, tok.pos, f"expected a term, found {what}")


def parse(query: str) -> Node | None:
    if len(query) > MAX_QUERY:
        raise HostwardenError(LOG_SEARCH_SYNTAX, f"query longer than {MAX_QUERY} characters")
    return _Parser(query).parse()


# --- compiling ------------------------------------------------------------------------------
@dataclass
class CompiledQuery:
    where: str
    params: list[Any]


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _has_wildcard(value: str, quoted: bool) -> bool:
    return not quoted and ("*" in value or "?" in value)


class _Compiler:
    def __init__(self, query: str) -> None:
        self.query = query
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def compile(self, node: Node) -> str:
        if node.kind in ("and", "or"):
            joiner = " AND " if node.kind == "and" else " OR "
            return "(" + joiner.join(self.compile(c) for c in node.children) + ")"
        if node.kind == "not":
            return f"(NOT {self.compile(node.children[0])})"
        tok = node.token
        assert tok is not None
        if node.kind == "text":
            return f"COALESCE(COALESCE(\"event.original\", \"message\") ILIKE {self.p('%' + _like(tok.value or '') + '%')} ESCAPE '\\', FALSE)"
        return f"COALESCE({self.term(tok)}, FALSE)"

    def column(self, tok: Token) -> tuple[str, str]:
        """(SQL expression, SQL type) for a field name."""
        name = tok.field or ""
        spec = FIELD_BY_NAME.get(name)
        if spec is not None:
            return quote_ident(name), spec.sql
        head = name.split(".")[0]
        if "." in name and head in _ECS_GROUPS:
            close = difflib.get_close_matches(name, list(FIELD_BY_NAME), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise HostwardenError(LOG_SEARCH_FIELD, f"unknown field {name!r} at column {tok.pos + 1}{hint}",
                                  position=tok.pos + 1)
        return f"map_extract(\"labels\", {self.p(name)})[1]", "VARCHAR"

    def term(self, tok: Token) -> str:
        col, sql_type = self.column(tok)
        op, value, quoted = tok.op or "=", tok.value or "", tok.quoted
        is_list = sql_type.endswith("[]")
        if value == "*" and not quoted and op in ("=", "!="):
            present = f"(len({col}) > 0)" if is_list else f"({col} IS NOT NULL)"
            return present if op == "=" else f"(NOT COALESCE({present}, FALSE))"
        if tok.field in IP_FIELDS and "/" in value and op in ("=", "!="):
            return self.cidr(tok, col, is_list)
        if op in ("=", "!="):
            positive = self.equals(col, sql_type, value, quoted, is_list, tok)
            return positive if op == "=" else f"(NOT COALESCE({positive}, FALSE))"
        return self.compare(col, sql_type, op, value, tok)

    def equals(self, col: str, sql_type: str, value: str, quoted: bool, is_list: bool, tok: Token) -> str:
        wildcard = _has_wildcard(value, quoted)
        if is_list:
            if wildcard:
                return f"(len(list_filter({col}, lambda x: x LIKE {self.p(_like(value))} ESCAPE '\\')) > 0)"
            return f"list_contains({col}, {self.p(value)})"
        if sql_type in ("INTEGER", "BIGINT"):
            return f"({col} = {self.p(self.number(value, tok))})"
        if sql_type == "TIMESTAMPTZ":
            return f"({col} = {self.p(self.timestamp(value, tok))})"
        if wildcard:
            return f"({col} LIKE {self.p(_like(value))} ESCAPE '\\')"
        return f"({col} = {self.p(value)})"

    def compare(self, col: str, sql_type: str, op: str, value: str, tok: Token) -> str:
        if sql_type.endswith("[]"):
            raise HostwardenError(LOG_SEARCH_FIELD, f"{tok.field} is a list; use = or !=", position=tok.pos + 1)
        if sql_type in ("INTEGER", "BIGINT"):
            return f"({col} {op} {self.p(self.number(value, tok))})"
        if sql_type == "TIMESTAMPTZ":
            return f"({col} {op} {self.p(self.timestamp(value, tok))})"
        return f"({col} {op} {self.p(value)})"

    def cidr(self, tok: Token, col: str, is_list: bool) -> str:
        try:
            net = ipaddress.ip_network(tok.value or "", strict=False)
        except ValueError as exc:
            raise HostwardenError(LOG_SEARCH_FIELD, f"bad network {tok.value!r} at column {tok.pos + 1}: {exc}",
                                  position=tok.pos + 1) from exc
        item = "x" if is_list else col
        if net.version == 4:
            as_int = (
                f"(TRY_CAST(split_part({item}, '.', 1) AS UBIGINT) * 16777216 + TRY_CAST(split_part({item}, '.', 2) AS UBIGINT) * 65536"
                f" + TRY_CAST(split_part({item}, '.', 3) AS UBIGINT) * 256 + TRY_CAST(split_part({item}, '.', 4) AS UBIGINT))"
            )
            lo, hi = self.p(int(net.network_address)), self.p(int(net.broadcast_address))
            test = f"(regexp_matches({item}, '^\\d{{1,3}}(\\.\\d{{1,3}}){{3}}$') AND {as_int} BETWEEN {lo} AND {hi})"
        else:
            # IPv6: compare the fully expanded hex form's prefix (hostwarden_ip6_hex is registered
            # on every store connection, see store/hot.py).
            bits = net.prefixlen
            prefix_hex = net.network_address.exploded.replace(":", "")
            full, rest = divmod(bits, 4)
            if rest:
                raise HostwardenError(LOG_SEARCH_FIELD, f"IPv6 prefix length must be a multiple of 4: {tok.value}",
                                      position=tok.pos + 1)
            test = f"(starts_with(hostwarden_ip6_hex({item}), {self.p(prefix_hex[:full])}))"
        if is_list:
            test = f"(len(list_filter({col}, lambda x: {test})) > 0)"
        return test if tok.op == "=" else f"(NOT COALESCE({test}, FALSE))"

    def number(self, value: str, tok: Token) -> int | float:
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                raise HostwardenError(LOG_SEARCH_FIELD, f"{tok.field} is numeric; {value!r} is not a number",
                                      position=tok.pos + 1) from None

    def timestamp(self, value: str, tok: Token) -> datetime:
        try:
            return parse_time(value)
        except HostwardenError:
            raise HostwardenError(LOG_SEARCH_FIELD, f"{tok.field} needs an ISO-8601 time, not {value!r}",
                                  position=tok.pos + 1) from None


_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text.strip().lower())
    if not m:
        raise HostwardenError(LOG_SEARCH_TIME, f"not a duration: {text!r} (use 15m, 24h, 7d)")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def parse_time(text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise HostwardenError(LOG_SEARCH_TIME, f"not an ISO-8601 time: {text!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def compile_query(
    query: str,
    *,
    tenant: str,
    since: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    now: datetime | None = None,
) -> CompiledQuery:
    compiler = _Compiler(query)
    clauses = [f"\"organization.id\" = {compiler.p(tenant)}"]
    if since:
        clauses.append(f"\"@timestamp\" >= {compiler.p((now or datetime.now(UTC)) - parse_duration(since))}")
    if from_:
        clauses.append(f"\"@timestamp\" >= {compiler.p(parse_time(from_))}")
    if to:
        clauses.append(f"\"@timestamp\" <= {compiler.p(parse_time(to))}")
    tree = parse(query)
    if tree is not None:
        clauses.append(compiler.compile(tree))
    return CompiledQuery(" AND ".join(clauses), compiler.params)


def build_select(
    compiled: CompiledQuery,
    *,
    mode: str = "rows",
    fields: list[str] | None = None,
    top_field: str | None = None,
    limit: int = 100,
    order: str = "desc",
) -> tuple[str, list[Any]]:
    limit = max(1, min(int(limit), 100_000))
    params = list(compiled.params)
    if mode == "count":
        return f"SELECT count(*) AS count FROM events WHERE {compiled.where}", params
    if mode == "top":
        if not top_field or top_field not in FIELD_BY_NAME:
            raise HostwardenError(LOG_SEARCH_FIELD, f"cannot rank by {top_field!r}: not a schema field")
        col = quote_ident(top_field)
        value = f"unnest({col})" if FIELD_BY_NAME[top_field].sql.endswith("[]") else col
        return (
            f"SELECT value, count(*) AS count FROM (SELECT {value} AS value FROM events WHERE {compiled.where}) "
            f"WHERE value IS NOT NULL GROUP BY value ORDER BY count DESC, value LIMIT {limit}",
            params,
        )
    names = fields or ["@timestamp", "event.dataset", "event.action", "source.ip", "user.name", "message"]
    unknown = [n for n in names if n not in FIELD_BY_NAME]
    if unknown:
        raise HostwardenError(LOG_SEARCH_FIELD, f"unknown field(s) to show: {', '.join(unknown)}")
    direction = "ASC" if order.lower() == "asc" else "DESC"
    cols = ", ".join(quote_ident(n) for n in names)
    return (
        f"SELECT {cols} FROM events WHERE {compiled.where} "
        f"ORDER BY \"@timestamp\" {direction} NULLS LAST, \"log.offset\" {direction} LIMIT {limit}",
        params,
    )
