"""journald as a source: `journalctl -o json` output from a file, or from journalctl itself.

Each line is one JSON record; chunks carry source "journald". A record's identity is its journal
cursor (normalize/journald.py derives `event.id` from it), not its byte offset, because offsets in
journalctl's output change from run to run. The position is the cursor of the last stored
record, kept in the store's state (`get_state`/`put_state`) under `key`, so a restart asks
`journalctl --after-cursor` for what came after it; records re-sent after a crash carry the same
cursors and the store's dedupe drops them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from hostwarden.collect.files import DEFAULT_CHUNK_BYTES, FileReader
from hostwarden.collect.lines import LineAssembler
from hostwarden.collect.stdin import read_stream_chunks
from hostwarden.core.checkpoint import CheckpointStore
from hostwarden.core.chunks import MAX_LINE_BYTES, Chunk
from hostwarden.core.errors import LOG_INPUT_UNREADABLE, HostwardenError

CURSOR_KEY = "journald.cursor"
JOURNALD_SOURCE = "journald"


class StateStore(Protocol):
    def get_state(self, key: str) -> Any: ...

    def put_state(self, key: str, value: Any) -> None: ...


def last_cursor(chunk: Chunk) -> str | None:
    """Cursor of the last record in the chunk that has one (the last line, unless it is damaged)."""
    for line in reversed(chunk.data.rstrip(b"\n").split(b"\n")):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("__CURSOR"), str):
            return record["__CURSOR"]
    return None


class JournalReader:
    """Reads journal records from journalctl: once (`read_chunks`) or live (`follow`).

    Call `commit(chunk)` after the chunk is stored. `extra_args` narrows what is read
    (`("-u", "ssh.service")`, `("--directory", path)`); give each narrowed reader its own `key`.
    """

    def __init__(
        self,
        state: StateStore,
        *,
        journalctl: str = "journalctl",
        extra_args: tuple[str, ...] = (),
        key: str = CURSOR_KEY,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        poll_interval: float = 0.2,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.state = state
        self.max_line_bytes = max_line_bytes
        self.dropped: dict[str, int] = {}  # what the line limits did not hand on (see LineAssembler)
        self.journalctl = journalctl
        self.extra_args = extra_args
        self.key = key
        self.chunk_bytes = max(chunk_bytes, 4096)
        self.poll_interval = poll_interval
        self.notices: list[dict[str, Any]] = []
        self._offset = 0  # output bytes handed out by this reader, over all journalctl runs
        self._seen: str | None = None  # cursor of the last record handed out

    def command(self, *, follow: bool = False, cursor: str | None = None) -> list[str]:
        cmd = [self.journalctl, "-o", "json", "--no-pager", *self.extra_args]
        if follow:
            cmd += ["--follow", "--no-tail"]  # --no-tail: everything after the cursor, not the last 10
        cursor = cursor if cursor is not None else self._cursor()
        if cursor:
            cmd += ["--after-cursor", cursor]
        return cmd

    def read_chunks(self) -> Iterator[Chunk]:
        """Every record after the saved cursor, until journalctl has printed them all."""
        cursor = self._cursor()
        for attempt in (cursor, None) if cursor else (None,):
            proc, errors = self._spawn(self.command(cursor=attempt or ""))
            handed, eof = 0, False
            shift = self._offset  # offsets count over every journalctl run of this reader
            try:
                assert proc.stdout is not None
                for chunk in read_stream_chunks(proc.stdout, JOURNALD_SOURCE, chunk_bytes=self.chunk_bytes,
                                                max_line_bytes=self.max_line_bytes, dropped=self.dropped):
                    handed += 1
                    yield self._handed(dataclasses.replace(chunk, base_offset=shift + chunk.base_offset))
                eof = True
                rc = _stop(proc, eof)
                if rc == 0 or not self._report(rc, errors, attempt) or handed:
                    return
            finally:
                if not eof:  # the consumer stopped early
                    _stop(proc, eof)
                errors.close()

    def follow(self, stop: threading.Event | None = None) -> Iterator[Chunk]:
        """Records as journald receives them, until `stop` is set; journalctl is restarted if it dies."""
        stop = stop or threading.Event()
        cursor = self._cursor()
        while not stop.is_set():
            used = self._seen or cursor
            proc, errors = self._spawn(self.command(follow=True, cursor=used or ""))
            lines = LineAssembler(JOURNALD_SOURCE, self._offset, max_line_bytes=self.max_line_bytes)
            eof = False
            try:
                assert proc.stdout is not None
                fd = proc.stdout.fileno()
                while not stop.is_set():
                    ready, _, _ = select.select([fd], [], [], self.poll_interval)
                    if not ready:
                        continue
                    block = os.read(fd, self.chunk_bytes)
                    if not block:
                        eof = True  # journalctl exited
                        break
                    for chunk in lines.feed(block):
                        yield self._handed(chunk)
                rc = _stop(proc, eof)
                if stop.is_set():
                    return
                if self._report(rc, errors, used) and self._seen is None:
                    cursor = None  # a cursor journalctl refuses: start over, the cursor dedupe keeps it exact
            finally:
                if proc.returncode is None:
                    _stop(proc, False)
                errors.close()
                for what, n in lines.dropped.items():
                    self.dropped[what] = self.dropped.get(what, 0) + n
            stop.wait(max(self.poll_interval, 1.0))  # don't spin on a journalctl that keeps failing

    def commit(self, chunk: Chunk) -> None:
        """Save the cursor of the chunk's last record; call it once the chunk is stored."""
        cursor = last_cursor(chunk)
        if cursor:
            self.state.put_state(self.key, cursor)

    # -- internals -------------------------------------------------------------------------
    def _cursor(self) -> str | None:
        value = self.state.get_state(self.key)
        return value if isinstance(value, str) and value else None

    def _spawn(self, cmd: list[str]) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
        if shutil.which(self.journalctl) is None:
            raise HostwardenError(LOG_INPUT_UNREADABLE, f"{self.journalctl} not found: journald input needs journalctl")
        # A file, not a pipe: a chatty journalctl can never block on it. The caller closes it.
        errors = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL)  # noqa: S603
        except OSError as exc:
            errors.close()
            raise HostwardenError(LOG_INPUT_UNREADABLE, f"cannot run {self.journalctl}: {exc}") from exc
        return proc, errors

    def _handed(self, chunk: Chunk) -> Chunk:
        self._offset = chunk.end_offset
        self._seen = last_cursor(chunk) or self._seen
        return chunk

    def _report(self, rc: int | None, errors: IO[bytes], cursor: str | None) -> bool:
        """Notice why journalctl failed; True if it ran with a cursor (retrying without may help)."""
        if rc == 0:
            return False
        try:
            errors.seek(0)
            text = errors.read(4096).decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):
            text = []
        why = text[0] if text else f"exit status {rc}"
        retry = "; reading again without the cursor (stored records are not doubled)" if cursor else ""
        self.notices.append({"code": LOG_INPUT_UNREADABLE.code, "message": f"journalctl failed: {why}{retry}"})
        return bool(cursor)


def _stop(proc: subprocess.Popen[bytes], eof: bool) -> int | None:
    """Exit status of journalctl: waited for after end of output, else terminated."""
    if not eof and proc.poll() is None:
        proc.terminate()
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    return rc


class JournalFileReader:
    """A saved `journalctl -o json` file (plain or .gz), checkpointed like any file.

    Chunks carry source "journald" so the journald parser is chosen and records ingested from a
    file and from journalctl deduplicate against each other by cursor.
    """

    def __init__(self, path: str | Path, checkpoints: CheckpointStore, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._reader = FileReader(path, checkpoints, chunk_bytes=chunk_bytes, max_line_bytes=max_line_bytes)

    @property
    def notices(self) -> list[dict[str, Any]]:
        return self._reader.notices

    @property
    def dropped(self) -> dict[str, int]:
        return self._reader.dropped

    def read_chunks(self) -> Iterator[Chunk]:
        for chunk in self._reader.read_chunks():  # known by cursor, like the records journalctl prints
            yield dataclasses.replace(chunk, source=JOURNALD_SOURCE, identity="")

    def commit(self, chunk: Chunk) -> None:
        self._reader.commit(chunk)
