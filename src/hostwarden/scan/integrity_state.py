"""Where scanners keep fingerprints between scans (persistence inventory, file-integrity baseline).

Kept in the hot store (its `kv` table, one JSON document per scanner) so a data folder holds one
database, backed up and locked as one. Scanners only see `StateStore`. A damaged document is
reported (SCAN-9203) and treated as "no previous scan", never as an empty host that lost everything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from hostwarden.core.errors import SCAN_STATE_UNREADABLE
from hostwarden.scan.base import ScanContext


class StateStore(Protocol):
    def load(self, name: str) -> dict[str, Any] | None: ...

    def save(self, name: str, data: dict[str, Any]) -> None: ...


class HotStoreState:
    """Scanner state as rows of the hot store's key-value table (`scan.<name>`)."""

    def __init__(self, data_dir: Path, ctx: ScanContext | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.ctx = ctx

    @staticmethod
    def key(name: str) -> str:
        return f"scan.{name}"

    def load(self, name: str) -> dict[str, Any] | None:
        from hostwarden.store.eventstore import EventStore

        with EventStore(self.data_dir) as store:
            rows = store.query("SELECT value FROM kv WHERE key = ?", [self.key(name)])
        if not rows:
            return None
        try:
            data = json.loads(rows[0][0])
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return data
        except ValueError as exc:
            if self.ctx is not None:
                self.ctx.notice(SCAN_STATE_UNREADABLE.code, f"stored state {self.key(name)}: {exc}; taking a new baseline")
            return None

    def save(self, name: str, data: dict[str, Any]) -> None:
        from hostwarden.store.eventstore import EventStore

        with EventStore(self.data_dir) as store, store.transaction():
            store.put_state(self.key(name), data)


def state_store(ctx: ScanContext) -> StateStore | None:
    """The store for this scan, or None when no data folder was given (no drift without memory)."""
    if ctx.data_dir is None:
        return None
    return HotStoreState(Path(ctx.data_dir), ctx)
