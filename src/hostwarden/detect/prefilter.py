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

from hostwarden.detect.ir import And, Const, Node, Not, Or, Pred, fields_of
from hostwarden.detect.matcher import Check, compile_node
from hostwarden.schema import quote_ident

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
