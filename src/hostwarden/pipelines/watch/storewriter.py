"""The store side of `watch`, on its own thread, so an alert never waits for a store write.

The detecting thread hands over, in order, the events of each chunk, the alerts it raised and,
now and then, a state save. Chunks of a format with a columnar plan (syslog, access logs) are
parsed again here, inside DuckDB, and appended from there: turning 10,000 parsed dicts a second
into Arrow would hold the interpreter lock that detection needs, while DuckDB runs without it.
The plan gives the line parser's very events (agreement tests), carrying the source's
`ParseState` from batch to batch as the line parser does (sshd addresses and attempts). This
thread gathers events for up to FLUSH_SECONDS and then appends them, one append per source: an append has a fixed cost of several DuckDB statements, so one
a second costs far less than one per 20 ms poll, and leaves the CPU to detection. (The store
is behind by at most that second; alerts are not.) Order is
kept, so a save — tail checkpoints of the stored chunks, the engine snapshot, updated alert
details, in one transaction — always comes after the chunks it covers are stored.

Every use of the store connection, including the tailer reading a checkpoint when it opens a
file, goes through `lock`: a DuckDB connection is not for two threads at once.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from hostwarden.core.checkpoint import Checkpoint
from hostwarden.core.chunks import Chunk
from hostwarden.core.errors import CSA_LOCK_TIMEOUT, HostwardenError
from hostwarden.core.locks import LOCK_SECONDS, held, join
from hostwarden.core.schema import to_arrow
from hostwarden.detect.alerts import ALERT_SOURCE
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.source import SourceNormalizer, has_columnar_plan
from hostwarden.store import segments as seg
from hostwarden.store.eventstore import STAGE

QUEUE_MAX = 2048  # messages; past it the detecting thread waits (backpressure, nothing dropped)
COALESCE_EVENTS = 50_000  # events gathered into one append at most
FLUSH_SECONDS = 2.0  # events wait at most this long for their append (each columnar parse costs ~90 ms to plan)
# Small Parquet segments (one per flush at high rates) are merged when this thread has had
# nothing to do for IDLE_COMPACT_SECONDS, so a merge never competes with detection for the CPU;
# past FORCE_COMPACT_AT of them a merge runs anyway (a stream that never pauses).
IDLE_COMPACT_SECONDS = 5.0
FORCE_COMPACT_AT = 256
BACKGROUND_NICE = 10  # added to this thread's nice value (see background_priority)


@dataclass
class _Events:
    source: str
    events: list[dict[str, Any]]
    chunk: Chunk
    parser: str | None = None  # the source's parser: with a columnar plan, the store re-parses
    ctx: ParseContext | None = None


@dataclass
class _Alerts:
    alerts: list[dict[str, Any]]
    replace: bool = False  # rows that change as they grow (incidents): the latest version replaces


@dataclass
class _Save:
    work: Callable[[Any], None]  # runs inside the transaction, with the connection
    commits: list[Chunk] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


_FLUSH = _Alerts([])  # "the flush deadline passed" (never queued: `_run` makes it on a timeout)


class LockedCheckpoints:
    """The tailer's checkpoint store, with every call under the store lock."""

    def __init__(self, store: Any, lock: threading.RLock) -> None:
        self.store, self.lock = store, lock

    def load_checkpoint(self, key: str) -> Checkpoint | None:
        with held(self.lock, "the store"):
            return self.store.load_checkpoint(key)  # type: ignore[no-any-return]

    def save_checkpoint(self, cp: Checkpoint) -> None:
        with held(self.lock, "the store"):
            self.store.save_checkpoint(cp)

    def find_checkpoints(self, keys: list[str]) -> list[Checkpoint]:
        with self.lock:
            return self.store.find_checkpoints(keys)  # type: ignore[no-any-return]

    def last_checkpoint_at(self, path: str) -> Checkpoint | None:
        with self.lock:
            return self.store.last_checkpoint_at(path)  # type: ignore[no-any-return]


