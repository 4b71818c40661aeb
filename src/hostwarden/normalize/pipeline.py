"""collect → normalize → store for files and streams: sniff the source, parse, append.

Each source is sniffed once on its first lines (the best-scoring parser wins, falling back to
syslog framing with per-line parse_failure records). Formats that have a columnar plan
(the syslog family) take the DuckDB path; the rest parse per line. Either way every input line
ends up in the store, understood or tagged `parse_failure`.
"""

from __future__ import annotations

import importlib
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from queue import Queue
from typing import Any

import pyarrow as pa

from hostwarden.collect.chunks import Chunk
from hostwarden.normalize.base import ParseContext, Parser
from hostwarden.normalize.patterns import table_kind
from hostwarden.schema import ARROW_SCHEMA, DEFAULT_TENANT, FIELDS, to_arrow
from hostwarden.store.hot import STAGE

SNIFF_LINES = 50
# Chunks parsed side by side during a backlog ingest. DuckDB runs a chunk's plan on about one
# core, so two parsers beside the writer keep both cores of a small machine busy.
PARSE_THREADS = 2

# (dataset hint, "module:Class"), in sniffing priority order.
PARSERS: tuple[tuple[str, str], ...] = (
    ("syslog", "hostwarden.normalize.syslog:SyslogParser"),
    ("auditd", "hostwarden.normalize.auditd:AuditdParser"),
    ("web.access", "hostwarden.normalize.web:AccessLogParser"),
    ("web.error", "hostwarden.normalize.web:ErrorLogParser"),
    ("journald", "hostwarden.normalize.journald:JournaldParser"),  # before json: its records are JSON too
    ("json", "hostwarden.normalize.jsonl:JsonLinesParser"),
)


def available_parsers() -> dict[str, type]:
    """Every built-in parser. A parser that fails to import is a bug, so it is not skipped."""
    found: dict[str, type] = {}
    for name, target in PARSERS:
        module_name, _, cls = target.partition(":")
        found[name] = getattr(importlib.import_module(module_name), cls)
    return found


def hint_for_path(path: str) -> str | None:
    """A likely parser from the file name; sniffing still has to agree."""
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith((".json", ".jsonl", ".ndjson")) or ".json." in name:
        return "json"
    if "audit" in name:
        return "auditd"
    if "access" in name:
        return "web.access"
    if "error" in name and any(w in path.lower() for w in ("nginx", "apache", "httpd")):
        return "web.error"
    return None


def sniff(sample: list[str], hint: str | None = None) -> str:
    """Name of the parser that understands most of the sample.

    Ties go to the earlier entry of PARSERS (the more specific format: journald before json) and
    a name-based hint wins only when it is among the best and nothing more specific ties with it.
    """
    parsers = available_parsers()
    lines = [s for s in sample if s.strip()][:SNIFF_LINES]
    if not lines:
        return hint if hint in parsers else "syslog"  # type: ignore[return-value]
    scores = {name: _score(cls, lines) for name, cls in parsers.items()}
    best = max(scores.values())
    if best <= 0:
        return hint if hint in parsers else "syslog"  # type: ignore[return-value]
    leaders = [name for name, score in scores.items() if score >= best - 1e-9]
    if hint in leaders and leaders[0] in (hint, "syslog"):
        return hint  # type: ignore[return-value]
    return leaders[0]


def _score(cls: type, lines: list[str]) -> float:
    try:
        return float(cls().sniff(lines))
    except Exception:  # a parser's sniff must not break ingest of a file it doesn't own
        return 0.0


def reparse_failures(events: list[dict[str, Any]], lines: dict[int, Any], ctx: ParseContext, tried: str) -> list[dict[str, Any]]:
    """Give lines the chosen parser did not understand to the other line parsers (mixed files)."""
    others = [cls() for name, cls in available_parsers().items() if name != tried and hasattr(cls, "parse_line")]
    out = []
    for ev in events:
        if "parse_failure" in (ev.get("tags") or []) and ev.get("log.offset") in lines:
            line = lines[ev["log.offset"]]
            for parser in others:
                parsed = parser.parse_batch([line], ctx)[0]
                if "parse_failure" not in (parsed.get("tags") or []):
                    ev = parsed
                    break
        out.append(ev)
    return out


