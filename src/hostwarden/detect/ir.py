"""The one rule model every detection compiles to, whatever language it was written in.

A rule is a boolean tree (`And`, `Or`, `Not`, `Const`) over field predicates (`Pred`), plus an
optional correlation (`Correlation`) over the matches of other rules. Sigma rules, the built-in
pack and any future rule language all end here, and both executors (`matcher` per event in
Python, `duckdb` as a SQL WHERE over batches) read only this, so they cannot drift apart on
what a rule means.

Semantics (Sigma's):

* string comparisons are case-insensitive unless `cased` is set;
* a predicate over a missing field is false, so `Not` over it is true;
* a list-valued field (`event.category`, `process.args`) matches when any element matches;
* numbers compare as text for equality/contains (`sc-status: 404`) and as numbers for `lt/lte/gt/gte`;
* wildcards (`*`, `?`) are op `glob`: both executors turn it into the same regular expression
  (`glob_to_regex`) and require a full match (Python `fullmatch`, DuckDB `regexp_full_match`),
  so no `$` is involved (Python's `$` also matches before a final newline, RE2's does not);
* `regex` is searched (unanchored) and case-sensitive unless flag `i`, as Sigma's `|re`;
* `field=None` is a keyword: it is searched in the raw line, `event.original`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

RAW_FIELD = "event.original"

# op → kind of value it takes
STRING_OPS = ("eq", "contains", "startswith", "endswith")
PATTERN_OPS = ("regex", "glob")
COMPARE_OPS = ("lt", "lte", "gt", "gte")
OPS = (*STRING_OPS, *PATTERN_OPS, *COMPARE_OPS, "cidr", "exists", "null", "fieldref")
REGEX_FLAGS = frozenset("ims")


@dataclass(frozen=True, slots=True)
class Pred:
    """One test of one field. `value` is text for string ops, a pattern for regex, a number for
    comparisons, a network text for cidr, a bool for exists, a field name for fieldref."""

    field: str | None
    op: str
    value: Any = None
    cased: bool = False
    flags: str = ""  # regex only: any of "ims"

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown predicate operator {self.op!r}")
        if self.op == "regex" and not set(self.flags) <= REGEX_FLAGS:
            raise ValueError(f"unknown regex flags {self.flags!r}")

    @property
    def target(self) -> str:
        """The field actually read: keywords read the raw line."""
        return self.field if self.field is not None else RAW_FIELD


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


Node = Pred | And | Or | Not | Const

CORRELATION_TYPES = ("event_count", "value_count", "value_sum", "value_avg", "temporal", "temporal_ordered")
CONDITION_OPS = ("gt", "gte", "lt", "lte", "eq", "neq")


@dataclass(frozen=True, slots=True)
class Correlation:
    """A stateful rule over the matches of `rules` (ids of base or other correlation rules).

    Windows slide: each new match looks back `timespan` seconds from its own time, per group.
    `aliases` maps a group-by name to the field it reads in each referenced rule's events.
    """

    type: str
    rules: tuple[str, ...]
    timespan: float
    group_by: tuple[str, ...] = ()
    condition: tuple[tuple[str, float], ...] = (("gte", 1),)
    field: str | None = None  # value_count / value_sum / value_avg
    aliases: dict[str, dict[str, str]] = dc_field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in CORRELATION_TYPES:
            raise ValueError(f"unsupported correlation type {self.type!r}")
        if self.timespan <= 0:
            raise ValueError("a correlation needs a positive timespan")
        for op, _ in self.condition:
            if op not in CONDITION_OPS:
                raise ValueError(f"unknown correlation condition {op!r}")
        if self.type in ("value_count", "value_sum", "value_avg") and not self.field:
            raise ValueError(f"{self.type} needs a condition field")

    def holds(self, value: float) -> bool:
        return all(compare_number(value, op, bound) for op, bound in self.condition)


def compare_number(value: float, op: str, bound: float) -> bool:
    return {
        "gt": value > bound, "gte": value >= bound, "lt": value < bound,
        "lte": value <= bound, "eq": value == bound, "neq": value != bound,
    }[op]


@dataclass(frozen=True, slots=True)
class Rule:
    """A loaded rule: metadata plus either a detection tree or a correlation."""

    id: str
    title: str
    detection: Node | None = None
    correlation: Correlation | None = None
    name: str | None = None  # Sigma `name`, what correlations may reference
    level: str = "medium"
    author: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    logsource: dict[str, str] = dc_field(default_factory=dict)
    generate: bool = False  # correlation base rules: alert on their own too?
    source: str = ""  # file the rule came from
    fix: str = ""  # hostwarden extension: what a responder should do (shown in scan reports)
    samples: dict[str, list[dict[str, Any]]] = dc_field(default_factory=dict)

    @property
    def techniques(self) -> list[str]:
        return sorted({t.split(".", 1)[1].upper() for t in self.tags if re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t)})

    @property
    def tactics(self) -> list[str]:
        return sorted({t.split(".", 1)[1].replace("_", "-") for t in self.tags
                       if t.startswith("attack.") and not re.fullmatch(r"attack\.(t\d{4}(\.\d{3})?|g\d+|s\d+)", t)})


LEVEL_SEVERITY = {"critical": 1, "high": 2, "medium": 2, "low": 3, "informational": 3}


def glob_to_regex(pattern: str) -> str:
    """A Sigma wildcard string (`*` any run, `?` one char, `\\` escapes) → a regex to full-match.

    `*` crosses newlines (multi-line audit records), as Sigma means "anything"; case-insensitivity
    is added by the executors from `cased`, never baked into the text.
    """
    out = ["(?s)"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*?\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return "".join(out)


def inline_flags(pattern: str, flags: str) -> str:
    """Prefix `pattern` with its flags as one leading inline group, which Python `re` and RE2
    both read the same way (merging a leading `(?i)` the pattern already has)."""
    own = re.match(r"\(\?([a-zA-Z]+)\)", pattern)
    if own and set(own.group(1)) <= REGEX_FLAGS:
        flags += own.group(1)
        pattern = pattern[own.end():]
    letters = "".join(sorted(set(flags)))
    return f"(?{letters}){pattern}" if letters else pattern


def fields_of(node: Node) -> set[str]:
    """Every field a tree reads (for lint and for pushing only needed columns)."""
    if isinstance(node, Pred):
        names = {node.target}
        if node.op == "fieldref":
            names.add(str(node.value))
        return names
    if isinstance(node, (And, Or)):
        return set().union(*(fields_of(c) for c in node.children)) if node.children else set()
    if isinstance(node, Not):
        return fields_of(node.child)
    return set()


def simplify(node: Node) -> Node:
    """Flatten nested and/or and fold constants; a smaller tree is faster in both executors."""
    if isinstance(node, Not):
        child = simplify(node.child)
        return Const(not child.value) if isinstance(child, Const) else Not(child)
    if isinstance(node, (And, Or)):
        kind = type(node)
        neutral = isinstance(node, And)  # And: True is neutral, False absorbs
        flat: list[Node] = []
        for c in (simplify(c) for c in node.children):
            if isinstance(c, Const):
                if c.value != neutral:
                    return Const(not neutral)
                continue
            flat.extend(c.children if isinstance(c, kind) else (c,))
        if not flat:
            return Const(neutral)
        return flat[0] if len(flat) == 1 else kind(tuple(flat))
    return node
