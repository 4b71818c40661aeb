"""Which rules can match which rows, decided once per kind of row instead of once per row.

Why: with the built-in pack plus the SigmaHQ Linux and web rules loaded (~280 rules), most
rules can never match most rows — a web rule on an sshd line, an auditd rule on an access log.
Evaluating every rule on every row is what made bulk detection slow. Every rule read through
Sigma carries a logsource guard (`event.category = web`, `event.dataset = sshd`, …), and the
built-in rules test the same low-cardinality fields. So the scan first asks DuckDB for the
distinct *profiles* of the rows in scope (the values of `PROFILE_FIELDS`, a handful of rows),
evaluates each rule on each profile in three-valued logic (a predicate on any other field is
"unknown"), and keeps a rule for a dataset only if some profile of that dataset does not make
it definitely false. This is exact: a row's profile is a projection of the row, so a rule that
is false on the profile is false on the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from hostwarden.core.schema import quote_ident
from hostwarden.detect.ir import And, Const, Node, Not, Or, Pred, fields_of, simplify
from hostwarden.detect.matcher import Check, compile_node
from hostwarden.detect.sqlcompile import Needle, Needles, Sql, needle_test, needles_sql

PROFILE_FIELDS = ("event.dataset", "event.category", "event.type", "event.module", "process.name")
_PROFILE = frozenset(PROFILE_FIELDS)


@lru_cache(maxsize=4096)
def _check(pred: Pred) -> Check:
    return compile_node(pred)


def possible(node: Node, profile: dict[str, Any]) -> bool | None:
    """Kleene evaluation of `node` on a profile: True/False when decided by the profile fields,
    None when the outcome depends on other fields."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Pred):
        if not fields_of(node) <= _PROFILE:
            return None
        try:
            hash(node)
        except TypeError:
            return bool(compile_node(node)(profile))
        return bool(_check(node)(profile))
    if isinstance(node, Not):
        inner = possible(node.child, profile)
        return None if inner is None else not inner
    if isinstance(node, (And, Or)):
        values = [possible(c, profile) for c in node.children]
        decisive = isinstance(node, Or)  # Or: one True decides; And: one False decides
        if decisive in values:
            return decisive
        return None if None in values else not decisive
    raise TypeError(f"not a rule node: {node!r}")


def profiles_sql(scope: str) -> str:
    """The distinct profiles of the rows in `scope` (a WHERE clause over `events`)."""
    cols = ", ".join(quote_ident(f) for f in PROFILE_FIELDS)
    return f"SELECT DISTINCT {cols} FROM events WHERE {scope}"  # noqa: S608 - our own identifiers


def plan(nodes: Sequence[Node | None], profiles: Sequence[tuple[Any, ...]]) -> dict[tuple[int, ...], list[str | None]]:
    """Group datasets by the rules that may match some row of theirs.

    Returns {(rule indexes…): [datasets…]}; datasets where no rule may match are left out, so
    their rows are never scanned. A dataset of None stands for rows without one.
    """
    by_dataset: dict[str | None, set[int]] = {}
    for values in profiles:
        profile = {k: v for k, v in zip(PROFILE_FIELDS, values, strict=True) if v is not None}
        applicable = by_dataset.setdefault(values[0], set())
        for i, node in enumerate(nodes):
            if node is not None and i not in applicable and possible(node, profile) is not False:
                applicable.add(i)
    groups: dict[tuple[int, ...], list[str | None]] = {}
    for dataset, rules in by_dataset.items():
        if rules:
            groups.setdefault(tuple(sorted(rules)), []).append(dataset)
    return groups


