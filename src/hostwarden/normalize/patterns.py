"""Message patterns as data, executed two ways that must agree.

A source module (sshd, sudo, …) declares an ordered list of `Pattern`s: a literal prefix for
cheap dispatch, a regex with named groups, and constant ECS fields. The per-line executor
(`PatternSet.match`) serves streaming; `PatternSet.sql_branches` compiles the very same
regexes for DuckDB so a million-line file is parsed columnar. Regexes are therefore written
in the subset Python `re` and RE2 share (no lookaround, no backreferences), and group names
are ECS names with `.` spelled `__` (`source__ip`). First match wins in both executors.
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # the stdlib's regex parser: read a pattern's possible first characters
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hostwarden.core.schema import FIELD_BY_NAME

_INT_SQL = {"INTEGER", "BIGINT"}


def group_to_field(group: str) -> str:
    return group.replace("__", ".")


def coerce(field_name: str, value: str | None) -> Any:
    """Python-side typing of an extracted string, mirroring `sql_cast`."""
    if value is None or value == "":
        return None
    limit = _int_limit(field_name)
    return _int_or_none(value, limit) if limit else value


def _int_limit(field_name: str) -> int:
    """The bound of an integer ECS field (INTEGER or BIGINT), 0 for any other field."""
    spec = FIELD_BY_NAME.get(field_name)
    if spec is None or spec.sql not in _INT_SQL:
        return 0
    return 2**31 if spec.sql == "INTEGER" else 2**63


def sql_cast(field_name: str, expr: str) -> str:
    spec = FIELD_BY_NAME.get(field_name)
    if spec is not None and spec.sql in _INT_SQL:
        return f"TRY_CAST(NULLIF({expr}, '') AS {spec.sql})"
    return f"NULLIF({expr}, '')"


@dataclass(frozen=True)
class Pattern:
    action: str
    regex: str
    prefix: str = ""
    outcome: str | None = None
    category: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    # Constant fields beyond the common ones (rare; strings only).
    constants: Mapping[str, str] = field(default_factory=dict)
    # Optional bulk-only shortcut: a simpler regex (same group names, anchored with ^ and $)
    # that RE2 extracts several times faster. Where it matches, it must extract exactly what
    # `regex` does; the bulk/per-line agreement tests hold it to that.
    fast: str = ""

    def compiled(self) -> re.Pattern[str]:
        return _compile(self.regex)

    def group_names(self) -> list[str]:
        """Group names in group-number order: DuckDB's regexp_extract names groups by position."""
        index = self.compiled().groupindex
        return sorted(index, key=index.__getitem__)


_CACHE: dict[str, re.Pattern[str]] = {}


def _compile(regex: str) -> re.Pattern[str]:
    cached = _CACHE.get(regex)
    if cached is None:
        # ASCII: \d \s \w mean what they mean in RE2, so both executors split text the same way.
        cached = re.compile(regex, re.ASCII)
        if cached.groups != len(cached.groupindex):
            raise ValueError(f"pattern has unnamed capturing groups (use (?:...)): {regex}")
        _CACHE[regex] = cached
    return cached


class PatternSet:
    """An ordered list of patterns for one dataset."""

    def __init__(self, dataset: str, patterns: Iterable[Pattern]) -> None:
        self.dataset = dataset
        self.patterns = tuple(patterns)
        for p in self.patterns:
            p.compiled()  # fail at import, not on the first line
            if not p.regex.startswith("^"):
                raise ValueError(f"{dataset}/{p.action}: patterns are anchored; start the regex with ^")
            if p.fast and (not p.fast.startswith("^") or not p.fast.endswith("$")
                           or set(_compile(p.fast).groupindex) != set(p.compiled().groupindex)):
                raise ValueError(f"{dataset}/{p.action}: fast regex must be ^…$ with the same groups")

        # The streaming path runs `match` on every line, so the work is planned once: the
        # patterns a line can match, by its first character (a pattern whose first character
        # can't be known is in every list; order is kept, so the first match still wins), and
        # per pattern the fields its groups fill.
        # A literal the regex can't match without (`session opened`) is looked for first: a
        # substring test is far cheaper than a regex that fails late.
        plan = [(p.prefix, required_literal(p.regex), p.compiled(), p, _first_chars(p.regex)) for p in self.patterns]
        chars = sorted({c for *_, first in plan if first for c in first})
        self._any = tuple(step[:4] for step in plan if step[4] is None)
        self._by_char = {c: tuple(step[:4] for step in plan if step[4] is None or c in step[4]) for c in chars}
        self._fields: dict[str, str] = {g: group_to_field(g) for p in self.patterns for g in p.compiled().groupindex}
        self._group_plans = {id(p): _group_plan(p.group_names()) for p in self.patterns}

    def match(self, text: str) -> dict[str, Any] | None:
        for prefix, literal, regex, p in self._by_char.get(text[:1], self._any):
            if prefix and not text.startswith(prefix) or literal not in text:
                continue
            m = regex.match(text)
            if m is None:
                continue
            return self._fields_of(p, m.groups())
        return None

    def _fields_of(self, p: Pattern, values: Sequence[str | None]) -> dict[str, Any]:
        ev = self._constant_fields(p)
        for (field_name, limit), value in zip(self._group_plans[id(p)], values, strict=True):
            if not value:  # None and "" are absent, as `coerce` says
                continue
            if limit:
                number = _int_or_none(value, limit)
                if number is not None:
                    ev[field_name] = number
            else:
                ev[field_name] = value
        return ev

    def _constant_fields(self, p: Pattern) -> dict[str, Any]:
        ev: dict[str, Any] = {"event.dataset": self.dataset, "event.action": p.action}
        if p.outcome:
            ev["event.outcome"] = p.outcome
        if p.category:
            ev["event.category"] = list(p.category)
        if p.type:
            ev["event.type"] = list(p.type)
        ev.update(p.constants)
        return ev

    def fields_for(self, p: Pattern, groups: Mapping[str, str | None]) -> dict[str, Any]:
        ev = self._constant_fields(p)
        fields = self._fields
        for name, value in groups.items():
            if value:
                field_name = fields.get(name) or group_to_field(name)
                typed = coerce(field_name, value)
                if typed is not None:
                    ev[field_name] = typed
        return ev


