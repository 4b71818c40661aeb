"""Response state: active actions (with expiry and undo data), pending approvals, recent history.

One JSON file under the data dir, replaced atomically (temp file, fsync, rename) on every
change, under an exclusive lock so `watch` and the `respond` CLI can both change it; each
change re-reads the file first when another process has replaced it. A file that cannot be
read is kept aside (`state.json.corrupt-<time>`, RESP-6011) and a new one is started: the
kernel still expires firewall elements on its own, and the audit log keeps the history.

    {"version": 1, "actions": {"<id>": {
        "id", "status": pending|submitted|active|done|undone|expired|failed|refused|rejected,
        "action", "playbook", "alert_id", "rule_id", "target": {kind, value, detail},
        "plan": {…}, "undo": {…} | null, "approval": auto|manual,
        "created", "applied", "expires", "finished": epoch seconds | null,
        "reason": {"code", "message"} | null}}}
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hostwarden.errors import RESP_STATE_UNREADABLE
from hostwarden.respond.util import atomic_write, file_lock

log = logging.getLogger(__name__)

LIVE = ("pending", "submitted", "active")
VERSION = 1


class StateStore:
    def __init__(self, path: Path, *, fsync: bool = True, history_keep: int = 1000) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.fsync = fsync
        self.history_keep = history_keep
        self._cache: dict[str, Any] | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._lock = threading.RLock()
        self.notes: list[str] = []  # RESP-6011 messages from this process (shown by `respond list`)

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read(self) -> dict[str, Any]:
        stamp = self._file_stamp()
        if stamp is not None and stamp == self._stamp and self._cache is not None:
            return self._cache
        data: dict[str, Any] = {"version": VERSION, "actions": {}}
        if stamp is not None:
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
                if not isinstance(loaded, dict) or not isinstance(loaded.get("actions"), dict):
                    raise ValueError("not a hostwarden response state")
                data = loaded
            except (OSError, ValueError) as exc:
                kept = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
                with contextlib.suppress(OSError):
                    os.replace(self.path, kept)
                note = f"{RESP_STATE_UNREADABLE.code}: {self.path}: {exc}; kept as {kept}, started a new state"
                log.error(note)
                self.notes.append(note)
                stamp = None
        self._cache, self._stamp = data, stamp
        return data

    def snapshot(self) -> dict[str, Any]:
        """The current state (a deep copy; reading needs no lock: the file is replaced atomically)."""
        with self._lock:
            return json.loads(json.dumps(self._read()))

    @contextlib.contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[dict[str, Any]]:
        """Read-modify-write under the lock; saved when the block ends without error (an error
        drops the in-memory changes: the next read comes from the file). `durable=False`
        skips the fsync, for a record whose loss in a crash is harmless (an action about to
        run: its outcome is written durably right after)."""
        with self._lock, file_lock(self.lock_path):
            data = self._read()
            try:
                yield data
            except BaseException:
                self._cache, self._stamp = None, None
                raise
            self._prune(data)
            atomic_write(self.path, json.dumps(data, separators=(",", ":")).encode(), mode=0o600,
                         fsync=self.fsync and durable)
            self._cache, self._stamp = data, self._file_stamp()

    def _prune(self, data: dict[str, Any]) -> None:
        actions = data["actions"]
        if len(actions) <= self.history_keep:
            return
        finished = sorted((a for a in actions.values() if a.get("status") not in LIVE),
                          key=lambda a: a.get("finished") or a.get("created") or 0)
        for a in finished[: max(0, len(finished) - self.history_keep)]:
            del actions[a["id"]]

    def get(self, action_id: str) -> dict[str, Any] | None:
        """One entry (a copy)."""
        with self._lock:
            entry = self._read()["actions"].get(action_id)
            return None if entry is None else json.loads(json.dumps(entry))

    def live(self, action: str, target_key: str, statuses: tuple[str, ...] = LIVE) -> dict[str, Any] | None:
        """The newest entry of `action` on a target in one of `statuses` (pending, submitted or
        active by default), if any."""
        found = None
        with self._lock:
            for entry in self._read()["actions"].values():
                if entry.get("status") in statuses and entry.get("action") == action and \
                        f"{entry['target']['kind']}:{entry['target']['value']}" == target_key and \
                        (found is None or (entry.get("created") or 0) >= (found.get("created") or 0)):
                    found = entry
            return None if found is None else json.loads(json.dumps(found))
