"""Text from data made inert for a terminal: the one escaping step every printer uses.

Log lines, file contents, package names and rule text are written by attackers. On a terminal,
an ESC sequence could retitle the window, clear the screen or recolour an alert away, and Rich
markup (`[/b]`, `[link=…]`) would crash the printer or render a live link. So data shown on a
terminal has its control characters (C0, DEL, C1) and bidirectional overrides written out as
visible escapes (`\\x1b`, `\\u202e`), and its markup escaped before Rich sees it.
"""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape
from rich.text import Text

# C0 controls except tab, DEL, C1 controls, and the Unicode bidi embeddings/overrides/isolates.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_UNSAFE_KEEP_NEWLINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(value: Any, *, keep_newlines: bool = False) -> str:
    """`value` as text with every control character written out visibly."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    return (_UNSAFE_KEEP_NEWLINES if keep_newlines else _UNSAFE).sub(_visible, text)


def markup(value: Any) -> str:
    """For interpolation into a Rich markup string: inert, and its brackets escaped."""
    return escape(inert(value))


def cell(value: Any, *, keep_newlines: bool = False) -> Text:
    """For a Rich table cell or a plain print: a Text, which Rich never parses as markup."""
    return Text(inert(value, keep_newlines=keep_newlines))