def _group_plan(groups: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """Per capture group (in number order): its ECS field and, for integer fields, the bound."""
    return tuple((group_to_field(group), _int_limit(group_to_field(group))) for group in groups)


def _int_or_none(value: str, limit: int) -> int | None:
    if not value.isascii():
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if -limit <= number < limit else None


def _first_chars(regex: str) -> frozenset[str] | None:
    """The characters a match of this anchored regex can start with, or None when that can't be
    told (a class like `\\S`, a negation, case folding, a pattern that can match empty)."""
    try:
        parsed = sre_parse.parse(regex, re.ASCII)
    except re.error:
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    first, nullable = _seq_first(list(parsed))
    return None if first is None or nullable else frozenset(first)


@lru_cache(maxsize=4096)
def required_literal(regex: str) -> str:
    """The longest run of plain characters every match of `regex` contains ("" if none of 3+).
    Cached: the columnar plan asks for every pattern's on every chunk, and parsing the regex
    again each time cost a tenth of a 6 MB chunk's parse."""
    try:
        parsed = sre_parse.parse(regex, re.ASCII)
    except re.error:
        return ""
    if parsed.state.flags & re.IGNORECASE:
        return ""
    runs: list[str] = [""]
    _literal_runs(list(parsed), runs)
    best = max(runs, key=len)
    return best if len(best) >= 3 else ""


def _literal_runs(items: list[_Item], runs: list[str]) -> None:
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            runs[-1] += chr(arg)
        elif name == "SUBPATTERN" and not any(str(o) == "BRANCH" for o, _ in arg[3]):
            _literal_runs(list(arg[3]), runs)  # a mandatory group: its literals are mandatory too
        elif name == "AT":
            continue
        else:
            runs.append("")


_Item = tuple[Any, Any]


def _seq_first(items: list[_Item]) -> tuple[set[str] | None, bool]:
    """(first characters, can be empty) of a parsed sequence; None = unknown."""
    out: set[str] = set()
    for op, arg in items:
        name = str(op)
        if name == "AT":  # an anchor takes no character
            continue
        first, nullable = _item_first(name, arg)
        if first is None:
            return None, False
        out |= first
        if not nullable:
            return out, False
    return out, True


def _item_first(name: str, arg: Any) -> tuple[set[str] | None, bool]:
    if name == "LITERAL":
        return {chr(arg)}, False
    if name == "IN":
        chars: set[str] = set()
        for op, value in arg:
            if str(op) == "LITERAL":
                chars.add(chr(value))
            elif str(op) == "RANGE" and value[1] - value[0] < 64:
                chars.update(chr(c) for c in range(value[0], value[1] + 1))
            else:
                return None, False
        return chars, False
    if name == "SUBPATTERN":
        return _seq_first(list(arg[3]))
    if name == "BRANCH":
        chars, nullable = set(), False
        for branch in arg[1]:
            first, empty = _seq_first(list(branch))
            if first is None:
                return None, False
            chars |= first
            nullable = nullable or empty
        return chars, nullable
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, _high, body = arg
        first, empty = _seq_first(list(body))
        return first, low == 0 or empty
    return None, False


def sql_string(value: str) -> str:
    """Literal for SQL built from *our own* constants (pattern data), never from user input."""
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: Iterable[str]) -> str:
    items = [sql_string(v) for v in values]
    return "[" + ", ".join(items) + "]::VARCHAR[]" if items else "NULL::VARCHAR[]"


def table_kind(name: str) -> str:
    """A qualified name (`stage_db.batch`) lives in an attached database; a bare one is TEMP."""
    return "TABLE" if "." in name else "TEMP TABLE"
