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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hostwarden.schema import FIELD_BY_NAME

_INT_SQL = {"INTEGER", "BIGINT"}


def group_to_field(group: str) -> str:
    return group.replace("__", ".")


def coerce(field_name: str, value: str | None) -> Any:
    """Python-side typing of an extracted string, mirroring `sql_cast`."""
    if value is None or value == "":
        return None
    spec = FIELD_BY_NAME.get(field_name)
    if spec is not None and spec.sql in _INT_SQL:
        if not value.isascii():
            return None
        try:
            number = int(value)
        except ValueError:
            return None
        limit = 2**31 if spec.sql == "INTEGER" else 2**63
        return number if -limit <= number < limit else None
    return value


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

        # The streaming path runs `match` on every line: resolve regexes and field names once.
        self._plan = tuple((p.prefix, p.compiled(), p) for p in self.patterns)
        self._fields: dict[str, str] = {g: group_to_field(g) for p in self.patterns for g in p.compiled().groupindex}

    def match(self, text: str) -> dict[str, Any] | None:
        for prefix, regex, p in self._plan:
            if prefix and not text.startswith(prefix):
                continue
            m = regex.match(text)
            if m is None:
                continue
            return self.fields_for(p, m.groupdict())
        return None

    def fields_for(self, p: Pattern, groups: Mapping[str, str | None]) -> dict[str, Any]:
        ev: dict[str, Any] = {"event.dataset": self.dataset, "event.action": p.action}
        if p.outcome:
            ev["event.outcome"] = p.outcome
        if p.category:
            ev["event.category"] = list(p.category)
        if p.type:
            ev["event.type"] = list(p.type)
        ev.update(p.constants)
        fields = self._fields
        for name, value in groups.items():
            if value:  # None and "" are absent (as `coerce` says) without the lookups
                field_name = fields.get(name) or group_to_field(name)
                typed = coerce(field_name, value)
                if typed is not None:
                    ev[field_name] = typed
        return ev


def sql_string(value: str) -> str:
    """Literal for SQL built from *our own* constants (pattern data), never from user input."""
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: Iterable[str]) -> str:
    items = [sql_string(v) for v in values]
    return "[" + ", ".join(items) + "]::VARCHAR[]" if items else "NULL::VARCHAR[]"


def table_kind(name: str) -> str:
    """A qualified name (`stage_db.batch`) lives in an attached database; a bare one is TEMP."""
    return "TABLE" if "." in name else "TEMP TABLE"
