"""Response state: active actions (expiry, undo data), pending approvals, recent history.

One SQLite file under the data dir (`<data_dir>/respond/state.sqlite`, mode 0600) in WAL mode:
every change is an atomic transaction, `watch` and the `respond` CLI can change it at the same
time (a busy timeout bounds the wait), and a change costs the same with ten entries or fifty
thousand (a day of blocks at the rate cap) — rewriting a whole JSON file per block does not.

Each row is one action; `doc` holds the entry as JSON and the other columns repeat what is
queried:

    {"id", "status": pending|submitted|active|done|undone|expired|failed|refused|rejected,
     "action", "playbook", "alert_id", "rule_id", "target": {kind, value, detail},
     "plan": {…}, "undo": {…} | null, "approval": auto|manual,
     "created", "applied", "expires", "finished": epoch seconds | null,
     "reason": {"code", "message"} | null}

A file that is not a readable database is kept aside (`state.sqlite.corrupt-<time>`,
RESP-6011) and a new one started: the kernel still expires firewall elements on its own, and
the audit log keeps the history.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from hostwarden.core.errors import RESP_STATE_LOCKED, RESP_STATE_UNREADABLE, HostwardenError

log = logging.getLogger(__name__)

LIVE = ("pending", "submitted", "active")
SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, action TEXT NOT NULL, target_key TEXT NOT NULL,
    created REAL, expires REAL, finished REAL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS actions_by_target ON actions (action, target_key, status);
CREATE INDEX IF NOT EXISTS actions_by_status ON actions (status, expires);
"""
COLUMNS = ("status", "action", "created", "expires", "finished")


def target_key(entry: dict[str, Any]) -> str:
    return f"{entry['target']['kind']}:{entry['target']['value']}"


class StateStore:
    def __init__(self, path: Path, *, fsync: bool = True, history_keep: int = 1000, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.history_keep = history_keep
        self.notes: list[str] = []  # RESP-6011 messages from this process (shown by `respond list`)
        self._lock = threading.RLock()
        self._timeout = timeout
        self._fsync = fsync
        self._writes = 0
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        try:
            db = self._connect()
            db.execute("PRAGMA quick_check").fetchone()
            db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            kept = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            with contextlib.suppress(OSError):
                os.replace(self.path, kept)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(OSError):
                    os.replace(f"{self.path}{suffix}", f"{kept}{suffix}")
            note = f"{RESP_STATE_UNREADABLE.code}: {self.path}: {exc}; kept as {kept}, started a new state"
            log.error(note)
            self.notes.append(note)
            db = self._connect()
            db.executescript(SCHEMA)
            fresh = True
        if fresh:
            os.chmod(self.path, 0o600)
        return db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a crash of the process; FULL also a power loss
        db.execute(f"PRAGMA synchronous={'FULL' if self._fsync else 'NORMAL'}")
        return db

    @contextlib.contextmanager
    def _write(self, durable: bool = True) -> Any:
        """One write transaction (BEGIN IMMEDIATE: other writers wait up to the timeout)."""
        with self._lock:
            lighter = self._fsync and not durable
            if lighter:  # this commit may be lost with the power, never half-written
                self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    raise HostwardenError(RESP_STATE_LOCKED, f"{self.path}: {exc}") from exc
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            finally:
                if lighter:
                    self._db.execute("PRAGMA synchronous=FULL")

    def put(self, entry: dict[str, Any], *, durable: bool = True) -> None:
        """Insert or replace one entry; `durable=False` skips the fsync (for an action about to
        run, whose outcome is written durably right after)."""
        with self._write(durable) as db:
            self._store(db, entry)
        self._writes += 1
        if self._writes % 100 == 0:
            self.prune()

    @staticmethod
    def _store(db: sqlite3.Connection, entry: dict[str, Any]) -> None:
        db.execute("INSERT OR REPLACE INTO actions (id, status, action, target_key, created, expires, finished, doc) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (entry["id"], entry["status"], entry["action"], target_key(entry), entry.get("created"),
                    entry.get("expires"), entry.get("finished"), json.dumps(entry, separators=(",", ":"))))

    def update(self, action_id: str, **fields: Any) -> dict[str, Any] | None:
        """Change fields of one entry (read and written in one transaction); the new entry."""
        with self._write() as db:
            row = db.execute("SELECT doc FROM actions WHERE id = ?", (action_id,)).fetchone()
            if row is None:
                return None
            entry = json.loads(row[0])
            entry.update(fields)
            self._store(db, entry)
            return entry

    def get(self, action_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM actions WHERE id = ?", (action_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def live(self, action: str, key: str, statuses: tuple[str, ...] = LIVE) -> dict[str, Any] | None:
        """The newest entry of `action` on a target in one of `statuses`, if any (indexed)."""
        marks = ",".join("?" * len(statuses))
        with self._lock:
            row = self._db.execute(
                f"SELECT doc FROM actions WHERE action = ? AND target_key = ? AND status IN ({marks}) "  # noqa: S608 - placeholders only
                "ORDER BY created DESC LIMIT 1", (action, key, *statuses)).fetchone()
        return None if row is None else json.loads(row[0])

    def entries(self, statuses: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """Entries, oldest first (all, or those in `statuses`)."""
        with self._lock:
            if statuses:
                marks = ",".join("?" * len(statuses))
                rows = self._db.execute(f"SELECT doc FROM actions WHERE status IN ({marks}) "  # noqa: S608
                                        "ORDER BY created", statuses).fetchall()
            else:
                rows = self._db.execute("SELECT doc FROM actions ORDER BY created").fetchall()
        return [json.loads(r[0]) for r in rows]

    def due(self, now: float) -> list[dict[str, Any]]:
        """Active entries whose expiry has passed."""
        with self._lock:
            rows = self._db.execute("SELECT doc FROM actions WHERE status = 'active' AND expires IS NOT NULL "
                                    "AND expires <= ? ORDER BY expires", (now,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def next_expiry(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT min(expires) FROM actions WHERE status = 'active'").fetchone()
        return None if row is None else row[0]

    def prune(self) -> int:
        """Forget finished entries beyond the newest `history_keep` (the audit log keeps them)."""
        marks = ",".join("?" * len(LIVE))
        with self._write() as db:
            cur = db.execute(
                f"DELETE FROM actions WHERE status NOT IN ({marks}) AND id NOT IN ("  # noqa: S608
                f"SELECT id FROM actions WHERE status NOT IN ({marks}) ORDER BY coalesce(finished, created) DESC "
                "LIMIT ?)", (*LIVE, *LIVE, self.history_keep))
            return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
