"""Where a reader stopped in a file, and which file that is: known by its content, not its name.

A file's *identity* is a fingerprint of its first bytes (as Vector's checksum and Filebeat's
fingerprint modes do), so another spelling of the path, a symlink, a rename after rotation
(`auth.log.1`) or a gzipped copy (`auth.log.2.gz`, fingerprinted after decompression) is the
same file: one checkpoint, and the same `event.id` for each line (chunks carry the identity).

- The identity covers the first FINGERPRINT_BYTES bytes. A file shorter than that is known by its
  whole lines (up to its last newline), which do not change as it grows. A file first seen short
  (the tailer reads a new file at its first line) keeps that identity for life: a file's first
  bytes are looked up at every line end as well as whole (`candidate_keys`), so a later copy of
  the grown file finds the checkpoint, and the identity, it started with (`resolve_identity`).
- Two different files with the same first bytes (a long common header) share an identity. The
  checkpoint is then not trusted blindly: its offset is used only if the bytes just before it
  (`tail`) are the same in the file being read; otherwise the file is read from the start, and
  lines already stored are recognised by their ids. At worst a line is read twice, never skipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any, Protocol

FINGERPRINT_BYTES = 1024  # the identity's span: enough for several log lines, as Filebeat uses
TAIL_BYTES = 256  # the bytes before a checkpoint's offset that must match before it is trusted
IDENTITY_PREFIX = "fp:"


@dataclass
class Checkpoint:
    key: str  # the file's identity (file_identity when first seen): in event.id and the lookup key
    path: str  # the path it was last read under (the tailer's restart looks it up by path)
    inode: int
    device: int
    offset: int  # first byte not yet stored (a position in the decompressed stream for .gz)
    fingerprint: str  # sha256 hex of the first fingerprint_len bytes (what the tailer checks for rewrites)
    fingerprint_len: int
    updated: float
    tail: str = ""  # tail_hash of the bytes before `offset` ("" = none recorded: trust by inode)


class CheckpointStore(Protocol):
    """Implemented by the event store (a `checkpoints` table) and by MemoryCheckpoints."""

    def load_checkpoint(self, key: str) -> Checkpoint | None: ...

    def save_checkpoint(self, cp: Checkpoint) -> None: ...

    def find_checkpoints(self, keys: list[str]) -> list[Checkpoint]: ...

    def last_checkpoint_at(self, path: str) -> Checkpoint | None: ...


class MemoryCheckpoints:
    """For one-shot reads (scans) and tests: the store's checkpoint and state methods, in memory."""

    def __init__(self) -> None:
        self.saved: dict[str, Checkpoint] = {}
        self.state: dict[str, Any] = {}

    def load_checkpoint(self, key: str) -> Checkpoint | None:
        return self.saved.get(key)

    def save_checkpoint(self, cp: Checkpoint) -> None:
        self.saved.pop(cp.key, None)  # re-inserted last: the most recent save is found first by path
        self.saved[cp.key] = replace(cp)  # a copy, as a real store would keep

    def find_checkpoints(self, keys: list[str]) -> list[Checkpoint]:
        return [self.saved[k] for k in keys if k in self.saved]

    def last_checkpoint_at(self, path: str) -> Checkpoint | None:
        return next((cp for cp in reversed(self.saved.values()) if cp.path == path), None)

    def get_state(self, key: str) -> Any:
        """Small values such as the journal cursor (collect/journald.py)."""
        return self.state.get(key)

    def put_state(self, key: str, value: Any) -> None:
        self.state[key] = value


def fingerprint(head: bytes) -> str:
    """sha256 hex of the first min(size, FINGERPRINT_BYTES) bytes."""
    return hashlib.sha256(head[:FINGERPRINT_BYTES]).hexdigest()


def tail_hash(before: bytes) -> str:
    """What a checkpoint keeps of the bytes just before its offset (the last TAIL_BYTES of them)."""
    return hashlib.sha256(before[-TAIL_BYTES:]).hexdigest()[:32]


def _key(prefix: bytes) -> str:
    return IDENTITY_PREFIX + hashlib.sha256(prefix).hexdigest()[:32]


def identity_span(head: bytes) -> int:
    """How many of a file's first bytes its identity covers: FINGERPRINT_BYTES, or for a shorter
    file its whole lines (all of it when it has no newline yet)."""
    if len(head) >= FINGERPRINT_BYTES:
        return FINGERPRINT_BYTES
    return head.rfind(b"\n") + 1 or len(head)


def file_identity(head: bytes) -> str:
    """The identity (and checkpoint key) of a file whose first bytes are `head` (at least
    FINGERPRINT_BYTES of them, or the whole file)."""
    return _key(head[: identity_span(head)])


def candidate_keys(head: bytes) -> list[str]:
    """Identities this content may have been given, longest prefix first: its own, then the one
    it had at each earlier line end, for a file first seen shorter."""
    head = head[:FINGERPRINT_BYTES]
    ends = {len(head)}
    pos = head.find(b"\n")
    while pos >= 0:
        ends.add(pos + 1)
        pos = head.find(b"\n", pos + 1)
    return [_key(head[:end]) for end in sorted(ends, reverse=True) if end]


def resolve_identity(head: bytes, store: CheckpointStore) -> tuple[str, Checkpoint | None]:
    """The identity of the content starting with `head`, and the checkpoint saved for it.

    The longest matching key wins. A match on a shorter prefix (the file was first seen when it
    was that short) is taken only if the checkpoint's longer fingerprint agrees too, so a file
    that merely starts like a short one does not take over its identity.
    """
    keys = candidate_keys(head) if head else []
    found = {cp.key: cp for cp in store.find_checkpoints(keys)} if keys else {}
    for key in keys:
        cp = found.get(key)
        if cp is None:
            continue
        span = min(cp.fingerprint_len, len(head))
        if cp.fingerprint_len <= len(head) and fingerprint(head[:span]) != cp.fingerprint:
            continue
        return cp.key, cp
    return (file_identity(head) if head else ""), None
