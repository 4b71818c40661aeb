"""Comparing a value seen on the host with what a check expects.

One vocabulary for every check kind, so `numeric compare`, `one of` and `must not contain
weak ciphers` read the same in a policy whatever the value came from.
"""

from __future__ import annotations

import re
from typing import Any

NUMERIC = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
           "==": "==", "!=": "!="}
OPS = set(NUMERIC) | {"eq", "ne", "in", "not_in", "regex", "not_regex", "contains_none", "contains_all"}


def _number(value: Any) -> float | None:
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def compare(seen: str, op: str, expected: Any) -> bool:
    """True when `seen` satisfies `op expected`. Text comparisons ignore case, as daemons do."""
    if op in NUMERIC:
        a, b = _number(seen), _number(expected)
        if a is None or b is None:
            return False
        sym = NUMERIC[op]
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[sym]
    low = seen.strip().lower()
    if op == "eq":
        return low == str(expected).lower()
    if op == "ne":
        return low != str(expected).lower()
    if op in ("in", "not_in"):
        inside = low in {str(x).lower() for x in _as_list(expected)}
        return inside if op == "in" else not inside
    if op in ("regex", "not_regex"):
        hit = re.search(str(expected), seen, re.IGNORECASE) is not None
        return hit if op == "regex" else not hit
    items = {x.strip().lower() for x in re.split(r"[,\s]+", low) if x.strip()}
    wanted = {str(x).lower() for x in _as_list(expected)}
    if op == "contains_none":
        return not items & wanted
    if op == "contains_all":
        return wanted <= items
    raise ValueError(f"unknown comparison {op!r}")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set) else [value]


def describe(op: str, expected: Any) -> str:
    return f"{op} {expected}"