@dataclass
class IngestStats:
    lines: int = 0  # input lines read
    events: int = 0  # events produced (auditd coalesces several lines into one)
    stored: int = 0
    parse_failures: int = 0
    by_dataset: dict[str, int] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)

    def add_counts(self, rows: list[tuple[str | None, int, int]], stored: int) -> None:
        """rows: (dataset, lines, parse failures) as counted by the store's SQL."""
        self.stored += stored
        for dataset, lines, failures in rows:
            self.events += lines
            self.parse_failures += failures
            key = dataset or "unknown"
            self.by_dataset[key] = self.by_dataset.get(key, 0) + lines


class SourceNormalizer:
    """Parses the chunks of one source with one parser, keeping that parser's state."""

    def __init__(self, source: str, parser_name: str, ctx: ParseContext) -> None:
        self.source = source
        self.parser_name = parser_name
        self.ctx = ctx
        self.parser: Parser = available_parsers()[parser_name]()
        self._bulk = _bulk_plan(parser_name)

    def normalize_into(
        self, chunk: Chunk, con: Any, out: str = "hw_out", *, bulk_min_lines: int = 2000, after: Future[str] | None = None
    ) -> str:
        """Parse a chunk into table `out` on `con` (TEMP, or in the stage DB when qualified).
        `after`: the parse of this source's previous chunk, which the line parsers wait for."""
        if self._bulk is not None and chunk.data.count(b"\n") >= bulk_min_lines:
            self._bulk.parse(con, chunk.to_arrow(), self.ctx, out)
            _wait(after)
            self._redo_per_line(chunk, con, out)
            return out
        _wait(after)
        lines = chunk.lines()
        events = self.parser.parse_batch(lines, self.ctx)
        if any("parse_failure" in (ev.get("tags") or []) for ev in events):
            events = reparse_failures(events, {ln.offset: ln for ln in lines}, self.ctx, self.parser_name)
        table = to_arrow(events)
        con.register("hw_rows", table)
        try:
            con.execute(f"CREATE OR REPLACE {table_kind(out)} {out} AS SELECT * FROM hw_rows").fetchall()
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


def context_for(source: str, mtime: float | None = None) -> ParseContext:
    ref = datetime.fromtimestamp(mtime, UTC) if mtime is not None else datetime.now(UTC)
    return ParseContext(source=source, reference_time=ref)


def ingest_chunks(
    store: Any,
    chunks: Iterable[Chunk],
    *,
    ctx: ParseContext | None = None,
    hint: str | None = None,
    tenant: str = DEFAULT_TENANT,
    stats: IngestStats | None = None,
    on_stored: Any = None,
    overlap: bool = False,
) -> IngestStats:
    """Normalize and store chunks (of any number of sources). `on_stored(chunk)` runs after each
    chunk is durably stored: collectors save their checkpoint there (at-least-once + dedupe).

    With `overlap` (a backlog: files, not a live tail) PARSE_THREADS threads parse the next
    chunks while this one appends chunk n. A chunk's plan runs on about one core and the
    parse costs about three times the append, so one parser left a core a third idle. Chunks
    are still stored, counted and checkpointed strictly in order, and a parse error surfaces
    when its chunk's turn comes.
    """
    stats = stats or IngestStats()
    parser = _ChunkParser(ctx, hint)
    if not overlap:
        for chunk in chunks:
            _store_parsed(store, chunk, parser.parse(chunk, store.con, STAGED_OUT), tenant, stats, on_stored)
        return stats
    with _one_thread_per_statement(store.con):
        return _ingest_overlapped(store, chunks, parser, tenant, stats, on_stored)


