"""Which base rules can match an event, decided once per kind of event instead of per rule.

Streaming runs every event through the compiled matchers; with a pack covering sshd, sudo,
auditd and web logs, most rules are for other sources and fail on their first test. Almost
every rule begins with a test its matches all need — `event.category = web`, `event.outcome =
failure`, `event.action = sudo_command` — so each rule is filed under one such *guard*
(a top-level `field eq value`, or an `or` of those on one field), and an event is checked only
against the rules whose guard it passes, plus the few without a guard. The guard values of an
event (its category, outcome, …) repeat endlessly, so the candidate list is cached by them.

The guard test is the matcher's own `eq` (case-folded text, any element of a list), so the
rules skipped are exactly rules whose `and` would have failed: results do not change.
"""

from __future__ import annotations

from typing import Any

from hostwarden.core.schema import FIELD_BY_NAME
from hostwarden.detect.ir import And, Node, Or, Pred, Rule
from hostwarden.detect.matcher import as_text, get_value

PREFERRED = ("event.category", "event.dataset", "event.action", "event.outcome", "event.type")
CACHE_MAX = 4096


def _eq_values(node: Node) -> tuple[str, set[str]] | None:
    """(field, folded values) if `node` holds only when the field equals one of the values."""
    if isinstance(node, Pred):
        if node.op == "eq" and node.field and not node.cased and isinstance(node.value, (str, int, float)) \
                and not isinstance(node.value, bool):
            return node.field, {str(node.value).lower()}
        return None
    if isinstance(node, Or) and node.children:
        parts = [_eq_values(c) for c in node.children]
        if all(p is not None for p in parts) and len({p[0] for p in parts if p}) == 1:
            return parts[0][0], set().union(*(p[1] for p in parts if p))  # type: ignore[index]
    return None


def guard_of(node: Node | None) -> tuple[str, set[str]] | None:
    """The best guard of a detection tree: a conjunct on a common field, else any conjunct."""
    if node is None:
        return None
    conjuncts = node.children if isinstance(node, And) else (node,)
    found = [g for g in (_eq_values(c) for c in conjuncts) if g is not None]
    if not found:
        return None
    return min(found, key=lambda g: PREFERRED.index(g[0]) if g[0] in PREFERRED else len(PREFERRED))


def _folded(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(as_text(v).lower() for v in value if v is not None)
    return (as_text(value).lower(),)


class Dispatch:
    """`candidates(event)`: the base rules worth checking, in rule-set order."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.always: list[int] = []
        self.index: dict[str, dict[str, list[int]]] = {}
        for i, rule in enumerate(rules):
            guard = guard_of(rule.detection)
            if guard is None:
                self.always.append(i)
                continue
            field, values = guard
            table = self.index.setdefault(field, {})
            for v in values:
                table.setdefault(v, []).append(i)
        self.fields = tuple(self.index)
        # Schema fields are read straight from the event (as `get_value` does); their raw values,
        # lists as tuples, key the cache, and folding happens only on a miss.
        self._plain = all(f in FIELD_BY_NAME for f in self.fields)
        self._cache: dict[tuple[tuple[str, ...], ...], list[Rule]] = {}

    def matching(self, event: dict[str, Any], checks: dict[str, Any]) -> list[Rule]:
        """The base rules this event matches, in rule-set order (`checks`: the compiled matchers)."""
        return [rule for rule in self.candidates(event) if checks[rule.id](event)]

    def candidates(self, event: dict[str, Any]) -> list[Rule]:
        if self._plain:  # the guard fields are schema fields: the event's own values are the key
            key: tuple[Any, ...] = tuple([tuple(v) if v.__class__ is list else v for v in map(event.get, self.fields)])
        else:
            key = tuple(_folded(get_value(event, f)) for f in self.fields)
        try:
            found = self._cache.get(key)
        except TypeError:  # an unhashable value (hostile JSON input): fold it like any other field
            key = tuple(_folded(get_value(event, f)) for f in self.fields)
            found = self._cache.get(key)
        if found is None:
            idx = set(self.always)
            for field in self.fields:
                table = self.index[field]
                for v in _folded(get_value(event, field)):
                    idx.update(table.get(v, ()))
            found = [self.rules[i] for i in sorted(idx)]
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[key] = found
        return found
