"""Bulk executor: a rule tree compiled to one parameterized DuckDB boolean expression.

The expression reads the `events` table's columns (schema names, quoted) and `labels`, so it
runs unchanged over the store, over a temp table the normalizer produced, or over an Arrow batch
registered on a connection. Every user value travels as a `?` parameter; the SQL text holds
only whitelisted column names and constants. Each leaf is wrapped in `COALESCE(…, FALSE)`, which
gives Sigma's "a test on a missing field is false, its NOT is true". Meaning is that of
`detect.matcher` (see its module docstring); the agreement test pins it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from hostwarden.core.ipsql import in_network_sql
from hostwarden.core.linear import split_glob
from hostwarden.core.schema import ARROW_SCHEMA, FIELD_BY_NAME, quote_ident
from hostwarden.detect.ir import And, Const, Node, Not, Or, Pred, glob_to_regex, inline_flags
from hostwarden.detect.matcher import NUMBER_RE

LABELS = quote_ident("labels")
_NUMERIC_SQL = ("INTEGER", "BIGINT")


@dataclass
class Sql:
    """SQL text with its positional parameters, in order of appearance."""

    text: str
    params: list[Any] = field(default_factory=list)


def _column(name: str) -> tuple[str, list[Any], str]:
    """(SQL of the value, its params, its SQL type); unknown names read `labels`."""
    f = FIELD_BY_NAME.get(name)
    if f is None or name == "labels":
        return f"map_extract_value({LABELS}, ?)", [name], "VARCHAR"
    return quote_ident(name), [], f.sql


def _text(x: str, sql_type: str) -> str:
    return x if sql_type == "VARCHAR" else f"CAST({x} AS VARCHAR)"


def _value_test(pred: Pred, x: str, sql_type: str) -> Sql:
    """A boolean over one scalar value expression `x` (may be NULL → handled by the caller)."""
    op, value = pred.op, pred.value
    if op in ("eq", "contains", "startswith", "endswith"):
        t = _text(x, sql_type)
        if not pred.cased:
            t, needle = f"lower({t})", str(value).lower()
        else:
            needle = str(value)
        fn = {"eq": "{} = ?", "contains": "contains({}, ?)", "startswith": "starts_with({}, ?)",
              "endswith": "ends_with({}, ?)"}[op]
        return Sql(fn.format(t), [needle])
    if op == "regex":
        return Sql(f"regexp_matches({_text(x, sql_type)}, ?)", [inline_flags(str(value), pred.flags)])
    if op == "glob":
        return Sql(f"regexp_matches({_text(x, sql_type)}, ?)", [glob_search(str(value), pred.cased)])
    if op in ("lt", "lte", "gt", "gte"):
        sym = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
        if sql_type in _NUMERIC_SQL:
            num = f"CAST({x} AS DOUBLE)"
        else:
            t = _text(x, sql_type)
            num = f"(CASE WHEN regexp_full_match({t}, '{NUMBER_RE}') THEN TRY_CAST({t} AS DOUBLE) END)"
        return Sql(f"{num} {sym} ?", [float(value)])
    if op == "cidr":
        text, params = in_network_sql(_text(x, sql_type), ipaddress.ip_network(str(value), strict=False))
        return Sql(text, list(params))
    raise ValueError(f"operator {op!r} is not a value test")


def _pred(pred: Pred) -> Sql:
    x, params, sql_type = _column(pred.target)
    is_list = sql_type.endswith("[]")
    if pred.op in ("exists", "null"):
        present = f"({x} IS NOT NULL AND len({x}) > 0)" if is_list else f"({x} IS NOT NULL)"
        want = pred.op == "exists" and (pred.value is None or bool(pred.value))
        text = present if want else f"(NOT {present})"
        return Sql(text, params * text.count("?"))
    if pred.op == "fieldref":
        y, y_params, y_type = _column(str(pred.value))
        if is_list or y_type.endswith("[]"):
            return Sql("FALSE")
        a, b = _text(x, sql_type), _text(y, y_type)
        if not pred.cased:
            a, b = f"lower({a})", f"lower({b})"
        return Sql(f"COALESCE({a} = {b}, FALSE)", [*params, *y_params])
    if is_list or params:
        # A list tests each element; a label value is tested as a one-element list, so its
        # lookup (and parameter) appears once however often the test reads the value.
        items = x if is_list else f"[{x}]"
        inner = _value_test(pred, "hw_x", sql_type[:-2] if is_list else sql_type)
        return Sql(f"COALESCE(len(list_filter({items}, lambda hw_x: COALESCE({inner.text}, FALSE))) > 0, FALSE)",
                   [*params, *inner.params])
    test = _value_test(pred, x, sql_type)
    return Sql(f"COALESCE({test.text}, FALSE)", test.params)


def _glob_core(glob: str) -> str:
    """A wildcard as an RE2 *search* pattern equal to `glob_to_regex`'s full match.

    Why: most Sigma wildcards are `*text*`, and a full match of `(?s).*text.*` makes RE2 try
    every start; searching for `text` is the same test (the `.*` at either end with `(?s)` takes
    any prefix or suffix) and far faster. An end without `*` is anchored with `\\A` / `\\z`.
    """
    body = glob_to_regex(glob).removeprefix("(?s)")
    star = ".*"
    head = body.startswith(star)
    # glob_to_regex escapes every literal `.` and `*`, so a trailing `.*` is always a wildcard
    tail = body.endswith(star) and (len(body) > len(star) or not head)
    middle = body[len(star) if head else 0:len(body) - len(star) if tail else len(body)]
    return ("" if head else "\\A") + middle + ("" if tail else "\\z")


def glob_search(glob: str, cased: bool) -> str:
    """`_glob_core` with the flags the full-match form had: `s`, plus `i` unless cased."""
    return inline_flags("(?s)" + _glob_core(glob), "" if cased else "i")


_ANCHORS = {"eq": ("^", "$"), "contains": ("", ""), "startswith": ("^", ""), "endswith": ("", "$")}


def literal_regex(text: str) -> str:
    """`text` as an RE2 pattern matching exactly itself (every ASCII non-alphanumeric escaped)."""
    return "".join(ch if ch.isalnum() or ord(ch) > 127 else f"\\x{{{ord(ch):02x}}}" for ch in text)


def _mergeable(node: Node) -> tuple[str, str] | None:
    """(column, kind) of a test that can join an alternation on a plain text column: kind
    `lower` for case-insensitive eq/contains/startswith/endswith, `glob` / `glob_cased` for
    wildcards (else None)."""
    if not isinstance(node, Pred):
        return None
    f = FIELD_BY_NAME.get(node.target)
    if f is None or f.sql != "VARCHAR" or node.target == "labels":
        return None
    if node.op == "glob":
        return node.target, "glob_cased" if node.cased else "glob"
    return (node.target, "lower") if node.op in _ANCHORS and not node.cased else None


def _merge_literals(children: tuple[Node, ...]) -> list[Node | Sql]:
    """Fold the OR-ed case-insensitive eq/contains/startswith/endswith tests of one column into
    one RE2 alternation over its lower-cased text, and its OR-ed wildcards into one search.

    Why: a Sigma keyword list is dozens of `contains` on the raw line, and DuckDB evaluates each
    on every row; one regex of literal alternatives is a single pass (RE2 builds one automaton).
    Exact: each test is `lower(x)` containing / equal to / starting or ending with the lower-cased
    literal, which is what the anchored literal alternative matches (RE2's `$` is end of text).
    """
    by_column: dict[tuple[str, str], list[Pred]] = {}
    for c in children:
        key = _mergeable(c)
        if key is not None:
            by_column.setdefault(key, []).append(c)  # type: ignore[arg-type]
    merged = {key: preds for key, preds in by_column.items() if len(preds) > 1}
    out: list[Node | Sql] = [c for c in children if _mergeable(c) not in merged]
    for (col, kind), preds in merged.items():
        if kind == "lower":
            alternatives = sorted({_ANCHORS[p.op][0] + literal_regex(str(p.value).lower()) + _ANCHORS[p.op][1]
                                   for p in preds})
            text, pattern = f"lower({quote_ident(col)})", "|".join(alternatives)
        else:
            cores = sorted({f"(?:{_glob_core(str(p.value))})" for p in preds})
            text, pattern = quote_ident(col), inline_flags("(?s)" + "|".join(cores), "" if kind == "glob_cased" else "i")
        out.append(Sql(f"COALESCE(regexp_matches({text}, ?), FALSE)", [pattern]))
    return out


def compile_sql(node: Node) -> Sql:
    """The WHERE expression (without `WHERE`) for a rule tree."""
    if isinstance(node, Pred):
        return _pred(node)
    if isinstance(node, Const):
        return Sql("TRUE" if node.value else "FALSE")
    if isinstance(node, Not):
        inner = compile_sql(node.child)
        return Sql(f"(NOT {inner.text})", inner.params)
    if isinstance(node, (And, Or)):
        children = _merge_literals(node.children) if isinstance(node, Or) else list(node.children)
        parts = [c if isinstance(c, Sql) else compile_sql(c) for c in children]
        if not parts:
            return Sql("TRUE" if isinstance(node, And) else "FALSE")
        joiner = " AND " if isinstance(node, And) else " OR "
        return Sql("(" + joiner.join(p.text for p in parts) + ")", [v for p in parts for v in p.params])
    raise TypeError(f"not a rule node: {node!r}")


def match_rows(con: duckdb.DuckDBPyConnection, relation: str, node: Node, *, key: str = "rowid") -> list[Any]:
    """Values of `key` (a column or `rowid`) of the rows of `relation` the rule matches."""
    sql = compile_sql(node)
    # relation/key are our own identifiers; every user value is in sql.params
    query = f"SELECT {key} FROM {relation} WHERE {sql.text} ORDER BY {key}"  # noqa: S608
    rows = con.execute(query, sql.params).fetchall()
    return [r[0] for r in rows]


def match_arrow(table: pa.Table, node: Node, *, con: duckdb.DuckDBPyConnection | None = None) -> list[int]:
    """Row indexes of an Arrow batch (in ARROW_SCHEMA) the rule matches."""
    own = con is None
    con = con or duckdb.connect()
    table = table.select(list(ARROW_SCHEMA.names)).cast(ARROW_SCHEMA)
    indexed = table.append_column("hw_row", pa.array(range(table.num_rows), pa.int64()))
    con.register("hw_detect_batch", indexed)
    try:
        return [int(i) for i in match_rows(con, "hw_detect_batch", node, key="hw_row")]
    finally:
        con.unregister("hw_detect_batch")
        if own:
            con.close()


# (column, kind, text): kind 0 is searched in lower(column), kind 1 case-insensitively by RE2
Needle = tuple[str, int, str]
Needles = frozenset[Needle]


def _glob_pieces(glob: str) -> list[str]:
    """The literal runs of a Sigma wildcard (between unescaped `*` and `?`)."""
    return [p for p in split_glob(glob)[0] if p]


MAX_OPTIONS = 16  # alternative needle sets kept per rule (an And offers one per child)


def needle_options(node: Node) -> list[Needles]:
    """Alternative sets of texts (`Needle`s), each such that a row must contain one of its texts
    for `node` to hold; empty when there is none. From eq/contains/startswith/endswith tests on
    a text column (ASCII only, so lower-casing is the same everywhere) the text is searched in
    `lower(column)`; from wildcards, case-insensitively by RE2 in the column (the wildcard's own
    `(?i)` folds alike). An And offers each child's sets (any one child must hold), an Or the
    unions of one set per child.

    Why: most Sigma keyword and process rules never match; one search for all their texts tells
    which rows need the rules evaluated at all (`prefilter.rare_gate`, which picks the set whose
    texts are rare: a keyword list, not the `GET` test beside it).
    """
    if isinstance(node, Pred):
        f = FIELD_BY_NAME.get(node.target)
        if f is None or f.sql != "VARCHAR" or not isinstance(node.value, str) or not node.value.isascii():
            return []
        if node.op in _ANCHORS and node.value:
            return [frozenset({(node.target, 0, node.value.lower())})]
        if node.op == "glob":
            pieces = _glob_pieces(node.value)
            return [frozenset({(node.target, 1, max(pieces, key=len))})] if pieces else []
        return []
    if isinstance(node, And):
        out = list(dict.fromkeys(o for c in node.children for o in needle_options(c)))
        return sorted(out, key=len)[:MAX_OPTIONS]
    if isinstance(node, Or):
        combos: list[Needles] = [frozenset()]
        for child in node.children:
            options = needle_options(child)
            if not options:
                return []
            combos = [c | o for c in combos for o in options] if len(combos) * len(options) <= MAX_OPTIONS \
                else [c | options[0] for c in combos]
        return sorted(dict.fromkeys(combos), key=len)
    return []


def needles(node: Node) -> Needles | None:
    """The smallest of `needle_options` (None if there is none)."""
    options = needle_options(node)
    return options[0] if options else None


def needle_test(field: str, kind: int, texts: list[str]) -> Sql:
    """True where `field` holds one of `texts` (searched as `needles` says)."""
    alternatives = "|".join(literal_regex(t) for t in sorted(texts))
    if kind == 0:
        return Sql(f"COALESCE(regexp_matches(lower({quote_ident(field)}), ?), FALSE)", [alternatives])
    return Sql(f"COALESCE(regexp_matches({quote_ident(field)}, ?), FALSE)", ["(?is)" + alternatives])


def needles_sql(found: Needles) -> Sql:
    """A boolean that is true on every row where some needle occurs."""
    by_test: dict[tuple[str, int], list[str]] = {}
    for column, kind, text in found:
        by_test.setdefault((column, kind), []).append(text)
    parts = [needle_test(column, kind, texts) for (column, kind), texts in sorted(by_test.items())]
    if not parts:
        return Sql("FALSE")
    return Sql("(" + " OR ".join(p.text for p in parts) + ")", [v for p in parts for v in p.params])
