"""One source's parse: its parser and state, and the columnar plan where its format has one.

Formats that have a columnar plan (the syslog family, access logs) take the DuckDB path; the
rest parse per line. Either way every input line ends up in the output table, understood or
tagged `parse_failure`.
"""

from __future__ import annotations

from concurrent.futures import Future
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from hostwarden.core.chunks import Chunk
from hostwarden.core.schema import ARROW_SCHEMA, FIELDS, to_arrow
from hostwarden.normalize.base import ParseContext, Parser
from hostwarden.normalize.patterns import table_kind
from hostwarden.normalize.registry import available_parsers, reparse_failures
from hostwarden.normalize.state import ParseState
from hostwarden.normalize.timezones import ZonePolicy


class SourceNormalizer:
    """Parses the chunks of one source with one parser, carrying the source's `ParseState` from
    each chunk to the next, whichever executor (per line or columnar) reads a chunk."""

    def __init__(self, source: str, parser_name: str, ctx: ParseContext, state: ParseState | None = None) -> None:
        self.source = source
        self.parser_name = parser_name
        self.ctx = ctx
        self.state = state if state is not None else ParseState()
        self.parser: Parser = available_parsers()[parser_name]()
        self._bulk = _bulk_plan(parser_name)

    def normalize_into(
        self, chunk: Chunk, con: Any, out: str = "hw_out", *, bulk_min_lines: int = 2000, after: Future[str] | None = None
    ) -> str:
        """Parse a chunk into table `out` on `con` (TEMP, or in the stage DB when qualified).
        `after`: the parse of this source's previous chunk, which the line parsers wait for."""
        if self._bulk is not None and chunk.data.count(b"\n") >= bulk_min_lines:
            self._bulk.extract(con, chunk.to_arrow(), self.ctx, out)
            _wait(after)
            self._redo_per_line(chunk, con, out)
            self._bulk.carry(con, out, self.state)
            return out
        _wait(after)
        lines = chunk.lines()
        events = self.parser.parse_batch(lines, self.ctx, self.state)
        if any("parse_failure" in (ev.get("tags") or []) for ev in events):
            events = reparse_failures(events, {ln.offset: ln for ln in lines}, self.ctx, self.parser_name)
        table = to_arrow(events)
        # Like the columnar plans, only the columns this chunk fills (and those every reader of
        # a parsed chunk asks for): the store writes each column it is given.
        filled = ", ".join(f'"{name}"' for name in table.column_names
                           if name in ALWAYS_COLUMNS or table.column(name).null_count < table.num_rows)
        con.register("hw_rows", table)
        try:
            con.execute(f"CREATE OR REPLACE {table_kind(out)} {out} AS SELECT {filled} FROM hw_rows").fetchall()
        finally:
            con.unregister("hw_rows")
        return out

    def _redo_per_line(self, chunk: Chunk, con: Any, out: str) -> None:
        """Lines the columnar plan left to the per-line parsers: the syslog plan's parse failures
        (another parser may know them: mixed files), the access plan's `needs_line` rows (its
        own parser first, always). Past 100,000 syslog failures in one chunk the file is not what
        was sniffed, and they stay failures rather than crawling through every other parser."""
        deferred = getattr(self._bulk, "deferred_tag", None)  # a plan that leaves lines to its parser
        redo_self = deferred is not None
        tag = deferred or "parse_failure"
        limit = "" if redo_self else "LIMIT 100001"
        failed = con.execute(f'SELECT "log.offset" FROM {out} WHERE list_contains(tags, $1) {limit}', [tag]).fetchall()
        if not failed or (not redo_self and len(failed) > 100_000):
            return
        wanted = {row[0] for row in failed}
        lines = {ln.offset: ln for ln in chunk.lines() if ln.offset in wanted}
        ordered = [lines[o] for o in sorted(lines)]
        if redo_self:
            events = reparse_failures(self.parser.parse_batch(ordered, self.ctx), lines, self.ctx, self.parser_name)
        else:
            events = [ev for ev in reparse_failures(
                [{"log.offset": ln.offset, "tags": ["parse_failure"]} for ln in ordered], lines, self.ctx, "syslog")
                if "parse_failure" not in (ev.get("tags") or [])]
        if not events:
            return
        fixed = to_arrow(events)
        con.register("hw_fixed", fixed)
        try:
            # The plan's table holds only the columns it fills; the line parsers may fill others.
            have = {row[0] for row in con.execute(f"DESCRIBE {out}").fetchall()}
            used = [f for f in FIELDS if f.name not in have and fixed.column(f.name).null_count < fixed.num_rows]
            for spec in used:
                con.execute(f'ALTER TABLE {out} ADD COLUMN "{spec.name}" {spec.sql}').fetchall()
            columns = ", ".join(f'"{name}"' for name in [*have, *(f.name for f in used)])
            con.execute(f'DELETE FROM {out} WHERE "log.offset" IN (SELECT "log.offset" FROM hw_fixed)').fetchall()
            con.execute(f"INSERT INTO {out} BY NAME SELECT {columns} FROM hw_fixed").fetchall()
        finally:
            con.unregister("hw_fixed")

    def normalize(self, chunk: Chunk, con: Any) -> pa.Table:
        """The same, as an Arrow table (for streaming consumers and tests)."""
        name = self.normalize_into(chunk, con, "hw_norm")
        try:
            return _with_source(con.execute(f"SELECT * FROM {name}").to_arrow_table(), self.source)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {name}").fetchall()


ALWAYS_COLUMNS = frozenset(("@timestamp", "event.id", "event.dataset", "event.original", "log.offset", "tags",
                            "source.ip", "source.port", "user.name"))
_BULK: dict[str, Any] = {}
COLUMNAR_PARSERS = ("syslog", "web.access")


def has_columnar_plan(parser_name: str) -> bool:
    return parser_name in COLUMNAR_PARSERS


def _bulk_plan(parser_name: str) -> Any:
    """The columnar plan for a parser, compiled once per process; None when it has none."""
    if not has_columnar_plan(parser_name):
        return None
    if parser_name not in _BULK:
        if parser_name == "syslog":
            from hostwarden.normalize.bulk import BulkSyslog

            _BULK[parser_name] = BulkSyslog()
        else:
            from hostwarden.normalize.bulk_web import BulkAccess

            _BULK[parser_name] = BulkAccess()
    return _BULK[parser_name]


def _wait(future: Future[str] | None) -> None:
    if future is not None:
        with suppress(Exception):  # its own failure is reported when its turn comes
            future.result()


def _with_source(table: pa.Table, source: str) -> pa.Table:
    idx = ARROW_SCHEMA.get_field_index("log.file.path")
    column = pa.array([source] * table.num_rows, pa.string())
    return table.set_column(idx, ARROW_SCHEMA.field(idx), column)


def context_for(source: str, mtime: float | None = None, zones: ZonePolicy | None = None) -> ParseContext:
    """How to read a source: year-less dates near its mtime (else now), zone-less times in the
    zone `zones` gives it (normalize.timezones); without a policy, UTC."""
    ref = datetime.fromtimestamp(mtime, UTC) if mtime is not None else datetime.now(UTC)
    return ParseContext(source=source, reference_time=ref, tz=zones.for_source(source) if zones is not None else UTC)
