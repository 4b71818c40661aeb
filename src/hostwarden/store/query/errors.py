"""Search errors that point at the offending column of the query.

A query is typed on one line, so the most useful error repeats that line with a caret under the
spot. The column is 1-based (what an editor shows) and also travels as `context["position"]` so
the console can highlight it.
"""

from __future__ import annotations

from hostwarden.core.errors import LOG_SEARCH_SYNTAX, ErrorCode, HostwardenError


def _printable(query: str) -> str:
    # Tabs and newlines would shift the caret; show them as single spaces so columns line up.
    return "".join(" " if (ch.isspace() or not ch.isprintable()) else ch for ch in query)


def shown(text: str, limit: int = 40) -> str:
    """A user value quoted for a message, cut short so an error stays readable."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


_WINDOW = 60  # characters shown either side of the caret in a long query


def query_error(query: str, offset: int, message: str, code: ErrorCode = LOG_SEARCH_SYNTAX) -> HostwardenError:
    """Build (not raise) a HostwardenError for the 0-based `offset` into `query`."""
    offset = max(0, min(offset, len(query)))
    column = offset + 1
    start = max(0, offset - _WINDOW)
    shown = _printable(query[start:offset + _WINDOW])
    lead = "…" if start else ""
    tail = "…" if offset + _WINDOW < len(query) else ""
    text = (
        f"{message} at column {column}\n"
        f"  {lead}{shown}{tail}\n"
        f"  {' ' * (len(lead) + offset - start)}^"
    )
    return HostwardenError(code, text, position=column)