class StoreWriter(threading.Thread):
    """Writes events, alerts and saves to the store in the order they were handed over."""

    def __init__(self, store: Any, tenant: str, commit: Callable[[list[Chunk]], None]) -> None:
        super().__init__(name="hostwarden-watch-store", daemon=True)
        self.store, self.tenant, self.commit = store, tenant, commit
        self.lock = threading.RLock()  # re-entered: a save commits checkpoints through LockedCheckpoints
        self.queue: queue.Queue[_Events | _Alerts | _Save | None] = queue.Queue(QUEUE_MAX)
        self.error: BaseException | None = None
        self.stored = 0
        self.compacted = 0  # segments merged into bigger ones (EventStore.compact)
        self._uncommitted: list[Chunk] = []
        self._normalizers: dict[str, SourceNormalizer] = {}

    # -- the detecting thread's side -------------------------------------------------------
    def events(self, source: str, events: list[dict[str, Any]], chunk: Chunk, *, parser: str | None = None,
               ctx: ParseContext | None = None) -> None:
        self._put(_Events(source, events, chunk, parser, ctx))

    def alerts(self, alerts: list[dict[str, Any]]) -> None:
        if alerts:
            self._put(_Alerts(list(alerts)))

    def replace(self, rows: list[dict[str, Any]]) -> None:
        """Rows stored by id, each replacing its earlier version (incidents as they grow)."""
        if rows:
            self._put(_Alerts(list(rows), replace=True))

    def save(self, work: Callable[[Any], None], *, wait: bool = False) -> None:
        """Queue a state save (commits the checkpoints of every chunk stored before it)."""
        item = _Save(work)
        self._put(item)
        if wait:
            deadline = time.monotonic() + LOCK_SECONDS
            while not item.done.wait(0.1):
                if not self.is_alive():
                    break
                if time.monotonic() > deadline:
                    raise HostwardenError(CSA_LOCK_TIMEOUT, f"the store thread did not save within {LOCK_SECONDS:g}s")
        self._raise()

    def close(self) -> None:
        self._put(None)
        join(self, "the store thread")
        self._raise()

    def _put(self, item: _Events | _Alerts | _Save | None) -> None:
        self._raise()
        while True:
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if not self.is_alive():
                    self._raise()
                    return

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    # -- this thread -----------------------------------------------------------------------
    def run(self) -> None:
        background_priority()
        try:
            self._run()
        except BaseException as exc:  # handed to the detecting thread on its next call
            self.error = exc

    def _run(self) -> None:
        batch: list[_Events] = []
        alerts: list[dict[str, Any]] = []
        replacing: dict[str, dict[str, Any]] = {}
        size = 0
        due = 0.0
        while True:
            timeout = max(0.0, due - time.monotonic()) if batch or alerts or replacing else IDLE_COMPACT_SECONDS
            try:
                item = self.queue.get(timeout=timeout)
            except queue.Empty:
                if not batch and not alerts and not replacing:
                    self._compact(seg.COMPACT_AT)
                    continue
                item = _FLUSH
            if isinstance(item, _Events):
                if not batch and not alerts:
                    due = time.monotonic() + FLUSH_SECONDS
                batch.append(item)
                size += len(item.events)
                if size < COALESCE_EVENTS:
                    continue
            elif isinstance(item, _Alerts) and item is not _FLUSH:
                if not batch and not alerts and not replacing:
                    due = time.monotonic() + FLUSH_SECONDS
                if item.replace:
                    replacing.update((r["event.id"], r) for r in item.alerts)
                else:
                    alerts.extend(item.alerts)
                continue
            # a flush is due, or a save / the end needs everything before it stored
            self._store_events(batch, alerts)
            if replacing:
                with held(self.lock, "the store"):
                    self.store.replace(to_arrow(list(replacing.values())), tenant=self.tenant)
            batch, alerts, replacing, size = [], [], {}, 0
            self._compact(FORCE_COMPACT_AT)
            if isinstance(item, _Save):
                self._save(item)
            elif item is None:
                return

    def _compact(self, at_least: int) -> None:
        with held(self.lock, "the store"):
            self.compacted += self.store.compact(at_least=at_least)

    def _store_events(self, batch: list[_Events], alerts: list[dict[str, Any]]) -> None:
        """Events first, then the alerts that name them, then the chunks count as stored."""
        by_source: dict[tuple[str, str], list[_Events]] = {}
        for item in batch:  # a path and the content identity (a rotated file and the new one differ)
            by_source.setdefault((item.source, item.chunk.identity), []).append(item)
        for (source, identity), items in by_source.items():
            columnar = [i for i in items if i.parser is not None and i.ctx is not None and has_columnar_plan(i.parser)]
            if len(columnar) == len(items):
                self._append_columnar(source, items, identity)
            else:
                self._append([ev for i in items for ev in i.events], source, identity)
        self._append(alerts, ALERT_SOURCE)
        self._uncommitted.extend(item.chunk for item in batch)

    def _append(self, rows: list[dict[str, Any]], source: str, identity: str = "") -> None:
        if not rows:
            return
        table = to_arrow(rows)
        with held(self.lock, "the store"):
            self.stored += self.store.append(table, source=source, tenant=self.tenant, identity=identity or None)

    def _append_columnar(self, source: str, items: list[_Events], identity: str) -> None:
        first = items[0]
        assert first.parser is not None and first.ctx is not None
        norm = self._normalizers.get(source)
        if norm is None or norm.parser_name != first.parser:
            norm = self._normalizers[source] = SourceNormalizer(source, first.parser, first.ctx)
        out = f"{STAGE}.watch_batch"
        for chunk in _contiguous(items):
            with held(self.lock, "the store"):
                con = self.store.con
                try:
                    norm.normalize_into(chunk, con, out, bulk_min_lines=0)
                    self.stored += self.store.append_table(out, source=source, tenant=self.tenant,
                                                           identity=identity or None)
                finally:
                    con.execute(f"DROP TABLE IF EXISTS {out}").fetchall()

    def _save(self, item: _Save) -> None:
        with held(self.lock, "the store"):
            with self.store.transaction() as con:
                self.commit(self._uncommitted)  # the tailer writes through LockedCheckpoints: same thread
                item.work(con)
            self._uncommitted.clear()
        item.done.set()


def background_priority() -> None:
    """Lower the calling thread's CPU priority (Linux: nice is per thread). The store write and
    the state encoding can wait a moment; when the cores are short, detection should not."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: same priority
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE))


def _contiguous(items: list[_Events]) -> list[Chunk]:
    """Consecutive chunks of one source joined where each starts where the last ended (one
    columnar parse per run instead of one per 20 ms poll). Pieces are gathered and joined once:
    appending to the joined bytes chunk by chunk copied a second's worth of data ~100 times."""
    runs: list[list[Chunk]] = []
    for item in items:
        chunk = item.chunk
        if runs:
            last = runs[-1][-1]
            if (last.end_offset == chunk.base_offset and not last.skipped and last.tags == chunk.tags
                    and last.identity == chunk.identity and last.data.endswith(b"\n")):
                runs[-1].append(chunk)
                continue
        runs.append([chunk])
    return [pieces[0] if len(pieces) == 1 else
            replace(pieces[0], data=b"".join(c.data for c in pieces), skipped=pieces[-1].skipped)
            for pieces in runs]
