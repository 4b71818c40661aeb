"""journald as a source: `journalctl -o json` output from a file, or from journalctl itself.

The position is the journal cursor of the last stored record, kept in the store's state, so a
restart asks journalctl for what came after it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any, Protocol

from hostwarden.collect.chunks import Chunk
from hostwarden.collect.stdin import read_stream_chunks
from hostwarden.errors import LOG_INPUT_UNREADABLE, HostwardenError

CURSOR_KEY = "journald.cursor"


class StateStore(Protocol):
    def get_state(self, key: str) -> Any: ...

    def put_state(self, key: str, value: Any) -> None: ...


def last_cursor(chunk: Chunk) -> str | None:
    for line in reversed(chunk.data.rstrip(b"\n").split(b"\n")):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("__CURSOR"), str):
            return record["__CURSOR"]
    return None


class JournalReader:
    """Reads new journal records once (`read_chunks`); call `commit(chunk)` after storing."""

    def __init__(self, state: StateStore, *, journalctl: str = "journalctl", extra_args: tuple[str, ...] = ()) -> None:
        self.state = state
        self.journalctl = journalctl
        self.extra_args = extra_args

    def command(self) -> list[str]:
        cmd = [self.journalctl, "-o", "json", "--no-pager", *self.extra_args]
        cursor = self.state.get_state(CURSOR_KEY)
        if cursor:
            cmd += ["--after-cursor", str(cursor)]
        return cmd

    def read_chunks(self) -> Iterator[Chunk]:
        if shutil.which(self.journalctl) is None:
            raise HostwardenError(LOG_INPUT_UNREADABLE, f"{self.journalctl} not found")
        proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # noqa: S603
        assert proc.stdout is not None
        try:
            yield from read_stream_chunks(proc.stdout, "journald")
        finally:
            proc.stdout.close()
            proc.wait(timeout=30)

    def commit(self, chunk: Chunk) -> None:
        cursor = last_cursor(chunk)
        if cursor:
            self.state.put_state(CURSOR_KEY, cursor)
