"""The two executors must agree: random events × random rules, Python closures vs DuckDB SQL."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostwarden.core.schema import to_arrow
from hostwarden.detect.ir import And, Const, Node, Not, Or, Pred
from hostwarden.detect.matcher import compile_node
from hostwarden.detect.sqlcompile import match_arrow

TEXT_FIELDS = ["user.name", "event.original", "url.original", "source.ip"]
INT_FIELD = "http.response.status_code"
LIST_FIELD = "event.category"
LABEL_FIELDS = ["a0", "key"]
ALL_FIELDS = [*TEXT_FIELDS, INT_FIELD, LIST_FIELD, *LABEL_FIELDS]

words = st.sampled_from(["root", "ROOT", "Admin", "admin", "sh", "bash -i", "select", "SeLeCt", "1.5", "-3",
                         " 42 ", "404", "10.0.0.7", "192.168.1.20", "::ffff:10.1.2.3", "2001:db8::1",
                         "a*b", "a?c", "", "x\ny", "/.env", "%2e%2e/"])
text_value = st.one_of(st.none(), words, st.builds(lambda a, b: a + b, words, words))

CONN = duckdb.connect()


@st.composite
def events(draw: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        ev[name] = draw(text_value)
    ev[INT_FIELD] = draw(st.one_of(st.none(), st.sampled_from([200, 301, 404, 500, 42])))
    ev[LIST_FIELD] = draw(st.one_of(st.none(), st.lists(words, max_size=3)))
    labels = {}
    for name in LABEL_FIELDS:
        v = draw(text_value)
        if v is not None:
            labels[name] = v
    if labels and draw(st.booleans()):
        ev["labels"] = labels
    else:
        ev.update(labels)  # a parser's flat dict: extras beside the schema fields
    return ev


needles = st.sampled_from(["root", "ADMIN", "sel", "sh", "4", "404", "1", "a*b", "a?c", "*", "ro*", "*.env",
                           "?dmin", "", "\\*", "x*y", "10.", "-3"])
patterns = st.sampled_from(["^ro", "admin$", "[0-9]+", "a.b", "S.L", "(?i)select", "^$", "x.y", r"\d{2}", "bash\\s"])
networks = st.sampled_from(["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32", "10.1.2.3/32", "0.0.0.0/0"])


@st.composite
def preds(draw: Any) -> Pred:
    name = draw(st.sampled_from([*ALL_FIELDS, None]))
    op = draw(st.sampled_from(["eq", "contains", "startswith", "endswith", "glob", "regex", "lt", "gte",
                               "cidr", "exists", "null", "fieldref"]))
    cased = draw(st.booleans())
    if op == "regex":
        return Pred(name, op, draw(patterns), flags=draw(st.sampled_from(["", "i", "s", "im", "is"])))
    if op in ("lt", "gte"):
        return Pred(name, op, draw(st.sampled_from([0, 42, 300, 1.5, -3])))
    if op == "cidr":
        return Pred(name, op, draw(networks))
    if op == "exists":
        return Pred(name, op, draw(st.booleans()))
    if op == "null":
        return Pred(name, op)
    if op == "fieldref":
        return Pred(name, op, draw(st.sampled_from(ALL_FIELDS)), cased=cased)
    return Pred(name, op, draw(needles), cased=cased)


def trees() -> st.SearchStrategy[Node]:
    leaf = st.one_of(preds(), st.builds(Const, st.booleans()))
    return st.recursive(
        leaf,
        lambda kids: st.one_of(
            st.builds(lambda c: And(tuple(c)), st.lists(kids, min_size=1, max_size=3)),
            st.builds(lambda c: Or(tuple(c)), st.lists(kids, min_size=1, max_size=3)),
            st.builds(Not, kids),
        ),
        max_leaves=6,
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evs=st.lists(events(), min_size=1, max_size=6), rule=trees())
def test_python_and_duckdb_executors_agree(evs: list[dict[str, Any]], rule: Node) -> None:
    check = compile_node(rule)
    python = [i for i, ev in enumerate(evs) if check(ev)]
    sql = match_arrow(to_arrow(evs), rule, con=CONN)
    assert python == sql, (rule, evs)


@pytest.mark.parametrize(
    ("pred", "event", "expected"),
    [
        (Pred("user.name", "eq", "ROOT"), {"user.name": "root"}, True),
        (Pred("user.name", "eq", "ROOT", cased=True), {"user.name": "root"}, False),
        (Not(Pred("user.name", "eq", "root")), {}, True),  # NOT over a missing field is true
        (Pred("user.name", "eq", "root"), {}, False),
        (Pred("url.original", "glob", "*/.git/*"), {"url.original": "/a/.GIT/config"}, True),
        (Pred(None, "contains", "failed password"), {"event.original": "Failed password for x"}, True),
        (Pred("source.ip", "cidr", "10.0.0.0/8"), {"source.ip": "::ffff:10.9.9.9"}, True),
        (Pred("http.response.status_code", "gte", 400), {"http.response.status_code": 404}, True),
        (Pred("http.response.status_code", "eq", "404"), {"http.response.status_code": 404}, True),
        (Pred("event.category", "eq", "web"), {"event.category": ["iam", "WEB"]}, True),
        (Pred("a0", "regex", "^-c$"), {"a0": "-C"}, False),
        (Pred("a0", "regex", "^-c$", flags="i"), {"a0": "-C"}, True),
        (Pred("key", "exists", True), {"labels": {"key": "x"}}, True),
        (Pred("user.name", "fieldref", "user.effective.name"), {"user.name": "A", "user.effective.name": "a"}, True),
    ],
)
def test_semantics_examples(pred: Node, event: dict[str, Any], expected: bool) -> None:
    assert compile_node(pred)(event) is expected
    assert (match_arrow(to_arrow([event]), pred, con=CONN) == [0]) is expected
