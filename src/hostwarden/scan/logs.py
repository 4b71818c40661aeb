"""The log part of `hostwarden scan`: ingest what lies under <root>/var/log and summarise it.

Detection proper is the detect/ stage; this scanner reports what the logs plainly say
(sources, volumes, parse coverage) and the repeated SSH authentication failures any admin
would want first, each with the events that show it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hostwarden.collect.checkpoint import MemoryCheckpoints
from hostwarden.collect.files import FileReader
from hostwarden.normalize.pipeline import IngestStats, context_for, ingest_chunks
from hostwarden.scan.base import ScanContext, finding
from hostwarden.store.hot import HotStore

# Binary or non-line files that live under /var/log.
SKIP_NAMES = {"wtmp", "btmp", "lastlog", "faillog", "utmp"}
SKIP_DIRS = {"journal", "private"}
FAILURE_THRESHOLD = 5


def log_files(root: Path) -> list[Path]:
    base = root / "var" / "log"
    if not base.is_dir():
        return []
    found = []
    for path in sorted(base.rglob("*")):
        if any(part in SKIP_DIRS for part in path.relative_to(base).parts[:-1]):
            continue
        if not path.is_file() or path.is_symlink() or path.name.split(".")[0] in SKIP_NAMES:
            continue
        found.append(path)
    return found


class LogScanner:
    name = "logs"

    def __init__(self) -> None:
        self.summary: dict[str, Any] = {}

    def scan(self, ctx: ScanContext) -> list[dict[str, Any]]:
        files = log_files(ctx.root)
        if not files:
            self.summary = {"files": 0}
            return []
        tmp = None
        data_dir = ctx.data_dir
        if data_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="hostwarden-scan-")
            data_dir = Path(tmp.name)
        try:
            with HotStore(data_dir) as store:
                stats = IngestStats()
                for path in files:
                    reader = FileReader(path, MemoryCheckpoints())
                    try:
                        ingest_chunks(store, reader.read_chunks(), ctx=context_for(str(path), _mtime(path)), stats=stats)
                    except OSError as exc:
                        ctx.notice("LOG-4102", f"cannot read {path}: {exc}")
                    ctx.notices.extend(getattr(reader, "notices", []))
                self.summary = _summary(store, files, stats)
                return _ssh_failure_findings(store, [str(p) for p in files])
        finally:
            if tmp is not None:
                tmp.cleanup()


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _summary(store: HotStore, files: list[Path], stats: IngestStats) -> dict[str, Any]:
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


def _ssh_failure_findings(store: HotStore, paths: list[str]) -> list[dict[str, Any]]:
    rows = store.query(
        'SELECT "source.ip", count(*) AS n, count(DISTINCT "user.name"), min("@timestamp"), max("@timestamp"), '
        'list("event.id" ORDER BY "log.offset")[1:5], list(DISTINCT "user.name")[1:10] '
        "FROM events WHERE \"event.dataset\" = 'sshd' AND \"event.outcome\" = 'failure' "
        "AND \"event.action\" IN ('ssh_login_failed', 'ssh_invalid_user', 'ssh_max_auth_exceeded') "
        'AND "source.ip" IS NOT NULL AND list_contains($1, "log.file.path") '
        "GROUP BY 1 HAVING count(*) >= $2 ORDER BY n DESC, 1 LIMIT 100",
        [paths, FAILURE_THRESHOLD],
    )
    out = []
    for ip, n, users, first, last, ids, names in rows:
        out.append(
            finding(
                scanner="logs",
                kind="authentication",
                title=f"{n} failed SSH logins from {ip} ({users} account names)",
                severity="L2",
                fix=f"Block {ip} (hostwarden response or `nft add element inet filter blocklist {{ {ip} }}`), "
                "and disable password logins (`PasswordAuthentication no` in sshd_config).",
                evidence={"failures": n, "distinct_users": users, "users": names, "first": str(first),
                          "last": str(last), "event_ids": ids},
                **{"source.ip": ip, "event.action": "ssh_failed_logins", "rule.id": "logs.ssh_failures"},
            )
        )
    return out