def specialize(node: Node, profile: dict[str, Any]) -> Node:
    """`node` on rows of this profile: every test `possible` decides becomes a constant, then the
    tree is folded. Why: a Sigma rule's logsource guard (`event.dataset = sshd`, a lambda over the
    `event.category` list, …) costs as much per row as its real test; on rows of a known profile
    it is a constant, so the scan evaluates only what is left (nothing at all if it is false)."""
    if isinstance(node, Pred):
        decided = possible(node, profile)
        return node if decided is None else Const(decided)
    if isinstance(node, Not):
        return simplify(Not(specialize(node.child, profile)))
    if isinstance(node, (And, Or)):
        return simplify(type(node)(tuple(specialize(c, profile) for c in node.children)))
    return node


def residuals(node: Node, profiles: Sequence[tuple[Any, ...]]) -> list[tuple[Node, list[int]]]:
    """(what is left of `node`, indexes of the profiles it is left on) for every profile where the
    rule may match; profiles that decide it false are left out."""
    out: dict[str, tuple[Node, list[int]]] = {}
    for k, values in enumerate(profiles):
        profile = {f: v for f, v in zip(PROFILE_FIELDS, values, strict=True) if v is not None}
        left = specialize(node, profile)
        if left != Const(False):
            out.setdefault(repr(left), (left, []))[1].append(k)
    return list(out.values())


def profile_join(alias: str) -> str:
    """ON clause matching an `events` row to its profile row in a table `alias` whose columns
    `hw_p0…` hold the profile values (null-safe: a missing field is part of a profile)."""
    return " AND ".join(f"{quote_ident(f)} IS NOT DISTINCT FROM {alias}.hw_p{i}" for i, f in enumerate(PROFILE_FIELDS))


SAMPLE_ROWS = 2_000  # rows read to tell rare texts from common ones
RARE = 0.05  # a text is rare when at most this share of the sampled rows holds it


def rare_gate(con: Any, wanted: Sequence[Sequence[Needles]], rows_sql: str,
              params: list[Any]) -> tuple[dict[str, Sql], dict[int, set[str]]]:
    """(gates, which rules to gate on which): `wanted` gives per rule its alternative needle
    sets (`detect.duckdb.needle_options`); a rule is gated when one of its sets has only texts
    that are rare in a sample of the rows `rows_sql` selects (the rarest such set is used), and
    is listed with the columns of that set. Per such column, one boolean that is true wherever
    one of the chosen texts occurs in it. A gated rule needs evaluating only where one of its
    columns' gates is true (one gate per column, so a common text in a URL does not make every
    keyword rule run on that row).

    Why: the SigmaHQ keyword rules (dozens of texts searched in every raw line) were most of the
    scan, and almost never match; one search for all their texts lets the scan skip them on the
    rows where none occurs. Exact whatever the sample says: a gated rule cannot hold on a row
    without one of its texts, and the sample only decides which rules are worth gating.
    """
    texts = sorted({n for options in wanted for found in options for n in found})
    if not texts:
        return {}, {}
    tests = [Sql(f"contains(lower({quote_ident(field)}), ?)", [text]) if kind == 0 else
             needle_test(field, kind, [text]) for field, kind, text in texts]
    sql = (f"SELECT count(*), {', '.join(f'count(*) FILTER (WHERE {t.text})' for t in tests)} "  # noqa: S608
           f"FROM (SELECT * FROM ({rows_sql}) LIMIT {SAMPLE_ROWS})")
    counts = con.execute(sql, [v for t in tests for v in t.params] + params).fetchall()[0]
    limit = RARE * max(counts[0], 1)
    hits = dict(zip(texts, counts[1:], strict=True))
    chosen: dict[int, Needles] = {}
    for i, options in enumerate(wanted):
        rare = [found for found in options if found and all(hits[n] <= limit for n in found)]
        if rare:
            chosen[i] = min(rare, key=lambda found: sum(hits[n] for n in found))
    union: set[Needle] = set().union(*chosen.values())
    columns = sorted({n[0] for n in union})
    gates = {c: needles_sql(frozenset(n for n in union if n[0] == c)) for c in columns}
    return gates, {i: {n[0] for n in found} for i, found in chosen.items()}
