"""Pattern matching that runs in time linear in the text, whatever the pattern says.

Rule text is written by people we do not trust, and so are the log lines it runs on: a pattern
like `(a+)+$` takes Python's backtracking `re` exponential time on the right line. Rule regexes
therefore run on RE2 (google-re2), the engine and dialect DuckDB's bulk path uses, so both
executors also agree on what a pattern means. Wildcard globs (`*foo*bar*`) are matched by
segment search, which is linear and several times faster than a regex call per value.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is reported by the caller, with the rule's name
_OPTIONS.max_mem = 32 << 20  # a compiled pattern may not take more; bigger ones fail to compile

RegexError = re2.error


def compile_regex(pattern: str) -> Any:
    """RE2-compile `pattern`; `RegexError` when RE2 refuses it (lookaround, backreferences …)."""
    return re2.compile(pattern, options=_OPTIONS)


def split_glob(pattern: str) -> tuple[list[str], str]:
    """A Sigma wildcard string as its literal runs and the unescaped wildcards (`*`, `?`) between
    them, in order: `a*b?c` → (["a", "b", "c"], "*?"). `\\` escapes `*`, `?` and itself."""
    parts, wildcards, current, i = [], [], [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*?\\":
            current.append(pattern[i + 1])
            i += 2
            continue
        if ch in "*?":
            parts.append("".join(current))
            wildcards.append(ch)
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts, "".join(wildcards)


def glob_segments(pattern: str) -> list[str] | None:
    """A Sigma wildcard string split at its unescaped `*`; None when it has a `?` (a regex does it)."""
    parts, wildcards = split_glob(pattern)
    return None if "?" in wildcards else parts


@cache
def _fold_table() -> dict[int, str]:
    """Lowercase letters whose RE2 case-fold class has another canonical member (ſ ~ s, ς ~ σ,
    ϑ ~ θ …): RE2's `(?i)` uses Unicode simple case folding, `str.lower` alone does not."""
    table = {}
    for cp in range(0x20000):
        c = chr(cp)
        low = c.lower()
        if len(low) != 1:
            continue
        folded = c.casefold()
        canon = folded if len(folded) == 1 else low  # simple folding never expands (ß stays ß)
        if canon != low:
            table[ord(low)] = canon
    return table


def fold_like_re2(text: str) -> str:
    """`text` as RE2's case-insensitive matching sees it, so a folded comparison here agrees with
    a `(?i)` regex in DuckDB (the bulk path) on every input, not just ASCII."""
    low = text.lower()
    return low if low.isascii() else low.translate(_fold_table())


def segment_matcher(parts: list[str], fold: Callable[[str], str]) -> Callable[[str], bool]:
    """Full match of `head*mid*…*tail`: head is a prefix, tail a suffix, each middle part found
    left to right in between (leftmost is always right for `*`-only patterns)."""
    parts = [fold(p) for p in parts]
    if len(parts) == 1:
        only = parts[0]
        return lambda s: fold(s) == only
    head, *middle, tail = parts
    least = len(head) + len(tail)

    def match(text: str) -> bool:
        s = fold(text)
        if len(s) < least or not s.startswith(head) or not s.endswith(tail):
            return False
        pos, end = len(head), len(s) - len(tail)
        for part in middle:
            found = s.find(part, pos, end)
            if found < 0:
                return False
            pos = found + len(part)
        return True

    return match
