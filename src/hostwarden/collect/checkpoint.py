"""Where a reader stopped in a source, so a restart resumes with no loss and no duplicate.

The fingerprint (hash of the first bytes) tells "same file, grown" from "a new file at the same
path" even when the inode is reused after rotation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

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
    def load_checkpoint(self, key: str) -> Checkpoint | None: ...

    def save_checkpoint(self, cp: Checkpoint) -> None: ...


class MemoryCheckpoints:
    """For one-shot reads (scans) and tests."""

    def __init__(self) -> None:
        self.saved: dict[str, Checkpoint] = {}

    def load_checkpoint(self, key: str) -> Checkpoint | None:
        return self.saved.get(key)

    def save_checkpoint(self, cp: Checkpoint) -> None:
        self.saved[cp.key] = cp


def fingerprint(head: bytes) -> str:
    return hashlib.sha256(head[:FINGERPRINT_BYTES]).hexdigest()
