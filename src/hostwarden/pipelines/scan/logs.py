"""The log part of `hostwarden scan`: ingest what lies under <root>/var/log and summarise it.

It reports what the logs plainly are (sources, volumes, time span, parse coverage); what they
mean — brute force, web attacks, compromises — is the detection scanner's job, over the same store.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hostwarden.collect.discover import Skipped, classify
from hostwarden.collect.files import FileReader
from hostwarden.core.checkpoint import MemoryCheckpoints
from hostwarden.core.errors import (
    LOG_INPUT_BINARY,
    LOG_INPUT_NOT_FOLLOWED,
    LOG_INPUT_UNREADABLE,
    LOG_UNKNOWN_FORMAT,
)
from hostwarden.normalize.registry import hint_for_path, sniff_chunks
from hostwarden.normalize.source import context_for
from hostwarden.normalize.timezones import ZonePolicy
from hostwarden.pipelines.ingest import IngestStats, ingest_chunks
from hostwarden.scan.base import ScanContext
from hostwarden.scan.hostfacts import clock_zone
from hostwarden.scan.rootfs import RootFS
from hostwarden.store.eventstore import EventStore

# Binary or non-line files that live under /var/log.
SKIP_NAMES = {"wtmp", "btmp", "lastlog", "faillog", "utmp"}
SKIP_DIRS = frozenset({"journal", "private"})


def log_files(fs: RootFS) -> list[Path]:
    return walk_logs(fs)[0]


def walk_logs(fs: RootFS) -> tuple[list[Path], list[Skipped]]:
    """The text logs under /var/log as the real local paths FileReader opens, sorted, and beside
    them what was left out as (path, code, reason).

    Walked through the root's resolver (scan/rootfs.py): a /var/log that is a link resolves
    inside the root (an image's `/var/log -> /data/log` is the image's), no link below it is
    followed, FIFOs and devices are never opened, pseudo file systems are not entered and the
    walk is bounded (SCAN-9032). Each file is then classified as ingest classifies it
    (collect/discover.py): binaries and undecoded compression are skipped with LOG-4107, and a
    file under two names (a hard link) is read once.
    """
    files: list[Path] = []
    skipped: list[Skipped] = []
    seen: set[tuple[int, int]] = set()
    for _folder, dirs, others in fs.walk("/var/log"):
        dirs[:] = [d for d in dirs if d.name not in SKIP_DIRS]
        for entry in others:
            if entry.name.split(".")[0] in SKIP_NAMES:
                continue
            local = fs.local(entry.path, follow=False)
            if local is None:
                continue
            if entry.is_link:
                skipped.append((str(local), LOG_INPUT_NOT_FOLLOWED.code, "symlink, not followed"))
            elif not entry.is_file:
                skipped.append((str(local), LOG_INPUT_NOT_FOLLOWED.code, "not a regular file (FIFO, socket or device)"))
            elif (entry.st.st_dev, entry.st.st_ino) not in seen:
                seen.add((entry.st.st_dev, entry.st.st_ino))
                try:
                    why = classify(local)
                except OSError as exc:
                    skipped.append((str(local), LOG_INPUT_UNREADABLE.code, f"cannot read it: {exc.strerror or exc}"))
                    continue
                if why is None:
                    files.append(local)
                else:
                    skipped.append((str(local), LOG_INPUT_BINARY.code, why))
    return sorted(files), skipped


class LogScanner:
    name = "logs"

    def __init__(self) -> None:
        self.summary: dict[str, Any] = {}

    def scan(self, ctx: ScanContext) -> list[dict[str, Any]]:
        files, walk_skipped = walk_logs(ctx.fs)
        if not files:
            self.summary = {"files": 0}
            return []
        tmp = None
        data_dir = ctx.data_dir or (Path(ctx.options["scratch_dir"]) if ctx.options.get("scratch_dir") else None)
        if data_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="hostwarden-scan-")
            data_dir = Path(tmp.name)
        # zone-less times: --timezone / the config, else the zone the scanned root's own clock is in
        # (its /etc/localtime, read through the root's resolver like every scanner read)
        zones = (ctx.options.get("zones") or ZonePolicy()).under(ctx.root, clock_zone(ctx.fs))
        try:
            with EventStore(data_dir) as store:
                stats = IngestStats()
                skipped: list[dict[str, str]] = [{"path": p, "reason": reason} for p, _, reason in walk_skipped]
                for p, code, reason in walk_skipped:
                    ctx.notice(code, f"skipped {p}: {reason}")
                for path in files:
                    reader = FileReader(path, MemoryCheckpoints(), allow_streams=False)
                    try:
                        # A file no parser understands is skipped with the reason, not stored as failures.
                        verdict, chunks = sniff_chunks(reader.read_chunks(), hint_for_path(str(path)))
                        if verdict.parser is None:
                            skipped.append({"path": str(path), "reason": verdict.reason})
                            ctx.notice(LOG_UNKNOWN_FORMAT.code, f"skipped {path} ({verdict.reason})")
                        else:
                            ingest_chunks(store, chunks, ctx=context_for(str(path), _mtime(path), zones), stats=stats,
                                          hint=verdict.parser, overlap=True)
                    except OSError as exc:
                        ctx.notice(LOG_INPUT_UNREADABLE.code, f"cannot read {path}: {exc}")
                    ctx.notices.extend(getattr(reader, "notices", []))
                self.summary = {**_summary(store, files, stats), "skipped": skipped}
                return []  # what the logs mean is the detection scanner's job (scan/detections.py)
        finally:
            if tmp is not None:
                tmp.cleanup()


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _summary(store: EventStore, files: list[Path], stats: IngestStats) -> dict[str, Any]:
    paths = [str(p) for p in files]
    per_file = store.query(
        'SELECT "log.file.path", count(*), min("@timestamp"), max("@timestamp"), '
        "count(*) FILTER (WHERE list_contains(tags, 'parse_failure')) "
        'FROM events WHERE list_contains($1, "log.file.path") GROUP BY 1 ORDER BY 1',
        [paths],
    )
    return {
        "files": len(files),
        "lines": stats.lines,
        "events": stats.events,
        "parse_failures": stats.parse_failures,
        "by_dataset": dict(sorted(stats.by_dataset.items())),
        "sources": [
            {"path": p, "events": n, "first": str(lo) if lo else None, "last": str(hi) if hi else None, "parse_failures": pf}
            for p, n, lo, hi, pf in per_file
        ],
    }
