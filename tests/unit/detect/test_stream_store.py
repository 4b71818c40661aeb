"""watch stores syslog and access-log chunks through the columnar plan: the stored rows must be
the ones the per-event path stores, including sshd addresses carried across store batches."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from hostwarden.core.chunks import Chunk
from hostwarden.pipelines.watch.runtime import _Source
from hostwarden.pipelines.watch.storewriter import BACKGROUND_NICE, StoreWriter, background_priority
from hostwarden.store.eventstore import EventStore

SSHD_FIRST = (
    b"Nov 28 10:00:01 web1 sshd[100]: Connection from 203.0.113.9 port 40000 on 10.0.0.1 port 22 rdomain \"\"\n"
    b"Nov 28 10:00:02 web1 sshd[100]: Failed password for root from 203.0.113.9 port 40000 ssh2\n"
    b"Nov 28 10:00:02 web1 sshd[101]: Accepted publickey for deploy from 198.51.100.7 port 5000 ssh2: RSA SHA256:x\n"
    b"Nov 28 10:00:03 web1 CRON[7]: (root) CMD (run-parts /etc/cron.hourly)\n"
)
SSHD_SECOND = (
    b"Nov 28 10:00:09 web1 sshd[100]: Disconnecting: Too many authentication failures [preauth]\n"
    b"Nov 28 10:00:09 web1 sshd[101]: pam_unix(sshd:session): session closed for user deploy\n"
    b"Nov 28 10:00:10 web1 sshd[102]: Disconnecting: Too many authentication failures [preauth]\n"
    b"this line is no syslog at all\n"
    b"Nov 28 10:00:11 web1 sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/id\n"
)
ACCESS = (
    b'203.0.113.9 - - [28/Nov/2026:10:00:01 +0000] "GET /.env HTTP/1.1" 404 12 "-" "curl/8"\n'
    b'2001:db8::1 - - [28/Nov/2026:10:00:02 +0000] "GET /a?b=c HTTP/1.1" 200 5 "-" "Mozilla/5.0"\n',
    b'198.51.100.7 - alice [28/Nov/2026:10:00:03 +0000] "POST /login HTTP/2.0" 302 0 "https://x/" "x \\"y\\""\n'
    b"garbage\n",
)


def _stored(tmp_path: Path, name: str, path: str, parts: tuple[bytes, ...], parser: str, columnar: bool) -> list[dict]:
    source = _Source(path, parser)
    with EventStore(tmp_path / name) as store:
        sink = StoreWriter(store, "default", commit=lambda chunk: None)
        sink.start()
        offset = 0
        for data in parts:
            chunk = Chunk(path, offset, data)
            offset = chunk.end_offset
            events = source.parse(chunk)
            if columnar:
                sink.events(path, events, chunk, parser=parser, ctx=source.ctx)
            else:
                sink.events(path, events, chunk)
            sink.save(lambda con: None, wait=True)  # each part is its own store batch
        sink.close()
        table = store.query_arrow('SELECT * EXCLUDE ("event.ingested") FROM events ORDER BY "log.offset"')
    return table.to_pylist()


@pytest.mark.parametrize(("path", "parts", "parser"), [
    ("/var/log/auth.log", (SSHD_FIRST, SSHD_SECOND), "syslog"),
    ("/var/log/nginx/access.log", ACCESS, "web.access"),
])
def test_columnar_store_path_stores_what_the_per_event_path_stores(tmp_path: Path, path: str, parts: tuple[bytes, ...],
                                                                    parser: str) -> None:
    columnar = _stored(tmp_path, "columnar", path, parts, parser, columnar=True)
    per_event = _stored(tmp_path, "per-event", path, parts, parser, columnar=False)
    assert len(columnar) == len(per_event) == sum(p.count(b"\n") for p in parts)
    for got, want in zip(columnar, per_event, strict=True):
        # a line without a time is placed at its own ingest time: that alone may differ
        skip = {"labels"} | ({"@timestamp"} if "parse_failure" in (want["tags"] or []) else set())
        assert {k: v for k, v in got.items() if k not in skip} == {k: v for k, v in want.items() if k not in skip}
        assert dict(got["labels"] or []) == dict(want["labels"] or [])


def test_sshd_address_carried_from_an_earlier_store_batch(tmp_path: Path) -> None:
    rows = _stored(tmp_path, "carry", "/var/log/auth.log", (SSHD_FIRST, SSHD_SECOND), "syslog", columnar=True)
    by_line = {r["event.original"]: r for r in rows}
    carried = by_line[SSHD_SECOND.split(b"\n")[0].decode()]
    assert (carried["source.ip"], carried["source.port"]) == ("203.0.113.9", 40000)
    unknown_session = by_line[SSHD_SECOND.split(b"\n")[2].decode()]
    assert unknown_session["source.ip"] is None
    assert "parse_failure" in by_line["this line is no syslog at all"]["tags"]


def test_an_idle_store_thread_merges_the_small_segments_of_a_busy_stretch(tmp_path: Path, monkeypatch) -> None:
    from hostwarden.pipelines.watch import storewriter as sink_module
    from hostwarden.store import segments

    monkeypatch.setattr(segments, "SEGMENT_MIN_ROWS", 50)  # each flush below becomes a segment
    monkeypatch.setattr(sink_module, "IDLE_COMPACT_SECONDS", 1.0)
    path = "/var/log/auth.log"
    source = _Source(path, "syslog")
    lines = b"".join(b"Nov 28 10:00:%02d web1 sshd[%d]: Failed password for root from 203.0.113.9 port %d ssh2\n"
                     % (i % 60, 100 + i, 4000 + i) for i in range(60))
    with EventStore(tmp_path) as store:
        sink = StoreWriter(store, "default", commit=lambda chunk: None)
        sink.start()
        offset = 0
        for _ in range(segments.COMPACT_AT):
            chunk = Chunk(path, offset, lines)
            offset = chunk.end_offset
            sink.events(path, source.parse(chunk), chunk, parser="syslog", ctx=source.ctx)
            sink.save(lambda con: None, wait=True)  # flushed now, while busy: no merge yet
        with sink.lock:
            assert len(segments.registered(store.con)) == segments.COMPACT_AT
        deadline = time.monotonic() + 10
        while sink.compacted == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        sink.close()
        assert sink.compacted == segments.COMPACT_AT
        assert len(segments.registered(store.con)) == 1
        assert store.count_rows() == 60 * segments.COMPACT_AT
        assert store.query('SELECT count(DISTINCT "event.id") FROM events')[0][0] == 60 * segments.COMPACT_AT


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread nice is Linux")
def test_store_thread_runs_at_a_lower_priority_than_detection() -> None:
    seen: dict[str, int] = {}

    def run() -> None:
        background_priority()
        seen["store"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen["store"] == min(19, own + BACKGROUND_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # only that thread
