"""Columnar access-log parsing: web.py's patterns and post-processing, run inside DuckDB.

Per line in Python an access log parses at a few thousand lines/s; here one RE2 pass picks the
pattern and a second extracts its groups, over the whole chunk on every core.

The plan decides only what it can decide exactly like `web.event_from_groups`. Lines it cannot
(no pattern matches, a time not in the canonical `dd/Mon/yyyy:HH:MM:SS +zzzz` form, an IPv6
client) come out tagged `needs_line`,
and the pipeline hands exactly those lines to the per-line parser: relayed syslog lines, odd
time zones and the rest stay the reference implementation's business. tests/unit/normalize/
test_bulk_web_agrees.py checks the two paths event by event.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from hostwarden.core.schema import FIELD_BY_NAME
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.patterns import sql_string, table_kind
from hostwarden.normalize.state import ParseState
from hostwarden.normalize.web import ACCESS_PATTERNS, dataset_hint

NEEDS_LINE = "needs_line"  # tag on rows the per-line parser must redo
_CANONICAL_TIME = r"^[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}$"
_IPV4 = r"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$"
_GROUPS = (
    "source__ip", "user__name", "timestamp", "message", "http__request__method", "url__original", "url__path",
    "url__query", "http__version", "http__response__status_code", "http__response__body__bytes",
    "http__request__referrer", "user_agent__original", "url__domain", "destination__port",
)
# The everyday combined line with nothing to unescape: no `"`, `\\`, `[` or `]` inside a field,
# a full `METHOD target HTTP/x` request, referrer and agent last. When this capture-free regex
# matches, ACCESS_COMBINED matches too (it is tried first) and its groups are exactly what
# splitting on spaces and quotes gives, so the costly capturing pass is skipped (~5 µs a line).
_PLAIN_COMBINED = (
    r'^[^ "\[\]\\]+ [^ "\[\]\\]+ [^ "\[\]\\]+ \[[^\]"\\]+\] '
    r'"[A-Z][A-Z_-]{0,19} [^ "?\\]*(?:\?[^ "\\]*)? HTTP/[0-9](?:\.[0-9])?" '
    r'(?:[0-9]{3}|-) (?:[0-9]+|-) "[^"\\]*" "[^"\\]*"$'
)
# Over the columns `req` (the request line), `target` and `tail` (' status bytes ') that a
# subquery cuts once.
_PLAIN_GROUPS = {
    "source__ip": "split_part(original, ' ', 1)",
    "user__name": "split_part(original, ' ', 3)",
    "timestamp": "split_part(split_part(original, '[', 2), ']', 1)",
    "message": "req",
    "http__request__method": "split_part(req, ' ', 1)",
    "url__original": "target",
    "url__path": "split_part(target, '?', 1)",
    # A group that took no part is '' in regexp_extract: same here.
    "url__query": "CASE WHEN contains(target, '?') THEN substr(target, strpos(target, '?') + 1) ELSE '' END",
    "http__version": "substr(split_part(req, ' ', 3), 6)",
    "http__response__status_code": "split_part(tail, ' ', 2)",
    "http__response__body__bytes": "split_part(tail, ' ', 3)",
    "http__request__referrer": "split_part(original, '\"', 4)",
    "user_agent__original": "split_part(original, '\"', 6)",
    "url__domain": "''",
    "destination__port": "''",
}


def _names(regex: str) -> list[str]:
    import re

    index = re.compile(regex).groupindex
    return sorted(index, key=index.__getitem__)


def _absent(expr: str) -> str:
    return f"(COALESCE({expr}, '') IN ('', '-'))"


def _unescaped(expr: str) -> str:
    """web._unescape: absent when empty or `-`, else Apache's `\\"` and `\\\\` undone."""
    return (f"CASE WHEN {_absent(expr)} THEN NULL WHEN NOT contains({expr}, '\\') THEN {expr} "
            f"ELSE regexp_replace({expr}, '\\\\([\"\\\\])', '\\1', 'g') END")