@contextmanager
def _one_thread_per_statement(con: Any) -> Iterator[None]:
    """The parser threads and the writer each run their own statement at once, so DuckDB's own
    worker threads only oversubscribe the cores (measured: 5-12% slower). Restored after."""
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    con.execute("SET threads = 1").fetchall()
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(threads)}").fetchall()


def _ingest_overlapped(store: Any, chunks: Iterable[Chunk], parser: _ChunkParser, tenant: str, stats: IngestStats,
                       on_stored: Any) -> IngestStats:
    pending: deque[tuple[Chunk, Future[str]]] = deque()
    # Each parser thread takes its own connection to the same database (TEMP tables and
    # registered Arrow tables are per connection).
    cursors: Queue[Any] = Queue()
    for _ in range(PARSE_THREADS):
        cursors.put(store.con.cursor())
    previous: dict[str, Future[str]] = {}

    def parse(chunk: Chunk, out: str, after: Future[str] | None) -> str:
        cursor = cursors.get()
        try:
            return parser.parse(chunk, cursor, out, after)
        finally:
            cursors.put(cursor)

    with ThreadPoolExecutor(max_workers=PARSE_THREADS, thread_name_prefix="hw-parse") as pool:
        try:
            for seq, chunk in enumerate(chunks):
                out = f"{STAGE}.batch_{seq}"
                future = pool.submit(parse, chunk, out, previous.get(chunk.source))
                previous[chunk.source] = future
                pending.append((chunk, future))
                if len(pending) > PARSE_THREADS:
                    done, oldest = pending.popleft()
                    _store_parsed(store, done, oldest.result(), tenant, stats, on_stored)
            while pending:
                done, oldest = pending.popleft()
                _store_parsed(store, done, oldest.result(), tenant, stats, on_stored)
        finally:
            for _, future in pending:  # an earlier failure: let the parsers finish, then drop their output
                with suppress(Exception):  # the original error is the one to report
                    store.con.execute(f"DROP TABLE IF EXISTS {future.result()}").fetchall()
            while not cursors.empty():
                cursors.get().close()
    return stats


STAGED_OUT = f"{STAGE}.batch"


class _ChunkParser:
    """Sniffs each source on its first chunk and keeps one SourceNormalizer per source.

    Safe to call from several threads: the columnar part of two chunks of one source runs side
    by side, while the line parsers (which may carry state from one chunk to the next) take the
    chunks of a source strictly in order, each waiting for `after`, the previous one.
    """

    def __init__(self, ctx: ParseContext | None, hint: str | None) -> None:
        self.ctx = ctx
        self.hint = hint
        self.normalizers: dict[str, SourceNormalizer] = {}
        self._lock = threading.Lock()

    def parse(self, chunk: Chunk, con: Any, out: str, after: Future[str] | None = None) -> str:
        with self._lock:
            norm = self.normalizers.get(chunk.source)
            if norm is None:
                sample = [ln.text for ln in Chunk(chunk.source, 0, chunk.data[: 64 * 1024]).lines()[:SNIFF_LINES]]
                chosen = sniff(sample, self.hint or hint_for_path(chunk.source))
                norm = SourceNormalizer(chunk.source, chosen, self.ctx or context_for(chunk.source))
                self.normalizers[chunk.source] = norm
        return norm.normalize_into(chunk, con, out, after=after)


def _store_parsed(store: Any, chunk: Chunk, out: str, tenant: str, stats: IngestStats, on_stored: Any) -> None:
    try:
        counts = store.con.execute(
            f'SELECT "event.dataset", count(*), count(*) FILTER (WHERE list_contains(tags, \'parse_failure\')) '
            f"FROM {out} GROUP BY 1"
        ).fetchall()
        stored = store.append_table(out, source=chunk.source, tenant=tenant)
    finally:
        store.con.execute(f"DROP TABLE IF EXISTS {out}").fetchall()
    stats.add_counts(counts, stored)
    stats.lines += chunk.data.count(b"\n") + (0 if not chunk.data or chunk.data.endswith(b"\n") else 1)
    if on_stored is not None:
        on_stored(chunk)
