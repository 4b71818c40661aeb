"""A real `kill -9` of a process tailing into a real DuckDB store, twice, with a rotation while it
is down: afterwards every line is in the store exactly once.

The child process is the production path (FileTailer → ingest_chunks → EventStore, checkpoint
committed after each stored chunk). It prints the store's row count after each chunk so the test
can kill it mid-stream and know when it has caught up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = r"""
import sys
from pathlib import Path
from hostwarden.collect.tailer import FileTailer
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import EventStore

log, data = sys.argv[1], Path(sys.argv[2])
with EventStore(data) as store:
    tailer = FileTailer([log], store, poll_interval=0.01, chunk_bytes=4096, rotate_wait=0.5)
    for chunk in tailer.follow():
        ingest_chunks(store, [chunk])
        tailer.commit(chunk)
        print(store.count_rows(), flush=True)
"""


def line(i: int) -> str:
    return (f"Nov 28 11:{i // 60 % 60:02d}:{i % 60:02d} db1 sshd[{2000 + i}]: Failed password for invalid user "
            f"u{i} from 198.51.100.{i % 200} port {30000 + i} ssh2")


class Child:
    def __init__(self, log: Path, data: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, str(log), str(data)], stdout=subprocess.PIPE,
                                     text=True)

    def wait_rows(self, at_least: int, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        rows = 0
        assert self.proc.stdout is not None
        while rows < at_least and time.monotonic() < deadline:
            out = self.proc.stdout.readline()
            if not out:
                break
            rows = int(out)
        return rows

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def write(log: Path, lines: range) -> None:
    with log.open("a") as fh:
        for i in lines:
            fh.write(line(i) + "\n")
            if i % 100 == 0:
                fh.flush()
                time.sleep(0.005)


def test_kill9_mid_stream_and_rotation_while_down_store_every_line_once(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    log, data = tmp_path / "auth.log", tmp_path / "data"
    total = 3000
    write(log, range(0, 1000))
    child = Child(log, data)
    assert child.wait_rows(300) >= 300
    child.kill9()  # somewhere mid-file: stored chunks may not have their checkpoint yet

    write(log, range(1000, 1500))
    log.rename(tmp_path / "auth.log.1")  # rotated while nobody was tailing
    write(log, range(1500, 2000))
    child = Child(log, data)
    assert child.wait_rows(1700) >= 1700
    child.kill9()

    write(log, range(2000, total))
    child = Child(log, data)
    caught_up = child.wait_rows(total)
    child.kill9()
    assert caught_up == total

    from hostwarden.store.eventstore import EventStore

    with EventStore(data) as store:
        originals = [r[0] for r in store.query('SELECT "event.original" FROM events')]
        actions = store.query('SELECT count(*) FROM events WHERE "event.action" = \'ssh_login_failed\'')[0][0]
    assert len(originals) == total
    assert sorted(originals) == sorted(line(i) for i in range(total))
    assert actions == total