class BulkAccess:
    """Compiled once; `parse` runs on an Arrow table (off, original, line_tags)."""

    deferred_tag = NEEDS_LINE  # the pipeline re-parses rows with this tag through the line parser

    def __init__(self) -> None:
        for _, regex in ACCESS_PATTERNS:
            unknown = set(_names(regex)) - set(_GROUPS)
            if unknown:  # a new group in web.py needs its post-processing here too
                raise ValueError(f"access pattern groups without a bulk mapping: {sorted(unknown)}")
        struct = "STRUCT(" + ", ".join(f'"{g}" VARCHAR' for g in _GROUPS) + ")"
        fallback = " ".join(
            f"WHEN regexp_matches(original, {sql_string(regex)}) THEN CAST(regexp_extract(original, "
            f"{sql_string(regex)}, [{', '.join(sql_string(n) for n in _names(regex))}]) AS {struct})"
            for _, regex in ACCESS_PATTERNS
        )
        # Plain lines are cut column by column and the rest run the capturing regexes: two scans
        # rather than one CASE, whose per-column branch merging costs as much as the cutting.
        plain_test = f"regexp_matches(original, {sql_string(_PLAIN_COMBINED)})"
        cut = ", ".join(f'{_PLAIN_GROUPS[g]} AS "{g}"' for g in _GROUPS)
        self._groups_sql = (
            f"SELECT off, original, line_tags, {cut} FROM (SELECT *, split_part(req, ' ', 2) AS target FROM "
            f"(SELECT *, split_part(original, '\"', 2) AS req, split_part(original, '\"', 3) AS tail "
            f"FROM hw_raw WHERE {plain_test})) UNION ALL BY NAME "
            f"SELECT off, original, line_tags, g.* FROM (SELECT off, original, line_tags, CASE {fallback} END AS g "
            f"FROM hw_raw WHERE NOT {plain_test})"
        )

    def parse(self, con: duckdb.DuckDBPyConnection, raw: pa.Table, ctx: ParseContext, out: str = "hw_out") -> str:
        dataset = dataset_hint(ctx.source)
        dataset = dataset if dataset.endswith("access") else "web.access"
        con.register("hw_raw", raw)
        try:
            con.execute(f"CREATE OR REPLACE {table_kind(out)} {out} AS {self._final_sql()}", [dataset]).fetchall()
        finally:
            con.unregister("hw_raw")
        return out

    def extract(self, con: duckdb.DuckDBPyConnection, raw: pa.Table, ctx: ParseContext, out: str = "hw_out") -> str:
        return self.parse(con, raw, ctx, out)

    def carry(self, con: duckdb.DuckDBPyConnection, out: str, state: ParseState) -> None:
        """Access-log lines carry nothing to later lines."""

    def _final_sql(self) -> str:
        ts_ok = f"regexp_matches(COALESCE(trim(timestamp), ''), {sql_string(_CANONICAL_TIME)})"
        ts = "try_strptime(trim(timestamp), '%d/%b/%Y:%H:%M:%S %z')"
        client = "COALESCE(source__ip, '')"
        is_v4 = f"regexp_matches({client}, {sql_string(_IPV4)})"
        decided = (
            f"timestamp IS NOT NULL AND {ts_ok} AND {ts} IS NOT NULL AND NOT contains({client}, ':')"
        )
        has_method = "COALESCE(http__request__method, '') <> ''"
        status = "CASE WHEN NOT " + _absent("http__response__status_code") + " THEN CAST(http__response__status_code AS INTEGER) END"
        own_tags = f"CASE WHEN NOT ({decided}) THEN ['{NEEDS_LINE}'] WHEN NOT {has_method} THEN ['malformed_request'] END"
        method_field = f"CASE WHEN {has_method} THEN {{}} END"
        columns = {
            "@timestamp": f"CASE WHEN {decided} THEN {ts} END",
            "event.kind": "'event'",
            "event.category": "['web']",
            "event.type": "['access']",
            "event.action": "'http_request'",
            "event.outcome": f"CASE WHEN {status} >= 400 THEN 'failure' WHEN {status} IS NOT NULL THEN 'success' END",
            "event.dataset": "$1",
            "event.original": "original",
            "message": _unescaped("message"),
            "tags": (f"CASE WHEN line_tags IS NULL THEN {own_tags} "
                     f"ELSE list_sort(list_distinct(list_concat(line_tags, COALESCE({own_tags}, [])))) END"),
            "log.offset": "off",
            "source.ip": f"CASE WHEN {is_v4} THEN {client} END",
            "source.domain": f"CASE WHEN NOT {is_v4} AND {client} NOT IN ('', '-') THEN {client} END",
            "url.domain": f"CASE WHEN {_unescaped('url__domain')} IS NOT NULL THEN url__domain END",
            "destination.port": "CAST(NULLIF(destination__port, '') AS INTEGER)",
            "user.name": f"CASE WHEN NOT {_absent('user__name')} THEN user__name END",
            "http.response.status_code": status,
            "http.response.body.bytes": (
                "CASE WHEN NOT " + _absent("http__response__body__bytes")
                + " THEN TRY_CAST(http__response__body__bytes AS BIGINT) END"),
            "http.request.referrer": _unescaped("http__request__referrer"),
            "user_agent.original": _unescaped("user_agent__original"),
            "http.request.method": method_field.format("http__request__method"),
            "url.original": method_field.format(_unescaped("url__original")),
            "url.path": method_field.format(_unescaped("url__path")),
            "url.query": method_field.format(_unescaped("url__query")),
            "http.version": method_field.format("NULLIF(http__version, '')"),
        }
        projected = ", ".join(f'CAST({expr} AS {FIELD_BY_NAME[name].sql}) AS "{name}"' for name, expr in columns.items())
        return f"SELECT {projected} FROM ({self._groups_sql})"
