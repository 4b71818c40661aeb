"""Parsing in a child process gives watch exactly the events its own thread would, in order,
and a worker that dies mid-stream costs nothing but speed."""

from __future__ import annotations

from pathlib import Path

from hostwarden.core.chunks import Chunk
from hostwarden.normalize.base import ParseContext
from hostwarden.pipelines.watch.parseworker import LocalParser, WorkerParser

LINES = [
    b"Nov  1 00:00:01 web-01 sshd[101]: Connection from 203.0.113.9 port 50000 on 10.0.0.1 port 22\n",
    b"Nov  1 00:00:02 web-01 sshd[101]: Failed password for invalid user admin from 203.0.113.9 port 50000 ssh2\n",
    b"Nov  1 00:00:03 web-01 sshd[101]: Disconnecting: Too many authentication failures [preauth]\n",
    b"\xff\xfe not a syslog line at all\n",
    b"Nov  1 00:00:04 web-01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/id\n",
]


def _chunks(path: str) -> list[Chunk]:
    out, offset = [], 0
    for i in range(0, len(LINES), 2):  # the sshd session spans chunks: parser state must carry over
        data = b"".join(LINES[i:i + 2])
        out.append(Chunk(path, offset, data))
        offset += len(data)
    return out


def _run(parser: LocalParser | WorkerParser, chunks: list[Chunk]) -> list[tuple[int, list[dict]]]:
    ctx = ParseContext(source=chunks[0].source)
    for chunk in chunks:
        parser.submit(chunk, "syslog", ctx)
    out = []
    while parser.pending:
        chunk, events, _ = parser.next()
        out.append((chunk.base_offset, events))
    parser.close()
    return out


def test_worker_events_equal_local_events_in_order(tmp_path: Path) -> None:
    chunks = _chunks(str(tmp_path / "auth.log"))
    notes: list[str] = []
    worker = _run(WorkerParser(on_failure=notes.append), chunks)
    local = _run(LocalParser(), chunks)
    assert notes == []
    assert [off for off, _ in worker] == [c.base_offset for c in chunks]
    assert worker == local
    events = [ev for _, evs in worker for ev in evs]
    assert len(events) == len(LINES)  # the bad line is kept, as a parse failure
    assert events[2].get("source.ip") == "203.0.113.9"  # carried from chunk 1 into chunk 2
    assert any("parse_failure" in (ev.get("tags") or []) for ev in events)


def test_dead_worker_falls_back_without_losing_a_chunk(tmp_path: Path) -> None:
    chunks = _chunks(str(tmp_path / "auth.log"))
    notes: list[str] = []
    parser = WorkerParser(on_failure=notes.append)
    parser._proc.kill()  # noqa: SLF001 - the failure under test
    parser._proc.wait()  # noqa: SLF001
    got = _run(parser, chunks)
    assert [off for off, _ in got] == [c.base_offset for c in chunks]
    assert sum(len(evs) for _, evs in got) == len(LINES)
    assert notes and "parsing in watch's own thread" in notes[0]


def _watch(tmp_path: Path, log: Path, worker: bool) -> tuple[list[dict], int]:
    import io
    import json
    import threading
    import time

    from hostwarden.core.config import load_config
    from hostwarden.pipelines.watch.runtime import Watch
    from hostwarden.store.eventstore import EventStore

    cfg = load_config(None, data_dir=tmp_path / f"data-{worker}")
    cfg.extra["detect"] = {"parse_worker": worker}
    out, stop = io.StringIO(), threading.Event()
    watch = Watch(cfg, [str(log)], fmt="json", out=out, err=io.StringIO(), poll_seconds=0.01)
    runner = threading.Thread(target=watch.run, args=(stop,))
    runner.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and getattr(getattr(watch, "counters", None), "events", 0) < 400:
        time.sleep(0.02)
    stop.set()
    runner.join(timeout=60)
    alerts = [json.loads(line) for line in out.getvalue().splitlines()]
    with EventStore(cfg.data_dir, read_only=True) as store:
        stored = store.con.execute("SELECT count(*) FROM events WHERE \"event.kind\" = 'event'").fetchone()[0]
    return alerts, stored


def test_watch_with_and_without_the_worker_alerts_and_stores_the_same(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    lines = []
    for i in range(400):  # a brute force from two sources, then a login: fast, slow and L1 rules fire
        ip = "203.0.113.7" if i % 2 else "198.51.100.4"
        lines.append(f"Nov  1 00:{i // 60:02d}:{i % 60:02d} web-01 sshd[{1000 + i}]: Failed password for root "
                     f"from {ip} port {40000 + i} ssh2\n")
    lines[-1] = "Nov  1 00:06:40 web-01 sshd[2000]: Accepted password for root from 203.0.113.7 port 1 ssh2\n"
    log.write_text("".join(lines))
    with_worker, stored_w = _watch(tmp_path, log, worker=True)
    without, stored_l = _watch(tmp_path, log, worker=False)
    key = [(a["rule.name"], a["source.ip"], a["hostwarden.trigger"]["offset"]) for a in with_worker]
    assert key == [(a["rule.name"], a["source.ip"], a["hostwarden.trigger"]["offset"]) for a in without]
    assert any(a["event.severity"] == 1 for a in with_worker)  # the login after brute force
    assert stored_w == stored_l == 400


def test_worker_runs_the_base_rules_it_was_given_tagged_with_their_generation(tmp_path: Path) -> None:
    from hostwarden.detect.dispatch import Dispatch
    from hostwarden.detect.ruleset import load_rules

    rules = load_rules()
    chunks = _chunks(str(tmp_path / "auth.log"))
    parser = WorkerParser(on_failure=lambda note: None)
    parser.set_rules(7, rules.base_rules)
    ctx = ParseContext(source=chunks[0].source)
    for chunk in chunks:
        parser.submit(chunk, "syslog", ctx)
    dispatch = Dispatch(rules.base_rules)
    seen = 0
    while parser.pending:
        _, events, matched = parser.next()
        assert matched is not None and matched[0] == 7
        assert matched[1] == [tuple(r.id for r in dispatch.matching(ev, rules.checks)) for ev in events]
        seen += sum(map(len, matched[1]))
    parser.close()
    assert seen >= 1  # the failed password matched the pack's SSH failure rule
