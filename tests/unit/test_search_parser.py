"""Lexer, parser, field resolution and time options of the search language, without a store."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from hostwarden.core.errors import HostwardenError
from hostwarden.store.query.fields import Kind, resolve
from hostwarden.store.query.lexer import MAX_QUERY_CHARS
from hostwarden.store.query.parser import MAX_DEPTH, MAX_TERMS, And, Compare, Node, Not, Or, Text, parse
from hostwarden.store.query.timerange import parse_duration, time_bounds
from hostwarden.store.search import compile_query


def show(node: Node | None) -> str:
    """A compact s-expression of the AST, so expectations read like the grammar."""
    if node is None:
        return "()"
    if isinstance(node, And | Or):
        return f"({type(node).__name__.upper()} {' '.join(show(c) for c in node.children)})"
    if isinstance(node, Not):
        return f"(NOT {show(node.child)})"
    if isinstance(node, Text):
        return f"~{node.value.text}"
    assert isinstance(node, Compare)
    return f"{node.field}{node.op}{node.value.text}"


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("", "()"),
        ("   \t\n", "()"),
        ("a=1", "a=1"),
        ("a=1 b=2", "(AND a=1 b=2)"),
        ("a=1 AND b=2 OR c=3", "(OR (AND a=1 b=2) c=3)"),
        ("a=1 OR b=2 AND c=3", "(OR a=1 (AND b=2 c=3))"),
        ("a=1 OR b=2 c=3", "(OR a=1 (AND b=2 c=3))"),
        ("NOT a=1 AND b=2", "(AND (NOT a=1) b=2)"),
        ("NOT a=1 OR b=2", "(OR (NOT a=1) b=2)"),
        ("NOT (a=1 OR b=2)", "(NOT (OR a=1 b=2))"),
        ("NOT NOT a=1", "a=1"),
        ("NOT NOT NOT a=1", "(NOT a=1)"),
        ("(a=1 OR b=2) c=3", "(AND (OR a=1 b=2) c=3)"),
        ("a=1 OR (b=2 OR c=3)", "(OR a=1 b=2 c=3)"),
        ("((a=1))", "a=1"),
        ("not a=1 and b=2 oR c=3", "(OR (AND (NOT a=1) b=2) c=3)"),
        ("a!=1 b>2 c>=3 d<4 e<=5", "(AND a!=1 b>2 c>=3 d<4 e<=5)"),
        ("a = 1", "a=1"),
        ("hello world", "(AND ~hello ~world)"),
        ('"hello world" x', '(AND ~hello world ~x)'),
        ('"AND"', "~AND"),
        (r"\AND", "~AND"),
        ("a='AND'", "a=AND"),
        ("O'Brien", "~O'Brien"),
        ("user.name=O'Brien", "user.name=O'Brien"),
        ("wow!", "~wow!"),
        ("source.ip=2001:db8::/32", "source.ip=2001:db8::/32"),
        ('"source.ip"=1.2.3.4', "source.ip=1.2.3.4"),
        ("url.path=/a(b)", "(AND url.path=/a ~b)"),  # parentheses end a word: quote such values
    ],
)
def test_precedence_and_grouping(query: str, tree: str) -> None:
    assert show(parse(query)) == tree


@pytest.mark.parametrize(
    ("query", "text", "wild"),
    [
        (r'a="x\"y"', 'x"y', set()),
        (r"a='x\'y'", "x'y", set()),
        ("a='say \"hi\"'", 'say "hi"', set()),
        ('a="it\'s"', "it's", set()),
        (r'a="back\\slash"', "back\\slash", set()),
        ('a="*?"', "*?", set()),  # quoted strings are literal
        ("a=*x?", "*x?", {0, 2}),
        (r"a=\*x\?", "*x?", set()),
        (r"a=x\ y", "x y", set()),
        (r"a=x\=y", "x=y", set()),
        ('a=""', "", set()),
        ("a=caf\u00e9", "caf\u00e9", set()),
    ],
)
def test_quoting_escapes_and_wildcards(query: str, text: str, wild: set[int]) -> None:
    node = parse(query)
    assert isinstance(node, Compare)
    assert node.value.text == text
    assert set(node.value.wild) == wild


@pytest.mark.parametrize(
    ("query", "column", "needle"),
    [
        ("user.name=", 11, "expected a value"),
        ("user.name= AND x", 12, "keyword AND"),
        ("a AND (b", 9, "expected ')'"),
        ("(a OR b))", 9, "unbalanced ')'"),
        (")", 1, "unbalanced ')'"),
        ("a AND )", 7, "unbalanced ')'"),
        ("(NOT)", 5, "expected a search term, found ')'"),
        ("NOT", 4, "expected a search term"),
        ("a OR", 5, "expected a search term"),
        ("AND a", 1, "expected a search term"),
        ("a OR OR b", 6, "expected a search term"),
        ('"open', 6, "unterminated string"),
        ("x='open", 8, "for the one at column 3"),
        ("()", 2, "empty parentheses"),
        ("=x", 1, "field name before '='"),
        ("a=1=2", 4, "quote a value"),
        ("a==1", 3, "expected a value"),
        ("a>=<1", 4, "expected a value"),
        ("a=(1)", 3, "expected a value"),
        ("us*r=x", 1, "wildcards are not allowed in field names"),
        ("x\\", 2, "backslash at end"),
        ("ok \udcff", 4, "not UTF-8"),
    ],
)
def test_syntax_errors_carry_column_and_caret(query: str, column: int, needle: str) -> None:
    with pytest.raises(HostwardenError) as info:
        parse(query)
    err = info.value
    assert err.code.code == "LOG-4001"
    assert err.context == {"position": column}
    assert needle in err.message
    assert f"at column {column}" in err.message
    lines = err.message.splitlines()
    assert lines[-1].index("^") - 2 == column - 1  # the caret sits under the column
    assert "HostwardenError" not in str(err) and str(err).startswith("LOG-4001: ")


def test_caret_stays_aligned_across_tabs_and_newlines() -> None:
    with pytest.raises(HostwardenError) as info:
        parse("a=1\n\tAND (")
    *_, echoed, caret = info.value.message.splitlines()
    assert "\n" not in echoed and "\t" not in echoed
    assert caret.index("^") == len(echoed)  # just past the last character


def test_limits_are_syntax_errors_not_crashes() -> None:
    deep = "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(HostwardenError, match="nested deeper"):
        parse(deep)
    assert show(parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)) == "~a"
    with pytest.raises(HostwardenError, match="search terms"):
        parse(" ".join(["x"] * (MAX_TERMS + 1)))
    with pytest.raises(HostwardenError, match="longer than"):
        parse("x" * (MAX_QUERY_CHARS + 1))
    assert show(parse("NOT " * 4000 + "a=1")) == "a=1"  # NOT chains are iterative, not recursive


@pytest.mark.parametrize(
    ("name", "kind", "label"),
    [
        ("source.ip", Kind.STRING, None),
        ("http.response.status_code", Kind.NUMBER, None),
        ("@timestamp", Kind.TIME, None),
        ("tags", Kind.LIST, None),
        ("labels", Kind.MAP, None),
        ("key", Kind.LABEL, "key"),
        ("a0", Kind.LABEL, "a0"),
        ("hostname", Kind.LABEL, "hostname"),  # auditd's own name, not a typo of host.name
        ("ssh.invalid_user", Kind.LABEL, "ssh.invalid_user"),
        ("old-name", Kind.LABEL, "old-name"),
        ("a1[0]", Kind.LABEL, "a1[0]"),
        ("source.geo.country_name", Kind.LABEL, "source.geo.country_name"),
        ("labels.weird key'\"", Kind.LABEL, "weird key'\""),
        ("labels.source.ip", Kind.LABEL, "source.ip"),
    ],
)
def test_field_names_resolve_to_columns_or_labels(name: str, kind: Kind, label: str | None) -> None:
    resolved = resolve(name)
    assert resolved.kind is kind and resolved.label == label
    if label is None:
        assert resolved.sql == f'"{name}"'


@pytest.mark.parametrize(
    ("query", "suggested"),
    [
        ("source.ipp=1", "source.ip"),
        ("Source.IP=1", "source.ip"),
        ("proces.name=x", "process.name"),
        ("host.nmae=x", "host.name"),
        ("timestamp>2026-01-01", "@timestamp"),
        ("mesage=x", "message"),
        ("TAGS=x", "tags"),
        ('user"name=x', None),
        ('"user.name\' OR 1=1 --"=x', None),
        ('"a b"=x', None),
        ("@foo=x", None),
    ],
)
def test_unknown_fields_get_log_4002_with_close_matches(query: str, suggested: str | None) -> None:
    with pytest.raises(HostwardenError) as info:
        compile_query(query, tenant="t")
    err = info.value
    assert err.code.code == "LOG-4002" and err.context == {"position": 1}
    if suggested:
        assert f"did you mean {suggested}" in err.message
    else:
        assert "labels.NAME" in err.message


@pytest.mark.parametrize(
    ("query", "column", "needle"),
    [
        ("source.port=abc", 13, "is not a number"),
        ("source.port=1e999", 13, "is not a number"),
        ("x=1 source.port=" + "9" * 5000, 17, "is not a number"),
        ("source.ip=999.1.1.1/8", 11, "not a valid CIDR"),
        ("source.ip=2001:db8::/129", 11, "not a valid CIDR"),
        ("@timestamp>yesterday", 12, "ISO-8601"),
        ("@timestamp=2026-11-*", 12, "wildcards only work"),
        ("user.name>r*", 11, "wildcards only work with = and !="),
        ("user.name>*", 11, "'*' (any value) only works"),
        ("a=1 labels=x", 5, "labels is a map"),
    ],
)
def test_unusable_values_are_field_errors_pointing_at_the_value(query: str, column: int, needle: str) -> None:
    with pytest.raises(HostwardenError) as info:
        compile_query(query, tenant="t")
    assert info.value.code.code == "LOG-4002"
    assert needle in info.value.message
    assert info.value.context == {"position": column}
    assert len(info.value.message) < 400  # a long query is shown as a window around the caret


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("24h", 86400), ("7d", 604800), ("2w", 1209600), ("30s", 30), ("1h30m", 5400), (" 1D ", 86400)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"since": "yesterday"},
        {"since": "0m"},
        {"since": "-5m"},
        {"since": "15"},
        {"since": "999999999w"},
        {"from_": "tomorrow"},
        {"to": "2026-13-01"},
        {"from_": "2026-11-28", "to": "2026-11-27"},
        {"from_": "2026-11-28T10:00:00Z", "to": "2026-11-28T09:59:59Z"},
    ],
)
def test_bad_time_options_are_log_4003(kwargs: dict[str, str]) -> None:
    with pytest.raises(HostwardenError) as info:
        compile_query("", tenant="t", now=NOW, **kwargs)
    assert info.value.code.code == "LOG-4003"


def test_time_bounds_semantics() -> None:
    lower, upper, inclusive = time_bounds(since="24h", from_=None, to=None, now=NOW)
    assert lower == NOW - timedelta(hours=24) and upper is None
    lower, upper, inclusive = time_bounds(since=None, from_="2026-11-01", to="2026-11-01", now=NOW)
    assert (lower, upper, inclusive) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC), False)
    lower, upper, inclusive = time_bounds(since=None, from_="2026-11-01T10:00:00+02:00", to="2026-11-01T12:00", now=NOW)
    assert lower == datetime(2026, 11, 1, 8, tzinfo=UTC) and upper == datetime(2026, 11, 1, 12, tzinfo=UTC) and inclusive
    # since and from together: the later start wins
    lower, _, _ = time_bounds(since="1h", from_="2026-01-01", to=None, now=NOW)
    assert lower == NOW - timedelta(hours=1)


def test_the_tenant_is_always_the_first_condition_and_required() -> None:
    compiled = compile_query("a=1 OR b=2", tenant="acme")
    assert compiled.where.startswith('"organization.id" = ? AND ')
    assert compiled.params[0] == "acme"
    assert " OR " not in compiled.where.split(" AND ", 1)[0]
    for tenant in ("", None):
        with pytest.raises(HostwardenError) as info:
            compile_query("a=1", tenant=tenant)  # type: ignore[arg-type]
        assert info.value.code.code == "LOG-4032"


def test_placeholders_and_params_line_up() -> None:
    query = "key=x user.name!=y* tags=z source.ip=10.0.0.0/8 related.ip=2001:db8::/32 auid>5 @timestamp>2026-01-01 NOT w"
    compiled = compile_query(query, tenant="t", since="1h", now=NOW)
    outside_literals = re.sub(r"'[^']*'", "''", compiled.where)  # regex constants contain '?'
    assert outside_literals.count("?") == len(compiled.params)
