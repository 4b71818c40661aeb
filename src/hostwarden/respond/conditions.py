"""Trigger and condition matching for playbooks, over flat ECS alerts.

Alert values are attacker-influenced (a user name, a URL, a log line), so every pattern is
linear-time: globs are translated to RE2 (`*` any run, `?` one character; nothing else is
special) and `regex` conditions are compiled with RE2 (`google-re2`). Values are bounded
before matching. A list-valued field matches when any element does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import re2

from hostwarden.respond.allowlist import parse_address, parse_network

MAX_VALUE = 65536
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is reported as RESP-6002, not logged by RE2 to stderr


def compile_re2(pattern: str) -> Any:
    return re2.compile(pattern, options=_OPTIONS)
OPERATORS = ("equals", "in", "cidr", "regex", "glob", "exists")
GRADES = ("L1", "L2", "L3")


def glob_to_re2(pattern: str) -> str:
    out = []
    for c in pattern:
        out.append(".*" if c == "*" else "." if c == "?" else re2.escape(c))
    return "(?is)" + "".join(out)


class Globs:
    """A set of glob patterns matched as one RE2 alternation (full match)."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns = list(patterns)
        self._re = compile_re2("|".join(f"(?:{glob_to_re2(p)})" for p in patterns)) if patterns else None

    def match(self, value: Any) -> bool:
        return self._re is not None and self._re.fullmatch(str(value)[:MAX_VALUE]) is not None

    def any(self, values: list[Any]) -> bool:
        return any(self.match(v) for v in values)


def values_of(alert: Mapping[str, Any], name: str) -> list[Any]:
    v = alert.get(name)
    if v is None:
        return []
    if isinstance(v, list | tuple | set):
        return [x for x in v if x is not None]
    return [v]


def grade_of(alert: Mapping[str, Any]) -> str | None:
    """`hostwarden.grade` (L1..L3), else derived from `event.severity` (1..3)."""
    g = alert.get("hostwarden.grade")
    if isinstance(g, str) and g.upper() in GRADES:
        return g.upper()
    sev = alert.get("event.severity")
    try:
        n = int(sev) if sev is not None else None
    except (TypeError, ValueError):
        return None
    return f"L{n}" if n in (1, 2, 3) else None


def tags_of(alert: Mapping[str, Any]) -> list[str]:
    """The alert's `tags`, plus ATT&CK technique ids as Sigma spells them (attack.t1110.001)."""
    tags = [str(t) for t in values_of(alert, "tags")]
    tags += [f"attack.{str(t).lower()}" for t in values_of(alert, "threat.technique.id")]
    return tags


def _same(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return not isinstance(a, dict | list) and not isinstance(b, dict | list) and str(a) == str(b)


@dataclass
class Condition:
    """One test on one field; `negate` inverts it (an absent field never satisfies a test,
    so a negated test on an absent field holds)."""

    field: str
    op: str
    arg: Any
    negate: bool = False
    _compiled: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.op == "regex":
            self._compiled = compile_re2(str(self.arg))
        elif self.op == "glob":
            self._compiled = Globs(list(self.arg))
        elif self.op == "cidr":
            self._compiled = [n for a in self.arg for n in parse_network(str(a))]

    def _test(self, value: Any) -> bool:
        if self.op == "equals":
            return _same(value, self.arg)
        if self.op == "in":
            return any(_same(value, a) for a in self.arg)
        if self.op == "regex":
            return self._compiled.search(str(value)[:MAX_VALUE]) is not None
        if self.op == "glob":
            return bool(self._compiled.match(value))
        if self.op == "cidr":
            try:
                addr = parse_address(value)
            except Exception:  # noqa: BLE001 - not an address: the test does not hold
                return False
            return any(addr in n for n in self._compiled if isinstance(n, ipaddress.IPv4Network | ipaddress.IPv6Network)
                       and n.version == addr.version)
        raise AssertionError(self.op)

    def holds(self, alert: Mapping[str, Any]) -> bool:
        values = [v for v in values_of(alert, self.field) if v != ""]
        result = bool(values) == bool(self.arg) if self.op == "exists" else any(self._test(v) for v in values)
        return result != self.negate


def parse_condition(raw: Any, where: str) -> Condition:
    """`{field: F, <operator>: ARG, negate: bool}` with exactly one operator; ValueError otherwise."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a condition is a mapping like {{field: source.ip, cidr: [...]}}")
    unknown = set(raw) - {"field", "negate", *OPERATORS}
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; operators are {', '.join(OPERATORS)}")
    ops = [k for k in OPERATORS if k in raw]
    if len(ops) != 1:
        raise ValueError(f"{where}: give exactly one of {', '.join(OPERATORS)}")
    name, op, arg = raw.get("field"), ops[0], raw[ops[0]]
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: `field` must name an ECS field")
    if op in ("in", "cidr", "glob"):
        arg = [arg] if isinstance(arg, str) else arg
        if not isinstance(arg, list) or not arg:
            raise ValueError(f"{where}: `{op}` takes a non-empty list")
    if op == "exists" and not isinstance(arg, bool):
        raise ValueError(f"{where}: `exists` takes true or false")
    if not isinstance(raw.get("negate", False), bool):
        raise ValueError(f"{where}: `negate` takes true or false")
    try:
        return Condition(name, op, arg, bool(raw.get("negate", False)))
    except re2.error as exc:
        raise ValueError(f"{where}: regex {arg!r} is not valid RE2: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
