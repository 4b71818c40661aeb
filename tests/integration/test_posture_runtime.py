"""Runtime scan on this live machine: real processes from copied binaries, real sockets."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.runtime import RuntimeScanner, sockets

pytestmark = pytest.mark.integration


@pytest.fixture()
def tmp_bin_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="hw-runtime-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _scan() -> dict[int, dict]:
    found = ecs_records(RuntimeScanner().scan(ScanContext(root=Path("/"), live=True, options={"cpu_cap": 0})))
    return {f["process.pid"]: f for f in found}


def _flags(f: dict) -> set[str]:
    return {x["flag"] for x in f["hostwarden.evidence"]["flags"]}


def test_deleted_binary_in_tmp_is_flagged(tmp_bin_dir: Path) -> None:
    binary = tmp_bin_dir / "kworkerd"
    shutil.copy2(shutil.which("sleep") or "/bin/sleep", binary)
    child = subprocess.Popen([str(binary), "30"])
    try:
        time.sleep(0.2)
        binary.unlink()
        found = _scan()
        assert child.pid in found
        f = found[child.pid]
        assert {"executable_deleted", "executable_in_tmp"} <= _flags(f)
        assert f["hostwarden.grade"] == "L1" and f["process.executable"].startswith(str(binary))
    finally:
        child.kill()
        child.wait()
    assert child.pid not in _scan()


def test_miner_name_is_flagged(tmp_bin_dir: Path) -> None:
    binary = tmp_bin_dir / "xmrig"
    shutil.copy2(shutil.which("sleep") or "/bin/sleep", binary)
    child = subprocess.Popen([str(binary), "30"])
    try:
        time.sleep(0.2)
        assert "miner" in _flags(_scan()[child.pid])
    finally:
        child.kill()
        child.wait()


def test_shell_with_socket_stdin_is_a_reverse_shell() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    shell = shutil.which("sh") or "/bin/sh"
    child = subprocess.Popen([shell], stdin=client.fileno(), stdout=client.fileno(), stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.2)
        f = _scan()[child.pid]
        assert "reverse_shell" in _flags(f) and f["hostwarden.grade"] == "L1"
        assert any(s["state"] == "ESTABLISHED" for s in f["hostwarden.evidence"]["sockets"])
    finally:
        child.kill()
        child.wait()
        for s in (client, peer, server):
            s.close()


def test_plain_sleep_is_not_flagged() -> None:
    child = subprocess.Popen([shutil.which("sleep") or "/bin/sleep", "30"])
    try:
        time.sleep(0.2)
        assert child.pid not in _scan()
    finally:
        child.kill()
        child.wait()


def test_socket_table_parses_a_real_listener() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        assert any(s.state == "LISTEN" and s.local == ("127.0.0.1", port) for s in sockets().values())
    finally:
        server.close()


def test_offline_root_is_skipped(tmp_path: Path) -> None:
    scanner = RuntimeScanner()
    assert ecs_records(scanner.scan(ScanContext(root=tmp_path, live=False))) == []
    assert "skipped" in scanner.summary


def test_pid_missing_from_listing_is_hidden(tmp_path: Path) -> None:
    """A /proc view that omits a live pid (what an LD_PRELOAD rootkit shows) makes the probe report it."""
    from hostwarden.scan.runtime import hidden_pids, listed_pids

    child = subprocess.Popen([shutil.which("sleep") or "/bin/sleep", "30"])
    # A later process keeps the sweep's upper bound (highest listed pid + 256) above the child's
    # pid even when many short-lived processes came and went just before it.
    anchor = subprocess.Popen([shutil.which("sleep") or "/bin/sleep", "30"])
    try:
        real = listed_pids()
        for pid in real - {child.pid}:
            (tmp_path / str(pid)).mkdir()
        assert child.pid in hidden_pids(real - {child.pid}, tmp_path)
        assert child.pid not in hidden_pids(listed_pids(), Path("/proc"))
    finally:
        for proc in (child, anchor):
            proc.kill()
            proc.wait()


def test_listener_of_unpackaged_binary() -> None:
    from hostwarden.scan.runtime import Proc, Sock, judge

    sock = {7: Sock("tcp", ("0.0.0.0", 8080), ("0.0.0.0", 0), "LISTEN")}
    rogue = Proc(pid=10, name="srv", exe="/opt/x/srv", fds={3: 7})
    packaged = {"/usr/sbin/nginx"}
    assert [f[0] for f in judge(rogue, sock, packaged)] == ["listener_unpackaged"]
    nginx = Proc(pid=11, name="nginx", exe="/usr/sbin/nginx", fds={3: 7})
    assert judge(nginx, sock, packaged) == []


def test_process_tree_inventory() -> None:
    child = subprocess.Popen([shutil.which("sleep") or "/bin/sleep", "30"])
    try:
        time.sleep(0.1)
        scanner = RuntimeScanner()
        ecs_records(scanner.scan(ScanContext(root=Path("/"), live=True, options={"cpu_cap": 0, "runtime_inventory": True,
                                                                      "runtime_hidden_check": False})))

        def walk(nodes: list[dict]) -> Iterator[dict]:
            for n in nodes:
                yield n
                yield from walk(n["children"])

        flat = {n["process.pid"]: n for n in walk(scanner.summary["tree"])}
        assert flat[child.pid]["process.name"] == "sleep"
        assert flat[child.pid]["process.parent.pid"] == os.getpid()
        assert len(flat) == scanner.summary["processes"]
    finally:
        child.kill()
        child.wait()
