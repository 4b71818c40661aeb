"""The batch scan's shortcuts that skip work per row never skip a match.

* `prefilter.specialize`: a rule folded for a row's profile decides every row of that profile
  exactly as the whole rule does;
* `duckdb.needles`: wherever a rule matches, the one search for its texts (`needles_sql`) is
  true — the condition the scan gates rare-keyword rules on (awkward texts: case folds outside
  ASCII, regex metacharacters, newlines);
* `prefilter.rare_gate` gates the rules whose texts are rare in the rows and not the others, and
  a scan of a real store with gated rules returns exactly the per-row evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostwarden.core.chunks import Chunk
from hostwarden.core.schema import to_arrow
from hostwarden.detect.batch import matching_rows
from hostwarden.detect.ir import And, Node, Not, Or, Pred, Rule
from hostwarden.detect.matcher import compile_node
from hostwarden.detect.prefilter import PROFILE_FIELDS, rare_gate, specialize
from hostwarden.detect.ruleset import RuleSet, load_rules
from hostwarden.detect.sqlcompile import needle_options, needles, needles_sql
from hostwarden.normalize.source import context_for
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import EventStore

CONN = duckdb.connect()
pieces = st.sampled_from(["a", "B", "ſ", "s", "S", "K", "k", "\u212a", "é", ".", "*", "?", "\\", "|", "(", " ", "\n",
                          "/", "%", "x", "-", "sh", "ssh", "Root"])
texts = st.lists(pieces, max_size=5).map("".join)
FIELDS = ("event.original", "url.original", "user.name")
DATASETS = st.sampled_from([None, "sshd", "nginx.access", "SSHD"])
CATEGORIES = st.one_of(st.none(), st.lists(st.sampled_from(["web", "authentication", "process"]), max_size=2))
PROCESSES = st.sampled_from([None, "sshd", "nginx", "sudo"])


@st.composite
def leaf(draw: Any) -> Pred:
    if draw(st.booleans()):  # a logsource-like test on a profile field
        name = draw(st.sampled_from(["event.dataset", "event.category", "process.name"]))
        return Pred(name, draw(st.sampled_from(["eq", "startswith"])), draw(st.sampled_from(["sshd", "web", "ngi"])))
    op = draw(st.sampled_from(["eq", "contains", "startswith", "endswith", "glob"]))
    return Pred(draw(st.sampled_from([*FIELDS, None])), op, draw(texts), cased=draw(st.booleans()))


trees = st.recursive(leaf(), lambda kids: st.one_of(
    st.builds(lambda c: Or(tuple(c)), st.lists(kids, min_size=2, max_size=5)),
    st.builds(lambda c: And(tuple(c)), st.lists(kids, min_size=1, max_size=3)),
    st.builds(Not, kids)), max_leaves=10)
events = st.fixed_dictionaries({**{f: st.one_of(st.none(), texts) for f in FIELDS}, "event.dataset": DATASETS,
                                "event.category": CATEGORIES, "process.name": PROCESSES})


def _profile(ev: dict[str, Any]) -> dict[str, Any]:
    return {f: ev[f] for f in PROFILE_FIELDS if ev.get(f) is not None}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evs=st.lists(events, min_size=1, max_size=6), rule=trees)
def test_a_rule_folded_for_a_profile_decides_its_rows_alike(evs: list[dict[str, Any]], rule: Node) -> None:
    whole = compile_node(rule)
    for ev in evs:
        assert compile_node(specialize(rule, _profile(ev)))(ev) == whole(ev), (rule, ev)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evs=st.lists(events, min_size=1, max_size=6), rule=trees)
def test_needles_occur_wherever_the_rule_matches(evs: list[dict[str, Any]], rule: Node) -> None:
    check = compile_node(rule)
    CONN.register("hw_gate_test", to_arrow(evs))
    try:
        for found in needle_options(rule):  # each alternative set is necessary on its own
            gate = needles_sql(found)
            passed = [r[0] for r in CONN.execute(f"SELECT {gate.text} FROM hw_gate_test", gate.params).fetchall()]  # noqa: S608
            for ev, ok in zip(evs, passed, strict=True):
                assert ok or not check(ev), (rule, found, ev)
    finally:
        CONN.unregister("hw_gate_test")


def test_needles_of_rule_shapes() -> None:
    keywords = Or((Pred(None, "contains", "Bad Client"), Pred(None, "glob", "*wget * /tmp/*")))
    assert needles(keywords) == {("event.original", 0, "bad client"), ("event.original", 1, " /tmp/")}
    guarded = And((Pred("event.dataset", "eq", "sshd"), keywords))
    assert needles(guarded) == {("event.dataset", 0, "sshd")}  # the smaller set of an And
    assert needles(Or((keywords, Pred(None, "regex", "x+")))) is None  # a regex has no needle here
    assert needles(Not(keywords)) is None
    get = Pred("http.request.method", "eq", "GET")
    assert needle_options(And((get, keywords))) == [{("http.request.method", 0, "get")}, needles(keywords)]
    assert needles(Pred(None, "contains", "ſ")) is None  # non-ASCII: lower-casing may differ


AUTH = "Nov 28 10:00:{s:02d} web1 sshd[10{s}]: Failed password for root from 203.0.113.{i} port 4{s}22 ssh2\n"
RARE_LINE = "Nov 28 10:01:00 web1 sshd[999]: error: Corrupted MAC on input.\n"


def _rules() -> list[Rule]:
    rare = Rule(id="rare", title="rare keyword", detection=Or((Pred(None, "contains", "corrupted mac on input"),
                                                                 Pred(None, "glob", "*segfault at*"))))
    common = Rule(id="common", title="common keyword", detection=Pred(None, "contains", "failed password"))
    return [rare, common]


def test_rare_keyword_rules_are_gated_and_the_scan_stays_exact(tmp_path: Path) -> None:
    ruleset = RuleSet([*load_rules().rules, *_rules()])
    with EventStore(tmp_path / "data") as store:
        data = "".join(AUTH.format(s=i % 60, i=i % 7) for i in range(120)) + RARE_LINE
        ingest_chunks(store, [Chunk("/var/log/auth.log", 0, data.encode())], ctx=context_for("/var/log/auth.log"))
        gates, gated = rare_gate(store.con, [needle_options(r.detection) for r in _rules()],  # type: ignore[arg-type]
                                 "SELECT * FROM events", [])
        assert gated == {0: {"event.original"}}  # only the rule whose texts are rare
        assert list(gates) == ["event.original"] and "segfault" in str(gates["event.original"].params)
        got = {(idx, row["event.id"]) for idx, row in matching_rows(store, ruleset)}
        every = store.con.sql("SELECT * FROM events").to_arrow_table().to_pylist()
    checks = [ruleset.checks[r.id] for r in ruleset.base_rules]
    want = {(i, ev["event.id"]) for ev in every for i, check in enumerate(checks) if check(ev)}
    rare = next(i for i, r in enumerate(ruleset.base_rules) if r.id == "rare")
    assert sum(1 for i, _ in want if i == rare) == 1
    assert got == want
