"""The response audit log: JSON lines linked by SHA-256 into a hash chain.

Each record holds `seq` (1, 2, …), `prev` (the SHA-256 of the previous record's canonical
JSON; 64 zeros for the first) and `hash` (the SHA-256 of its own canonical JSON without
`hash`). A head file beside the log keeps the last `seq` and `hash`, so removing records at
the end is caught too. `verify` walks the chain and names the first record that does not fit:

- edited: its own hash does not match its content (or the line is not JSON);
- edited (hash recomputed): the next record's `prev` does not match it;
- removed: a `seq` is skipped, or the log ends before the head says it should;
- reordered or duplicated: a `seq` goes backwards or repeats.

Canonical JSON is `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.
Appends take an exclusive lock (threads and processes share the log) and are fsynced when
`audit_fsync` is on. The chain makes tampering evident; it does not stop someone who can
rewrite the whole file and head — ship the log off the host for that.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hostwarden.respond.util import atomic_write, canonical_json, file_lock, sha256_hex

GENESIS = "0" * 64


def record_hash(record: dict[str, Any]) -> str:
    return sha256_hex(canonical_json({k: v for k, v in record.items() if k != "hash"}))


class AuditLog:
    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.fsync = fsync
        self._lock = threading.Lock()

    def _head(self) -> tuple[int, str]:
        try:
            head = json.loads(self.head_path.read_text())
            return int(head["seq"]), str(head["hash"])
        except FileNotFoundError:
            return 0, GENESIS
        except (ValueError, KeyError, TypeError):  # a damaged head: recover it from the log's last line
            return self._last_line()

    def _last_line(self) -> tuple[int, str]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 65536))
                lines = fh.read().splitlines()
            last = json.loads(lines[-1])
            return int(last["seq"]), str(last["hash"])
        except (OSError, ValueError, KeyError, IndexError):
            return 0, GENESIS

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Write one record (`kind`: apply, undo, expire, dry_run, refused, pending, approve, …)."""
        with self._lock, file_lock(self.lock_path):
            seq, prev = self._head()
            record: dict[str, Any] = {"seq": seq + 1, "time": datetime.now(UTC).isoformat(), "kind": kind,
                                      **json.loads(canonical_json(fields)), "prev": prev}
            record["hash"] = record_hash(record)
            line = (canonical_json(record) + "\n").encode()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            # the head only has to be atomic: after a crash it may lag the fsynced log by one
            # record, which `verify` accepts (it flags a head *ahead* of the log)
            atomic_write(self.head_path, canonical_json({"seq": record["seq"], "hash": record["hash"]}).encode(),
                         mode=0o600, fsync=False)
            return record

    def records(self) -> list[dict[str, Any]]:
        out = []
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        continue
        except FileNotFoundError:
            pass
        return out


@dataclass
class Verdict:
    ok: bool
    records: int
    line: int | None = None  # 1-based line of the first problem
    seq: int | None = None  # the record it names
    problem: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit log intact: {self.records} records, hash chain verified"
        return f"line {self.line}: record {self.seq}: {self.problem}"


def verify(path: Path) -> Verdict:
    """Walk the chain; the first record that was edited, removed or reordered is named."""
    path = Path(path)
    head_path = path.with_name(path.name + ".head")
    try:
        raw_lines = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        raw_lines = []
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    parsed: list[dict[str, Any] | None] = []
    for raw in raw_lines:
        try:
            rec = json.loads(raw)
            int(rec["seq"])
            parsed.append(rec)
        except (ValueError, KeyError, TypeError):
            parsed.append(None)
    prev_hash, expected = GENESIS, 1
    for i, rec in enumerate(parsed, start=1):
        if rec is None:
            return Verdict(False, i - 1, i, expected, "edited: the line is not a valid record")
        seq = int(rec["seq"])
        if seq > expected:
            later = [j for j, r in enumerate(parsed[i:], start=i + 1) if r is not None and r.get("seq") == expected]
            if later:
                return Verdict(False, i - 1, i, expected, f"reordered: record {expected} is at line {later[0]}, "
                               f"record {seq} took its place")
            missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
            return Verdict(False, i - 1, i, expected, f"removed: record(s) {missing} missing before record {seq}")
        if seq < expected:
            return Verdict(False, i - 1, i, seq, f"reordered or duplicated: record {seq} appears after record "
                           f"{expected - 1}")
        if record_hash(rec) != rec.get("hash"):
            return Verdict(False, i - 1, i, seq, "edited: its content does not match its hash")
        if rec.get("prev") != prev_hash:
            return Verdict(False, i - 1, i - 1, seq - 1, f"edited: record {seq - 1} changed (hash recomputed), "
                           f"record {seq} no longer links to it")
        prev_hash, expected = rec["hash"], seq + 1
    count = expected - 1
    try:
        head = json.loads(head_path.read_text())
        head_seq, head_hash = int(head["seq"]), str(head["hash"])
    except FileNotFoundError:
        return Verdict(True, count)
    except (ValueError, KeyError, TypeError):
        return Verdict(False, count, None, None, f"{head_path} is damaged")
    if head_seq > count:
        return Verdict(False, count, count + 1, count + 1, f"removed: the log ends at record {count}, "
                       f"the head says {head_seq}")
    if head_seq == count and head_hash != prev_hash:
        return Verdict(False, count, count, count, "edited: the last record does not match the head")
    return Verdict(True, count)
