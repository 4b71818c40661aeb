"""`hostwarden watch`: follow log files and raise alerts the moment their lines are written.

Detection is one loop on one thread, so the order of lines is the order of detection; around
it, work that can run beside it does:

    reader thread: poll the files (the rotation-safe tailer), queue each new chunk
    → parse worker process (`parseworker`): the source's parser, chosen by the same sniffing
      as `ingest`, parses chunk k+1 while chunk k is being detected, and runs the base rules
    → this loop: every event and its matched rules through `Engine.feed_matched` (correlations,
      alerts) → each new alert printed and flushed at once → the chunk's events and the alerts
      handed to the store thread (`sink`)

Alerts are printed before anything is stored: the store write is the slow step and the alert
must not wait for it. Around that, on timers: rule files are checked for changes (`reload`),
state that can no longer matter is expired (often, so each pass is short), the state is saved
(`state`) together with the tail checkpoints of every chunk stored since the last save, so a
restart — clean or not — resumes with correlation windows and tail positions that agree, and
Python's full garbage-collector pass runs on a schedule (`collector`) instead of at random.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from hostwarden.collect.tailer import FileTailer
from hostwarden.core.chunks import Chunk
from hostwarden.core.config import Config
from hostwarden.core.errors import CSA_RULE_INVALID, HostwardenError
from hostwarden.core.locks import held
from hostwarden.core.records import Alert
from hostwarden.core.sink import SinkContext
from hostwarden.detect.correlate import epoch
from hostwarden.detect.engine import Engine
from hostwarden.detect.settings import DetectSettings
from hostwarden.normalize.registry import SNIFF_LINES, hint_for_path, sniff
from hostwarden.normalize.source import context_for
from hostwarden.normalize.timezones import ZonePolicy
from hostwarden.pipelines.alertpath import build_alert_path
from hostwarden.pipelines.watch.gcschedule import GcSchedule
from hostwarden.pipelines.watch.parseworker import (
    MAX_IN_FLIGHT,
    LocalParser,
    Matched,
    SourceParser,
    WorkerParser,
)
from hostwarden.pipelines.watch.reload import RuleReloader
from hostwarden.pipelines.watch.state import WatchCounters, load_state, save_state, write_status
from hostwarden.pipelines.watch.storewriter import LockedCheckpoints, StoreWriter
from hostwarden.store.eventstore import EventStore

POLL_SECONDS = 0.02  # idle wait between polls of the files: bounds the line → alert delay
CHUNK_BYTES = 1 << 20  # a backlog is worked through in 1 MB steps, so alerts keep flowing
MAX_QUEUED_CHUNKS = 4  # read and not yet handed to the parser: bounds memory when far behind
EXPIRE_SECONDS = 0.5  # how often state past its window is dropped: often, so each pass is short


class _Source(SourceParser):
    """A followed file: its parser (chosen by sniffing) and the context its lines are read in."""

    def __init__(self, path: str, parser_name: str, zones: ZonePolicy | None = None) -> None:
        super().__init__(path, parser_name, context_for(path, zones=zones))


class Watch:
    """The streaming detector; `run(stop)` until `stop` is set, then save and return counters."""

    def __init__(self, cfg: Config, paths: Sequence[str], extra_rules: Sequence[Path] = (), *, fmt: str = "text",
                 from_end: bool = False, dataset: str | None = None, out: TextIO | None = None,
                 err: TextIO | None = None, poll_seconds: float = POLL_SECONDS,
                 sink_options: Mapping[str, Any] | None = None, zones: ZonePolicy | None = None) -> None:
        self.cfg = cfg
        self.sink_options = dict(sink_options or {})
        # zone-less times: --timezone, else the config's per-source and default zones, else this host's
        self.zones = zones or ZonePolicy.from_config(cfg.ingest)
        self.settings = DetectSettings.from_section(cfg.extra.get("detect"))
        self.paths = list(paths)
        self.fmt = fmt
        self.from_end = from_end
        self.dataset = dataset
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.poll_seconds = poll_seconds
        self.reloader = RuleReloader(self.settings.rule_paths(list(extra_rules)), overrides=self.settings.overrides(),
                                     interval=self.settings.reload_interval_seconds)
        self.counters = WatchCounters(max_groups=self.settings.max_groups)
        self.sources: dict[str, _Source] = {}
        self.now = 0.0  # newest event time seen: the clock windows expire by

    # -- life cycle ------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> WatchCounters:
        ruleset = self.reloader.load()
        for file, title, reason in ruleset.errors:
            self._say(f"{CSA_RULE_INVALID.code}: {file}: {title}: {reason}".replace(": :", ":"))
        self.engine = Engine(ruleset, suppress_window=self.settings.suppress_window_seconds, tenant=self.cfg.tenant,
                             eager=False, max_groups=self.settings.max_groups, streaming=True)
        with EventStore(self.cfg.data_dir, lock_timeout=self.cfg.lock_timeout_seconds) as store:
            self.store = store
            # One DuckDB thread: the store writes a batch a second in the background, and must
            # not take the second core from detection to do it faster.
            store.con.execute("SET threads = 1").fetchall()
            saved = load_state(store)
            if saved is not None:
                self.engine.restore(saved.get("engine") or {})
                self.counters.events = int((saved.get("counters") or {}).get("events") or 0)
            self.sink = StoreWriter(store, self.cfg.tenant, commit=lambda chunks: self.tailer.commit_all(chunks))
            self.alert_path = build_alert_path(self._sink_context(), on_notice=lambda n: self._say(
                f"{n['code']}: {n['message']}"))
            self.tailer = FileTailer(self.paths, LockedCheckpoints(store, self.sink.lock), poll_interval=self.poll_seconds,
                                     chunk_bytes=CHUNK_BYTES, start_at_end=self.from_end,
                                     max_line_bytes=self.cfg.ingest.max_line_kb << 10)
            self.parsing: LocalParser | WorkerParser = LocalParser()
            if self.settings.parse_worker:
                try:
                    self.parsing = WorkerParser(on_failure=self._say)
                except OSError as exc:  # no process could be started: parse on this thread
                    self._say(f"parse worker not started ({exc}); parsing in watch's own thread")
            self._rules_generation = 0
            self.parsing.set_rules(self._rules_generation, self.engine.ruleset.base_rules)
            self.sink.start()
            self.counters.running = True
            self._update_counters()
            write_status(self.cfg.data_dir, self.counters)
            self._say(f"watching {', '.join(self.paths)} with {len(ruleset.rules)} rules "
                      f"(version {self.reloader.version}); Ctrl-C to stop")
            self._reader_error: BaseException | None = None
            try:
                with GcSchedule(self.settings.full_gc_idle_seconds, self.settings.full_gc_max_seconds) as self.collector:
                    self._loop(stop)
                if self._reader_error is not None:
                    raise self._reader_error
            finally:
                self.parsing.close()
                self.tailer.close()
                self.counters.running = False
                if self.sink.is_alive():
                    self._save(wait=True)
                self.alert_path.close()  # before the store thread stops: sinks may still write
                self.sink.close()
        return self.counters

    def _loop(self, stop: threading.Event) -> None:
        """Detection's side of the pipeline: reader thread → `inbox` → parser → rules. Chunks
        waiting in the inbox go to the parser before a parsed chunk is fed to the rules, so the
        parse worker (if on) parses the next chunk while this one is detected."""
        self._next_save = time.monotonic() + self.settings.state_interval_seconds
        self._next_expire = time.monotonic() + EXPIRE_SECONDS
        self.inbox: queue.Queue[Chunk] = queue.Queue(MAX_QUEUED_CHUNKS)
        reader = threading.Thread(target=self._follow, args=(stop,), name="hostwarden-watch-read", daemon=True)
        reader.start()
        try:
            while not stop.is_set():
                self._fill()
                idle = not self.parsing.pending
                if idle:
                    with contextlib.suppress(queue.Empty):  # nothing new: the timers below still run
                        self._submit(self.inbox.get(timeout=self.poll_seconds))
                else:
                    chunk, events, matched = self.parsing.next()
                    self._fill()
                    self._detect(chunk, events, matched)
                self._notices()
                self._reload()
                self._timers()  # while a backlog is worked through too: state keeps being saved
                self.collector.tick(idle=idle)
        finally:
            while reader.is_alive():  # it may be waiting for room in the inbox
                self._fill(everything=True)
                reader.join(timeout=0.02)
        self._fill(everything=True)  # what was read is detected (and stored) before stopping
        while self.parsing.pending:
            self._detect(*self.parsing.next())
            self._fill(everything=True)

    def _follow(self, stop: threading.Event) -> None:
        """The reader thread: poll the files, queue each new chunk (waiting while the queue is
        full: backpressure, nothing dropped)."""
        try:
            while not stop.is_set():
                produced = False
                for chunk in self.tailer.poll():
                    produced = True
                    self.inbox.put(chunk)  # the detecting thread drains the inbox, stopping or not
                    if stop.is_set():
                        break
                if not produced:
                    stop.wait(self.poll_seconds)
        except BaseException as exc:  # handed to the detecting thread, which stops with it
            self._reader_error = exc
            stop.set()

    def _fill(self, *, everything: bool = False) -> None:
        """Hand queued chunks to the parser, up to MAX_IN_FLIGHT unanswered (all, when stopping)."""
        while everything or self.parsing.pending < MAX_IN_FLIGHT:
            try:
                chunk = self.inbox.get_nowait()
            except queue.Empty:
                return
            self._submit(chunk)

    def _timers(self) -> None:
        now = time.monotonic()
        if now >= self._next_expire or now >= self._next_save:  # before a save too: less state to write
            self.engine.expire(self.now)  # absence windows judged at their end may raise alerts
            self._emit(self.engine.book.drain_new(), None)
            self._next_expire = now + EXPIRE_SECONDS
        if now >= self._next_save:
            self._save()
            self._next_save = time.monotonic() + self.settings.state_interval_seconds

    # -- the hot path ----------------------------------------------------------------------
    def _submit(self, chunk: Chunk) -> None:
        source = self.sources.get(chunk.source)
        if source is None:
            sample = [ln.text for ln in Chunk(chunk.source, 0, chunk.data[: 64 * 1024]).lines()[:SNIFF_LINES]]
            source = _Source(chunk.source, sniff(sample, self.dataset or hint_for_path(chunk.source)), self.zones)
            self.sources[chunk.source] = source
        self.parsing.submit(chunk, source.parser_name, source.ctx)

    def _detect(self, chunk: Chunk, events: list[dict[str, Any]], matched: Matched | None = None) -> None:
        source = self.sources[chunk.source]
        engine = self.engine
        book = engine.book
        # The worker ran the base rules already, unless they were reloaded since: then here.
        rule_ids = matched[1] if matched is not None and matched[0] == self._rules_generation else None
        by_id = engine.ruleset.by_ref
        for i, ev in enumerate(events):
            if rule_ids is None:
                engine.feed(ev)
            else:
                engine.feed_matched(ev, [by_id[rid] for rid in rule_ids[i]])
            if book.new:
                self._emit(book.drain_new(), {"path": chunk.source, "offset": ev.get("log.offset"),
                                              "event.id": ev["event.id"]})
        self.counters.events += len(events)
        if events:
            self.now = max(self.now, epoch(events[-1].get("@timestamp")))
        self.sink.events(chunk.source, events, chunk, parser=source.parser_name, ctx=source.ctx)

    def _emit(self, alerts: list[dict[str, Any]], trigger: dict[str, Any] | None) -> None:
        """New alerts down the alert path at once: the printer shows them, the store sink queues
        them behind the events they name (the store thread writes events first), response and
        incidents act on them."""
        if alerts:
            self.alert_path.emit([Alert.from_ecs(a, trigger) for a in alerts])

    # -- timers ----------------------------------------------------------------------------
    def _reload(self) -> None:
        try:
            new = self.reloader.poll(self.engine.ruleset)
        except HostwardenError as exc:
            self._say(f"{exc.code.code}: {exc.message}")
            write_status(self.cfg.data_dir, self._update_counters())
            return
        if new is None:
            return
        kept = self.engine.swap(new)
        self._rules_generation += 1
        self.parsing.set_rules(self._rules_generation, new.base_rules)
        self.collector.thaw()  # the old rule set was frozen at start: let it be reclaimed
        self._say(f"rules reloaded: {len(new.rules)} rules (version {self.reloader.version}), "
                  f"{kept} correlation windows kept")
        write_status(self.cfg.data_dir, self._update_counters())

    def _save(self, *, wait: bool = False) -> None:
        """Checkpoints of the stored chunks, the engine snapshot and updated alert details, in
        one transaction: after a crash they agree (see `state`). The snapshot is taken here,
        between two events; the store thread writes it after the chunks fed before it."""
        counters = dataclasses.replace(self._update_counters())  # a copy: this thread goes on counting
        snapshot = self.engine.capture()  # cheap here; made into data on the store thread
        dirty = self.engine.book.drain_dirty()
        updated = [(a["event.id"], a["hostwarden.detail"]) for a in dirty]
        store, data_dir = self.store, self.cfg.data_dir

        def work(con: Any) -> None:
            store.update_details(updated)
            counters.saved = time.time()
            save_state(store, snapshot, counters)
            write_status(data_dir, counters)

        self.sink.save(work, wait=wait)
        self.alert_path.update([Alert.from_ecs(a) for a in dirty])  # incidents follow their alerts' growth

    def _sink_context(self) -> SinkContext:
        def store_append(records: list[dict[str, Any]]) -> int:
            self.sink.alerts(records)  # queued behind the events already handed over
            return len(records)

        def store_read(sql: str, params: list[Any]) -> list[dict[str, Any]]:
            with held(self.sink.lock, "the store"):
                return self.store.query_arrow(sql, params).to_pylist()  # type: ignore[no-any-return]

        return SinkContext(mode="watch", tenant=self.cfg.tenant, data_dir=self.cfg.data_dir, store_append=store_append,
                           store_replace=self.sink.replace, store_read=store_read, out=self.out, fmt=self.fmt,
                           sections=self.cfg.extra, options=self.sink_options)

    def _update_counters(self) -> WatchCounters:
        c = self.counters
        c.alerts = self.engine.book.raised
        c.groups_open = self.engine.groups_open
        c.evictions = self.engine.evictions
        c.rules = len(self.engine.ruleset.rules)
        c.ruleset_version = self.reloader.version
        c.reloads = self.reloader.reloads
        c.last_reload = self.reloader.last_reload
        c.last_error = self.reloader.last_error
        return c

    def _notices(self) -> None:
        while self.tailer.notices:
            notice = self.tailer.notices.pop(0)
            self._say(f"{notice['code']}: {notice['message']}")

    def _say(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()


def run_watch(cfg: Config, paths: Sequence[str], extra_rules: Sequence[Path] = (), **options: Any) -> WatchCounters:
    """Run until SIGINT/SIGTERM; the state is saved on the way out."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return Watch(cfg, paths, extra_rules, **options).run(stop)
