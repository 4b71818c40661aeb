"""Where a reader stopped in a source, so a restart resumes with no loss and no duplicate.

The fingerprint (hash of the first bytes) tells "same file, grown" from "a new file at the same
path" even when the inode is reused after rotation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any, Protocol

FINGERPRINT_BYTES = 1024


@dataclass
class Checkpoint:
    key: str
    path: str
    inode: int
    device: int
    offset: int
    fingerprint: str
    fingerprint_len: int
    updated: float


class CheckpointStore(Protocol):
    """Implemented by the hot store (a `checkpoints` table) and by MemoryCheckpoints."""

    def load_checkpoint(self, key: str) -> Checkpoint | None: ...

    def save_checkpoint(self, cp: Checkpoint) -> None: ...


class MemoryCheckpoints:
    """For one-shot reads (scans) and tests: the store's checkpoint and state methods, in memory."""

    def __init__(self) -> None:
        self.saved: dict[str, Checkpoint] = {}
        self.state: dict[str, Any] = {}

    def load_checkpoint(self, key: str) -> Checkpoint | None:
        return self.saved.get(key)

    def save_checkpoint(self, cp: Checkpoint) -> None:
        self.saved[cp.key] = replace(cp)  # a copy, as a real store would keep

    def get_state(self, key: str) -> Any:
        """Small values such as the journal cursor (collect/journald.py)."""
        return self.state.get(key)

    def put_state(self, key: str, value: Any) -> None:
        self.state[key] = value


def fingerprint(head: bytes) -> str:
    """sha256 hex of the first min(size, FINGERPRINT_BYTES) bytes."""
    return hashlib.sha256(head[:FINGERPRINT_BYTES]).hexdigest()
