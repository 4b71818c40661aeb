"""`hostwarden ingest` as a whole: read the inputs, store them, detect over what was stored, and
send the alerts down the alert path.

Detection runs over every stored event of the ingested sources (a re-ingest sees the same events
and computes the same alert ids), but only alerts the store does not hold yet are emitted: a
second ingest of the same file never raises its alerts again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostwarden.collect.files import FileReader
from hostwarden.collect.stdin import read_stdin_chunks
from hostwarden.core.chunks import Chunk
from hostwarden.core.config import Config
from hostwarden.core.errors import LOG_INPUT_UNREADABLE, HostwardenError
from hostwarden.core.records import Alert
from hostwarden.core.sink import AlertPath, SinkContext
from hostwarden.detect.alerts import ALERT_SOURCE
from hostwarden.detect.batch import detect_store
from hostwarden.detect.settings import DetectSettings
from hostwarden.normalize.source import context_for
from hostwarden.pipelines.alertpath import build_alert_path
from hostwarden.pipelines.ingest import IngestStats, ingest_chunks
from hostwarden.store.eventstore import EventStore
from hostwarden.store.sink import bind


@dataclass
class IngestResult:
    stats: IngestStats
    alerts: list[Alert] = field(default_factory=list)  # raised by this ingest
    known_alerts: int = 0  # found again, already stored by an earlier ingest

    @property
    def notices(self) -> list[dict[str, Any]]:
        return self.stats.notices


@dataclass
class Progress:
    """Callbacks for a progress display; the job works the same without them."""

    started: Callable[[str, int], None] = lambda path, size: None
    advanced: Callable[[str, int], None] = lambda path, nbytes: None


def run_ingest(
    cfg: Config,
    files: Sequence[str],
    *,
    dataset: str | None = None,
    journald: bool = False,
    detect: bool = True,
    progress: Progress | None = None,
    sink_context: SinkContext | None = None,
) -> IngestResult:
    """Ingest `files` ("-" is stdin) into the store at `cfg.data_dir`, then detect; a file that
    cannot be read becomes a notice and the others go on."""
    progress = progress or Progress()
    stats = IngestStats()
    chunk_bytes = cfg.ingest.chunk_mb << 20
    with EventStore(cfg.data_dir, lock_timeout=cfg.lock_timeout_seconds) as store:
        if journald:
            from hostwarden.collect.journald import JournalReader

            journal = JournalReader(store)
            ingest_chunks(store, journal.read_chunks(), hint="journald", tenant=cfg.tenant, stats=stats,
                          on_stored=journal.commit)
            stats.notices.extend(journal.notices)
        for path in files:
            if path == "-":
                ingest_chunks(store, read_stdin_chunks(chunk_bytes=chunk_bytes), hint=dataset, tenant=cfg.tenant,
                              stats=stats)
                continue
            _ingest_file(store, cfg, path, dataset, chunk_bytes, stats, progress)
        result = IngestResult(stats)
        if detect:
            path_ctx = sink_context or SinkContext(mode="ingest")
            path_ctx.tenant, path_ctx.data_dir = cfg.tenant, cfg.data_dir
            bind(path_ctx, store, cfg.tenant)
            path_ctx.sections = cfg.extra
            alert_path = build_alert_path(path_ctx)
            try:
                _detect(store, cfg, list(files), alert_path, result)
            finally:
                alert_path.close()
                stats.notices.extend(alert_path.notices)
    return result


def _ingest_file(store: EventStore, cfg: Config, path: str, dataset: str | None, chunk_bytes: int,
                 stats: IngestStats, progress: Progress) -> None:
    try:
        size = Path(path).stat().st_size
        mtime = Path(path).stat().st_mtime
    except OSError as exc:
        stats.notices.append({"code": LOG_INPUT_UNREADABLE.code, "message": f"cannot read {path}: {exc.strerror}",
                              "path": path})
        return
    progress.started(path, size)
    reader = FileReader(Path(path), store, chunk_bytes=chunk_bytes)

    def stored(chunk: Chunk) -> None:
        reader.commit(chunk)
        progress.advanced(path, len(chunk.data))

    try:
        ingest_chunks(store, reader.read_chunks(), ctx=context_for(path, mtime), overlap=True, hint=dataset,
                      tenant=cfg.tenant, stats=stats, on_stored=stored)
    except HostwardenError as exc:
        stats.notices.append({"code": exc.code.code, "message": exc.message, "path": path})
    except OSError as exc:
        stats.notices.append({"code": LOG_INPUT_UNREADABLE.code, "message": f"cannot read {path}: {exc}", "path": path})
    stats.notices.extend(getattr(reader, "notices", []))


def _detect(store: EventStore, cfg: Config, files: list[str], alert_path: AlertPath, result: IngestResult) -> None:
    """Batch detection over the events of these sources; new alerts go down the alert path."""
    ruleset = DetectSettings.from_section(cfg.extra.get("detect")).load()
    paths = [p for p in files if p != "-"] + (["-"] if "-" in files else [])
    found = detect_store(store, ruleset, tenant=cfg.tenant, paths=paths, append=False).alerts
    known = stored_alert_ids(store, [a["event.id"] for a in found])
    result.alerts = [Alert.from_ecs(a) for a in found if a["event.id"] not in known]
    result.known_alerts = len(found) - len(result.alerts)
    alert_path.emit(result.alerts)


def stored_alert_ids(store: EventStore, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = store.query('SELECT "event.id" FROM events WHERE "log.file.path" = ? AND list_contains(?, "event.id")',
                       [ALERT_SOURCE, ids])
    return {r[0] for r in rows}
