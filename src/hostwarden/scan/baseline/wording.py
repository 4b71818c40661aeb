"""The row text of a failed check: what is wrong, the value that shows it, and where it was seen.

A check's title names the state it wants ("No UID 0 account other than root"), which reads as a
pass on a row that is a failure. The row says the problem instead, with the first piece of
evidence: "UID 0 account other than root: sysupdate:x:0:0::/root:/bin/bash (/etc/passwd:27)".
It stays one line and short enough for a table (long values end in an ellipsis); the finding's
evidence keeps every item in full, and `rule.name` keeps the title.
"""

from __future__ import annotations

import re
from typing import Any

from hostwarden.scan.baseline.model import Check, Evidence, Outcome

VALUE_MAX = 80  # characters of the value shown; the evidence has all of it
WHERE_MAX = 80
NOTE_MAX = 30  # a longer note is cut to its first clause, or left to the evidence


def failure_message(check: Check, outcome: Outcome) -> str:
    """`<problem>: <value> (<where>)`, plus "and N more" when several items failed."""
    items = _shown(outcome.evidence)
    text = check.problem_text
    if not items:
        return text
    first = items[0]
    if first.value:
        text += f": {_cut(_labelled(check.spec, _one_line(first.value)), VALUE_MAX)}"
    where = _where(first)
    if where:
        text += f" ({where})"
    if len(items) > 1:
        text += f" and {len(items) - 1} more"
    return text


def _shown(evidence: list[Evidence]) -> list[Evidence]:
    """Distinct items that point at something (a value or a file); one with a value or line number first."""
    seen: dict[tuple[str | None, int | None, str | None], Evidence] = {}
    for e in evidence:
        if e.value or e.file:
            seen.setdefault((e.file, e.line, e.value), e)
    items = list(seen.values())
    return sorted(items, key=lambda e: not (e.value or e.line))  # stable: keeps the evaluator's order


def _labelled(spec: dict[str, Any], value: str) -> str:
    """`PermitRootLogin yes` rather than a bare `yes`, when every alternative of the check reads one key.

    A list setting judged by `contains_none` shows the entries it must not contain ("aes256-cbc
    in Ciphers"): a cut-off list of twenty ciphers would hide the one at fault.
    """
    leaves = list(_leaves(spec))
    keys = {(leaf.get("kind"), leaf.get("key")) for leaf in leaves}
    if len(keys) != 1:
        return value
    kind, key = next(iter(keys))
    if kind == "config":
        forbidden = _forbidden(leaves[0], value)
        return f"{', '.join(forbidden)} in {key}" if forbidden else f"{key} {value}"
    if kind == "sysctl":
        return f"{key} = {value}"
    return value


def _forbidden(spec: dict[str, Any], value: str) -> list[str]:
    """The entries of a list value that a `contains_none` comparison forbids (split and matched as it does)."""
    if spec.get("op") != "contains_none":
        return []
    expected = spec.get("value")
    wanted = {str(x).lower() for x in (expected if isinstance(expected, list) else [expected])}
    return [x for x in re.split(r"[,\s]+", value) if x and x.lower() in wanted]


def _leaves(spec: dict[str, Any]) -> Any:
    if spec.get("kind") in ("any", "all"):
        for sub in spec.get("checks", []):
            yield from _leaves(sub)
    else:
        yield spec


def _where(e: Evidence) -> str:
    """`file:line`, or the file; a value seen on no line gets its short note ("not set; default applies")."""
    parts = []
    if e.file:
        parts.append(f"{e.file}:{e.line}" if e.line else e.file)
    if e.value and not e.line and e.note:
        note = _one_line(e.note)
        if len(note) > NOTE_MAX:
            note = note.split(":", 1)[0].split(";", 1)[0].strip()
        if note and len(note) <= NOTE_MAX:
            parts.append(note)
    return _cut(_one_line(", ".join(parts)), WHERE_MAX)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
