"""Search results (or any rows) as a terminal table, JSON or CSV.

JSON and CSV keep the data exact; a CSV cell that a spreadsheet would run as a formula (starting
with =, +, -, @, tab or carriage return) gets a leading apostrophe, as OWASP advises against
formula injection. The table shortens long values with an ellipsis and makes every value inert.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from hostwarden.report.terminal import cell

CELL_MAX = 160  # characters of one table cell; the full value is in --format json/csv
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def shorten(text: str, limit: int = CELL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_rows(names: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, *, out: TextIO, console: Console) -> None:
    if fmt == "json":
        out.write(json.dumps([dict(zip(names, r, strict=True)) for r in rows], default=str) + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([csv_safe(n) for n in names])
        writer.writerows([[csv_safe(v) for v in r] for r in rows])
        out.write(buf.getvalue())
    else:
        table = Table(show_lines=False)
        for n in names:
            table.add_column(cell(n), overflow="fold")
        for r in rows:
            table.add_row(*[cell("" if v is None else shorten(str(v))) for v in r])
        console.print(table)
