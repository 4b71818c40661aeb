"""Data made inert for HTML, and the small shapes (labels, flattened fields) the page shows.

Everything the report shows is written by someone else: log lines, file contents, package names,
advisory text. So every value goes through `esc` on its way into the page: markup escaped (quotes
too, so it is safe inside an attribute), control characters and bidirectional overrides written out
visibly as the terminal printer does (`report.terminal.inert`), and lone surrogates (a file name
that was not UTF-8) written out too, so the page can always be encoded. Ids and class names are
never taken from data: `slug` reduces a name to [a-z0-9-].
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

from hostwarden.report.terminal import inert

_SURROGATE = re.compile("[\ud800-\udfff]")
_SLUG = re.compile(r"[^a-z0-9]+")
MAX_FIELDS = 40  # labelled evidence fields on one card; the raw JSON below it has everything
MAX_LIST = 12  # items of one list shown inline


def text(value: Any, *, keep_newlines: bool = True) -> str:
    """`value` as display text: datetimes in UTC-ish ISO form, lists joined, controls visible."""
    if isinstance(value, datetime):
        value = value.isoformat(sep=" ", timespec="seconds")
    elif isinstance(value, list | tuple | set | frozenset):
        items = [text(v) for v in value]
        value = ", ".join(items[:MAX_LIST]) + (f", … ({len(items) - MAX_LIST} more)" if len(items) > MAX_LIST else "")
    shown = inert(value, keep_newlines=keep_newlines)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", shown)


def esc(value: Any, *, keep_newlines: bool = True) -> str:
    """For element content or a quoted attribute value."""
    return html.escape(text(value, keep_newlines=keep_newlines), quote=True)


def slug(name: Any, taken: set[str] | None = None) -> str:
    """An id-safe name ([a-z0-9-]); unique within `taken` when given (which it then joins)."""
    base = _SLUG.sub("-", str(name).lower()).strip("-")[:40] or "x"
    out, n = base, 2
    while taken is not None and out in taken:
        out, n = f"{base}-{n}", n + 1
    if taken is not None:
        taken.add(out)
    return out


def label(key: str) -> str:
    """A summary key as a label: `parse_failures` → `parse failures`."""
    return key.replace("_", " ")


def is_empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, list | tuple | dict) and not value)


def fmt_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)
