"""`ingest` with chunks of 64 KB, 1 MB, 6 MB (and any size in between) and `watch` store the same
events for the same files: what a line carries to later lines (sshd addresses, attempt tags) and
the zone of its time never depend on where a chunk ended or on which executor read it.

Generated auth logs of interleaved sshd connections (brute forces written by PAM and by sshd,
probes, typos then a login, old sshd's PAM lines, reused pids) in two files; in `ingest`,
chunks of 2,000 lines or more take the columnar plan and smaller ones the line parser, so a drawn
chunk size mixes both within a file; `watch` parses every chunk per line for detection and again
columnar for its store, in batches of a drawn size.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from watching import watch_until

from hostwarden.collect.files import FileReader
from hostwarden.core.checkpoint import MemoryCheckpoints
from hostwarden.core.config import load_config
from hostwarden.normalize.source import context_for
from hostwarden.normalize.timezones import ZonePolicy
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.pipelines.watch import runtime, storewriter
from hostwarden.store.eventstore import EventStore

KB, MB = 1 << 10, 1 << 20
PAM = "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}{user}"


def connection(rng: random.Random, t: datetime, pid: int, ip: str) -> list[tuple[datetime, str]]:
    """One sshd connection's lines, as OpenSSH 6-9 and its PAM module write them."""
    user = rng.choice(["root", "admin", "deploy", "alice", "oracle"])
    port = rng.randint(1024, 65535)
    sp = f"sshd[{pid}]: "
    kind = rng.choice(["brute", "brute", "probe", "typo", "old", "key"])
    out: list[tuple[datetime, str]] = []

    def add(seconds: float, text: str) -> None:
        out.append((t + timedelta(seconds=seconds), text))

    if kind in ("brute", "typo"):
        add(0, sp + PAM.format(ip=ip, user=f"  user={user}"))
        tries = rng.randint(1, 6) if kind == "brute" else rng.randint(1, 3)
        for i in range(tries):
            add(1 + 3 * i, sp + f"Failed password for {user} from {ip} port {port} ssh2")
        if kind == "typo":
            add(2 + 3 * tries, sp + f"Accepted password for {user} from {ip} port {port} ssh2")
            add(2 + 3 * tries, sp + f"pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)")
        else:
            add(3 * tries, sp + f"PAM {tries - 1} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= "
                f"rhost={ip}  user={user}")
            add(3 * tries, sp + "Disconnecting: Too many authentication failures [preauth]")
    elif kind == "probe":
        add(0, sp + f"Invalid user {user}x from {ip} port {port}")
        add(0, sp + "pam_unix(sshd:auth): check pass; user unknown")
        add(1, sp + f"Connection closed by invalid user {user}x {ip} port {port} [preauth]")
    elif kind == "old":
        old = f"sshd(pam_unix)[{pid}]: "
        add(0, old + "check pass; user unknown")
        add(0, old + f"authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={ip}")
    else:
        add(0, sp + f"Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:x")
        add(30, sp + f"Received disconnect from {ip} port {port}:11: disconnected by user")
        add(30, sp + f"pam_unix(sshd:session): session closed for user {user}")
    return out


def auth_log(seed: int, host: str, lines: int) -> str:
    """Connections overlapping in time (so a connection's lines straddle any cut), pids reused,
    CRON lines between them, in time order."""
    rng = random.Random(seed)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    rows: list[tuple[datetime, str]] = []
    t = start
    while len(rows) < lines:
        t += timedelta(seconds=rng.randint(0, 20))
        rows += connection(rng, t, rng.randint(2000, 2300), f"203.0.113.{rng.randint(1, 40)}")
        if rng.random() < 0.5:
            rows.append((t, f"CRON[{rng.randint(100, 999)}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"))
    rows.sort(key=lambda r: r[0])
    return "".join(f"{when:%b %d %H:%M:%S} {host} {text}\n" for when, text in rows)


def stored(data: Path) -> list[dict[str, Any]]:
    with EventStore(data, read_only=True) as store:
        table = store.query_arrow('SELECT * EXCLUDE ("event.ingested") FROM events '
                                  "WHERE \"event.kind\" = 'event' ORDER BY \"log.file.path\", \"log.offset\"")
    return [{k: (dict(v or []) if k == "labels" else v) for k, v in row.items()} for row in table.to_pylist()]


def ingest(files: list[Path], data: Path, chunk_bytes: int, zones: ZonePolicy) -> list[dict[str, Any]]:
    with EventStore(data) as store:
        for path in files:
            reader = FileReader(path, MemoryCheckpoints(), chunk_bytes=chunk_bytes)
            ingest_chunks(store, reader.read_chunks(), ctx=context_for(str(path), path.stat().st_mtime, zones),
                          overlap=True)
    return stored(data)


def watch(files: list[Path], data: Path, zone: str, chunk_bytes: int, batch_events: int) -> list[dict[str, Any]]:
    cfg = load_config(None, data_dir=data)
    cfg.ingest.timezone = zone
    cfg.extra["detect"] = {"parse_worker": False}
    total = sum(p.read_bytes().count(b"\n") for p in files)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runtime, "CHUNK_BYTES", chunk_bytes)
        mp.setattr(storewriter, "COALESCE_EVENTS", batch_events)
        watch_until(cfg, files, total)
    return stored(data)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), zone=st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin"]),
       drawn=st.integers(4 * KB, 400 * KB), watch_chunk=st.integers(4 * KB, 64 * KB), batch=st.integers(300, 3000))
def test_ingest_at_any_chunk_size_and_watch_store_the_same_events(tmp_path_factory: pytest.TempPathFactory, seed: int,
                                                                   zone: str, drawn: int, watch_chunk: int,
                                                                   batch: int) -> None:
    base = tmp_path_factory.mktemp("logs")
    files = [base / "auth.log", base / "secure"]
    files[0].write_text(auth_log(seed, "web-01", 3000))
    files[1].write_text(auth_log(seed + 1, "db-02", 2200))
    cfg = load_config(None)
    cfg.ingest.timezone = zone
    zones = ZonePolicy.from_config(cfg.ingest)
    runs = {f"ingest {size // KB} KB": ingest(files, base / f"ingest-{size}", size, zones)
            for size in (64 * KB, 1 * MB, 6 * MB, drawn)}
    runs["watch"] = watch(files, base / "watch", zone, watch_chunk, batch)
    reference = runs.pop("ingest 6144 KB")
    assert len(reference) == sum(p.read_bytes().count(b"\n") for p in files)
    assert any("same_attempt" in (r["tags"] or []) for r in reference)  # the generated log has repeats to tag
    carried = [r for r in reference if r["event.dataset"] == "sshd" and r["source.ip"] and "from" not in r["message"]
               and "rhost" not in r["message"]]
    assert carried  # and lines whose address was carried
    for name, rows in runs.items():
        assert len(rows) == len(reference), name
        for got, want in zip(rows, reference, strict=True):
            assert got == want, (name, want["event.original"])
