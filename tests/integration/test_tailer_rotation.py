"""The tailer in a thread while this test writes and rotates real files the way logrotate does.

Every line must come out exactly once and in order, whatever the interleaving of the writer's
rotations and the tailer's polls. The last test runs the whole path (tail → parse → DuckDB store)
through a restart that loses the uncommitted chunks, and counts what the store holds.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hostwarden.collect.tailer import FileTailer
from hostwarden.core.checkpoint import CheckpointStore, MemoryCheckpoints
from hostwarden.core.chunks import Chunk

LINES = 3000
ROTATE_EVERY = 400


class TailThread:
    """Runs `follow()` in a thread, committing each chunk after "storing" it in a list."""

    def __init__(self, tailer: FileTailer, on_chunk: Callable[[Chunk], None] | None = None) -> None:
        self.tailer = tailer
        self.stop = threading.Event()
        self.rows: list[tuple[str, int, str]] = []
        self.error: BaseException | None = None
        self.on_chunk = on_chunk
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for chunk in self.tailer.follow(self.stop):
                if self.on_chunk is not None:
                    self.on_chunk(chunk)
                self.rows.extend((chunk.source, ln.offset, ln.text) for ln in chunk.lines())
                self.tailer.commit(chunk)
        except BaseException as exc:  # surfaced by the test, not lost in the thread
            self.error = exc

    def __enter__(self) -> TailThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.rows) < count and time.monotonic() < deadline and self.error is None:
            time.sleep(0.01)


def expected(n: int = LINES) -> list[str]:
    return [f"seq {i:05d} some payload so lines are not tiny" for i in range(n)]


def tail(path: Path, cps: CheckpointStore | None = None, chunk_bytes: int = 1 << 20) -> FileTailer:
    return FileTailer([path], cps if cps is not None else MemoryCheckpoints(), poll_interval=0.01, rotate_wait=0.3,
                      chunk_bytes=chunk_bytes)


def test_rename_and_create_rotation_loses_and_repeats_nothing(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    lines = expected()
    fh = log.open("a")
    with TailThread(tail(log)) as runner:
        for i, line in enumerate(lines):
            if i and i % ROTATE_EVERY == 0:
                os.rename(log, tmp_path / f"app.log.{i}")
                fh.write(line + "\n")  # the daemon writes once more before it reopens
                fh.flush()
                fh.close()
                fh = log.open("a")
                continue
            fh.write(line + "\n")
            fh.flush()
            if i % 50 == 0:
                time.sleep(0.002)  # let the tailer poll mid-stream
        fh.close()
        runner.wait_for(len(lines))
    assert runner.error is None
    assert [t for _, _, t in runner.rows] == lines
    assert {src for src, _, _ in runner.rows} == {str(log)}
    rotated = sorted(tmp_path.glob("app.log.*"))
    assert len(rotated) == LINES // ROTATE_EVERY


def test_copytruncate_rotation_loses_and_repeats_nothing(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    lines = expected()
    with TailThread(tail(log)) as runner:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)  # as daemons do for copytruncate
        try:
            for i, line in enumerate(lines):
                if i and i % ROTATE_EVERY == 0:
                    shutil.copyfile(log, tmp_path / f"app.log.{i}")
                    os.truncate(log, 0)
                os.write(fd, (line + "\n").encode())
                if i % 50 == 0:
                    time.sleep(0.002)
        finally:
            os.close(fd)
        runner.wait_for(len(lines))
    assert runner.error is None
    assert [t for _, _, t in runner.rows] == lines
    assert any(n["code"] == "LOG-4104" for n in runner.tailer.notices)


def test_new_files_matching_a_glob_are_followed(tmp_path: Path) -> None:
    tailer = FileTailer([str(tmp_path / "*.log")], MemoryCheckpoints(), poll_interval=0.01)
    with TailThread(tailer) as runner:
        for name in ("a", "b", "c"):
            with (tmp_path / f"{name}.log").open("a") as fh:
                for i in range(100):
                    fh.write(f"{name} {i}\n")
                    fh.flush()
        runner.wait_for(300)
    assert runner.error is None
    for name in ("a", "b", "c"):
        got = [t for src, _, t in runner.rows if src == str(tmp_path / f"{name}.log")]
        assert got == [f"{name} {i}" for i in range(100)]


def test_restart_with_lost_chunks_stores_every_line_exactly_once(tmp_path: Path) -> None:
    """Tail into a real DuckDB store, die without committing, rotate while down, restart."""
    pytest.importorskip("duckdb")
    from hostwarden.pipelines.ingest import ingest_chunks
    from hostwarden.store.eventstore import EventStore

    log = tmp_path / "auth.log"
    lines = [f"Nov 28 10:{i // 60 % 60:02d}:{i % 60:02d} web1 sshd[{100 + i}]: Failed password for root from "
             f"203.0.113.{i % 250} port {40000 + i} ssh2" for i in range(600)]
    rows_in_store = [0]  # read by this thread, written by the tailer's (the store is used from one thread)
    with EventStore(tmp_path / "data") as store:
        def store_then_commit(tailer: FileTailer, stop_after: int | None) -> Callable[[Chunk], None]:
            stored = 0

            def on_chunk(chunk: Chunk) -> None:
                nonlocal stored
                ingest_chunks(store, [chunk])
                rows_in_store[0] = store.count_rows()
                stored += 1
                if stop_after is not None and stored >= stop_after:
                    raise SystemExit  # "kill": the chunk is stored but its checkpoint never saved
            return on_chunk

        first = tail(log, store, chunk_bytes=4096)  # ~7 chunks for the first 300 lines
        with log.open("a") as fh:
            fh.writelines(line + "\n" for line in lines[:300])
        runner = TailThread(first, store_then_commit(first, stop_after=3))  # 2 chunks committed, 1 not
        with runner:
            runner.thread.join(timeout=10)
        first.close()
        assert isinstance(runner.error, SystemExit) and 0 < rows_in_store[0] < 300
        cp = store.last_checkpoint_at(str(log))
        assert cp is not None and 0 < cp.offset < log.stat().st_size
        with log.open("a") as fh:  # more lines while down, then a rotation
            fh.writelines(line + "\n" for line in lines[300:400])
        log.rename(tmp_path / "auth.log.1")
        with log.open("a") as fh:
            fh.writelines(line + "\n" for line in lines[400:])
        second = tail(log, store, chunk_bytes=4096)
        with TailThread(second, store_then_commit(second, None)) as runner2:
            deadline = time.monotonic() + 20
            while rows_in_store[0] < len(lines) and time.monotonic() < deadline and runner2.error is None:
                time.sleep(0.05)
        assert runner2.error is None
        originals = [r[0] for r in store.query('SELECT "event.original" FROM events')]
    assert sorted(originals) == sorted(lines)
    assert len(originals) == len(set(originals)) == len(lines)
