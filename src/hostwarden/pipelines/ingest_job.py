"""`hostwarden ingest` as a whole: read the inputs, store them, detect over what was stored, and
send the alerts down the alert path.

Detection runs over every stored event of the ingested sources (a re-ingest sees the same events
and computes the same alert ids), but only alerts the store does not hold yet are emitted: a
second ingest of the same file never raises its alerts again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostwarden.collect.files import FileReader
from hostwarden.collect.lines import dropped_notices
from hostwarden.collect.stdin import read_stdin_chunks
from hostwarden.core.chunks import Chunk
from hostwarden.core.config import Config
from hostwarden.core.errors import LOG_INPUT_UNREADABLE, LOG_UNKNOWN_FORMAT, HostwardenError
from hostwarden.core.records import Alert
from hostwarden.core.sink import AlertPath, SinkContext
from hostwarden.detect.alerts import ALERT_SOURCE
from hostwarden.detect.batch import detect_store
from hostwarden.detect.settings import DetectSettings
from hostwarden.normalize.registry import hint_for_path, sniff_chunks
from hostwarden.normalize.source import context_for
from hostwarden.normalize.timezones import ZonePolicy
from hostwarden.pipelines.alertpath import build_alert_path
from hostwarden.pipelines.carried import CarriedState
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
    found: Sequence[str] = (),
    skipped: Sequence[tuple[str, str, str]] = (),
    zones: ZonePolicy | None = None,
) -> IngestResult:
    """Ingest `files` ("-" is stdin) into the store at `cfg.data_dir`, then detect; a file that
    cannot be read becomes a notice and the others go on. `found`: those of `files` that came
    from walking a folder rather than being named; one of no known format is skipped with the
    reason (a file the user named is stored anyway, its lines tagged parse_failure). `skipped`:
    inputs the walk already left out (binary, undecoded), reported as notices. `zones`: the zone
    of each source's zone-less times (--timezone; default: the config's, else this host's)."""
    progress = progress or Progress()
    zones = zones or ZonePolicy.from_config(cfg.ingest)
    stats = IngestStats()
    for path, code, reason in skipped:
        stats.skipped.append({"path": path, "reason": reason})
        stats.notices.append({"code": code, "message": f"skipped {path}: {reason}", "path": path})
    chunk_bytes = cfg.ingest.chunk_mb << 20
    limits = {"chunk_bytes": chunk_bytes, "max_line_bytes": cfg.ingest.max_line_kb << 10}
    walked = set(found)
    with EventStore(cfg.data_dir, lock_timeout=cfg.lock_timeout_seconds) as store:
        if journald:
            from hostwarden.collect.journald import JournalReader

            journal = JournalReader(store)
            ingest_chunks(store, journal.read_chunks(), hint="journald", tenant=cfg.tenant, stats=stats,
                          on_stored=journal.commit, zones=zones)
            stats.notices.extend(journal.notices)
        for path in files:
            if path == "-":
                dropped: dict[str, int] = {}
                ingest_chunks(store, read_stdin_chunks(**limits, dropped=dropped), hint=dataset, tenant=cfg.tenant,
                              stats=stats, zones=zones)
                stats.add_dropped(dropped)
                stats.notices.extend(dropped_notices("-", dropped, max_line_bytes=limits["max_line_bytes"]))
                continue
            _ingest_file(store, cfg, path, dataset, limits, stats, progress, zones, sniff_first=path in walked)
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


def _ingest_file(store: EventStore, cfg: Config, path: str, dataset: str | None, limits: dict[str, int],
                 stats: IngestStats, progress: Progress, zones: ZonePolicy, *, sniff_first: bool) -> None:
    try:
        size = Path(path).stat().st_size
        mtime = Path(path).stat().st_mtime
    except OSError as exc:
        stats.notices.append({"code": LOG_INPUT_UNREADABLE.code, "message": f"cannot read {path}: {exc.strerror}",
                              "path": path})
        return
    progress.started(path, size)
    reader = FileReader(Path(path), store, **limits)

    def stored(chunk: Chunk) -> None:
        reader.commit(chunk)
        progress.advanced(path, len(chunk.data))

    try:
        chunks: Iterable[Chunk] = reader.read_chunks()
        hint = dataset
        if sniff_first and dataset is None:
            verdict, chunks = sniff_chunks(chunks, hint_for_path(path))
            if verdict.parser is None:  # found in a folder, not a log we read: say so, store nothing
                stats.skipped.append({"path": path, "reason": verdict.reason})
                stats.notices.append({"code": LOG_UNKNOWN_FORMAT.code, "message": f"skipped {path} ({verdict.reason})",
                                      "path": path})
                return
            hint = verdict.parser
        carried = CarriedState(store, chunks)
        ingest_chunks(store, carried.chunks, ctx=context_for(path, mtime, zones), overlap=True, hint=hint,
                      tenant=cfg.tenant, stats=stats, on_stored=stored, states=carried.states)
        carried.save()
    except HostwardenError as exc:
        stats.notices.append({"code": exc.code.code, "message": exc.message, "path": path})
    except OSError as exc:
        stats.notices.append({"code": LOG_INPUT_UNREADABLE.code, "message": f"cannot read {path}: {exc}", "path": path})
    finally:
        stats.add_dropped(reader.dropped)
        if reader.skipped:
            stats.skipped.append({"path": path, "reason": reader.skipped})
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
