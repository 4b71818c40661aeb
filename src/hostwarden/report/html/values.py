"""Structured evidence as labelled values a person can read, instead of a JSON dump.

A producer's evidence details are nested JSON of any shape. Shown here by shape, not by producer:
a scalar as itself, a list of scalars joined, a mapping of plain values as inline `key value`
pairs, a list of such mappings as a small table (a firewall rule list, YARA string matches, an
alert's events). Anything deeper nests the same way up to a depth, then shows as compact JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hostwarden.report.html.text import MAX_FIELDS, MAX_LIST, esc, fmt_number, is_empty

MAX_DEPTH = 3
MAX_COLUMNS = 8
MAX_ROWS = 20


def scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return fmt_number(value)
    return str(value)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, Mapping | list | tuple)


def _is_plain_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(_is_scalar(v) for v in value)


def value_html(value: Any, depth: int = 0) -> str:
    """One evidence value as HTML, by its shape (every piece of text escaped)."""
    if _is_scalar(value):
        return esc(scalar_text(value))
    if _is_plain_list(value):
        return esc([scalar_text(v) for v in value])
    if depth >= MAX_DEPTH:
        return esc(json.dumps(value, default=str, ensure_ascii=False))
    if isinstance(value, Mapping):
        pairs = [(k, v) for k, v in value.items() if not is_empty(v)]
        return '<span class="pairs">' + "".join(
            f'<span class="pair"><span class="pk">{esc(k)}</span> {value_html(v, depth + 1)}</span>'
            for k, v in pairs) + "</span>"
    rows = [v for v in value if not is_empty(v)]
    if all(isinstance(v, Mapping) for v in rows):
        return _table(rows, depth)
    return '<ol class="vals">' + "".join(f"<li>{value_html(v, depth + 1)}</li>" for v in rows[:MAX_ROWS]) + "</ol>"


def _table(rows: Sequence[Mapping[str, Any]], depth: int) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [str(k) for k, v in row.items() if str(k) not in columns and not is_empty(v)]
    shown = columns[:MAX_COLUMNS]
    head = "".join(f"<th>{esc(c)}</th>" for c in shown)
    body = "".join("<tr>" + "".join(f"<td>{value_html(r.get(c), depth + 1) if not is_empty(r.get(c)) else ''}</td>"
                                    for c in shown) + "</tr>" for r in rows[:MAX_ROWS])
    more = len(rows) - MAX_ROWS
    tail = f'<tr><td colspan="{len(shown)}" class="muted">… {more} more in the raw JSON</td></tr>' if more > 0 else ""
    return f'<div class="tw"><table class="vt"><thead><tr>{head}</tr></thead><tbody>{body}{tail}</tbody></table></div>'


def labelled(pairs: Sequence[tuple[str, Any]]) -> str:
    """Top-level (label, value) pairs as a definition list, at most MAX_FIELDS of them."""
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{value_html(v)}</dd>" for k, v in pairs[:MAX_FIELDS])
    more = (f'<dt>…</dt><dd class="muted">{len(pairs) - MAX_FIELDS} more in the raw JSON</dd>'
            if len(pairs) > MAX_FIELDS else "")
    return f'<dl class="kv">{rows}{more}</dl>'


def scalars_in(value: Any) -> Iterable[str]:
    """Every plain value inside `value`, as shown text: what a card already says."""
    if isinstance(value, Mapping):
        for v in value.values():
            yield from scalars_in(v)
    elif isinstance(value, list | tuple):
        if _is_plain_list(value):
            yield ", ".join(scalar_text(v) for v in value[:MAX_LIST])
        for v in value:
            yield from scalars_in(v)
    elif not is_empty(value):
        yield scalar_text(value)
