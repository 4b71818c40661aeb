"""Batch ingest: collect → normalize → store for files and streams, parse and append overlapped.

Every input line ends up in the store, understood or tagged `parse_failure`; chunks are stored,
counted and checkpointed strictly in order, so a crash resumes without loss or doubles.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from queue import Queue
from typing import Any

from hostwarden.core.chunks import Chunk
from hostwarden.core.locks import held
from hostwarden.core.schema import DEFAULT_TENANT
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.registry import SNIFF_LINES, hint_for_path, sniff
from hostwarden.normalize.source import SourceNormalizer, context_for
from hostwarden.normalize.state import ParseState
from hostwarden.normalize.timezones import ZonePolicy
from hostwarden.store.eventstore import STAGE

# Chunks parsed side by side during a backlog ingest. DuckDB runs a chunk's plan on about one
# core, so two parsers beside the writer keep both cores of a small machine busy.
PARSE_THREADS = 2


@dataclass
class IngestStats:
    lines: int = 0  # input lines read
    events: int = 0  # events produced (auditd coalesces several lines into one)
    stored: int = 0
    parse_failures: int = 0
    by_dataset: dict[str, int] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)
    # What readers did not hand on, counted (empty_lines, truncated_lines, truncated_bytes): with
    # `lines`, every input line is accounted for.
    dropped: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)  # inputs not read, with the reason

    def add_dropped(self, counts: dict[str, int]) -> None:
        for what, n in counts.items():
            self.dropped[what] = self.dropped.get(what, 0) + n

    def add_counts(self, rows: list[tuple[str | None, int, int]], stored: int) -> None:
        """rows: (dataset, lines, parse failures) as counted by the store's SQL."""
        self.stored += stored
        for dataset, lines, failures in rows:
            self.events += lines
            self.parse_failures += failures
            key = dataset or "unknown"
            self.by_dataset[key] = self.by_dataset.get(key, 0) + lines


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
    zones: ZonePolicy | None = None,
    states: dict[str, ParseState] | None = None,
) -> IngestStats:
    """Normalize and store chunks (of any number of sources). `on_stored(chunk)` runs after each
    chunk is durably stored: collectors save their checkpoint there (at-least-once + dedupe).

    With `overlap` (a backlog: files, not a live tail) PARSE_THREADS threads parse the next
    chunks while this one appends chunk n. A chunk's plan runs on about one core and the
    parse costs about three times the append, so one parser left a core a third idle. Chunks
    are still stored, counted and checkpointed strictly in order, and a parse error surfaces
    when its chunk's turn comes.

    `ctx` reads every source; without it each source gets its own context, its zone-less times
    read in the zone `zones` gives it (UTC without a policy). `states`, by source: the parse
    state each source starts from (an earlier run's, where it stopped), updated in place.
    """
    stats = stats or IngestStats()
    parser = _ChunkParser(ctx, hint, zones, states)
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

    def __init__(self, ctx: ParseContext | None, hint: str | None, zones: ZonePolicy | None = None,
                 states: dict[str, ParseState] | None = None) -> None:
        self.ctx = ctx
        self.hint = hint
        self.zones = zones
        self.states = {} if states is None else states
        self.normalizers: dict[str, SourceNormalizer] = {}
        self._lock = threading.Lock()

    def parse(self, chunk: Chunk, con: Any, out: str, after: Future[str] | None = None) -> str:
        with held(self._lock, "the parser table"):
            norm = self.normalizers.get(chunk.source)
            if norm is None:
                sample = [ln.text for ln in Chunk(chunk.source, 0, chunk.data[: 64 * 1024]).lines()[:SNIFF_LINES]]
                chosen = sniff(sample, self.hint or hint_for_path(chunk.source))
                norm = SourceNormalizer(chunk.source, chosen, self.ctx or context_for(chunk.source, zones=self.zones),
                                        self.states.setdefault(chunk.source, ParseState()))
                self.normalizers[chunk.source] = norm
        return norm.normalize_into(chunk, con, out, after=after)


def _store_parsed(store: Any, chunk: Chunk, out: str, tenant: str, stats: IngestStats, on_stored: Any) -> None:
    try:
        counts = store.con.execute(
            f'SELECT "event.dataset", count(*), count(*) FILTER (WHERE list_contains(tags, \'parse_failure\')) '
            f"FROM {out} GROUP BY 1"
        ).fetchall()
        # ids hash the file's content identity, so another name for the same file dedupes
        stored = store.append_table(out, source=chunk.source, tenant=tenant, identity=chunk.identity or None)
    finally:
        store.con.execute(f"DROP TABLE IF EXISTS {out}").fetchall()
    stats.add_counts(counts, stored)
    stats.lines += chunk.data.count(b"\n") + (0 if not chunk.data or chunk.data.endswith(b"\n") else 1)
    if on_stored is not None:
        on_stored(chunk)
