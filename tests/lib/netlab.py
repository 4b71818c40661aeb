"""Shared pieces of the real-component tests: network namespaces built for one test.

`netns_lab()` makes a server, an attacker and an admin namespace, each peer joined to the server
by its own veth pair; every address exists only inside them, and everything is deleted after.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

PID = os.getpid()
PORT = 2222
PROBE = f"import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else {PORT}), timeout=1.0).close()"


@dataclass
class Lab:
    server: str
    attacker: str
    admin: str
    server_v4: str = "10.233.1.1"
    attacker_v4: str = "10.233.1.2"
    admin_v4: str = "10.233.2.2"
    server_admin_v4: str = "10.233.2.1"  # the server's address on the admin's link
    server_v6: str = "fd00:233:1::1"
    attacker_v6: str = "fd00:233:1::2"

    def connects(self, ns: str, address: str, port: int = PORT) -> bool:
        """Whether a TCP connection from namespace `ns` to the server's port succeeds now."""
        return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", PROBE, address, str(port)],
                              capture_output=True, timeout=20).returncode == 0

    def server_ip(self, v6: bool) -> str:
        return self.server_v6 if v6 else self.server_v4


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=20)


def need(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


@contextmanager
def netns_lab(tag: str = "hwr") -> Iterator[Lab]:
    need("ip", "nft")
    lab = Lab(f"{tag}{PID}s", f"{tag}{PID}a", f"{tag}{PID}m")
    created: list[str] = []
    try:
        for ns in (lab.server, lab.attacker, lab.admin):
            run("ip", "netns", "add", ns)
            created.append(ns)
        for peer, (s_if, p_if), (s_addr, p_addr), v6 in (
            (lab.attacker, (f"{tag[:2]}a{PID}s"[:15], f"{tag[:2]}a{PID}p"[:15]), ("10.233.1.1/24", "10.233.1.2/24"),
             ("fd00:233:1::1/64", "fd00:233:1::2/64")),
            (lab.admin, (f"{tag[:2]}m{PID}s"[:15], f"{tag[:2]}m{PID}p"[:15]), ("10.233.2.1/24", "10.233.2.2/24"), None),
        ):
            run("ip", "link", "add", s_if, "netns", lab.server, "type", "veth", "peer", "name", p_if, "netns", peer)
            for ns, ifname, addr in ((lab.server, s_if, s_addr), (peer, p_if, p_addr)):
                run("ip", "-n", ns, "addr", "add", addr, "dev", ifname)
                run("ip", "-n", ns, "link", "set", ifname, "up")
                run("ip", "-n", ns, "link", "set", "lo", "up")
            if v6:
                for ns, ifname, addr in ((lab.server, s_if, v6[0]), (peer, p_if, v6[1])):
                    run("ip", "-n", ns, "addr", "add", addr, "dev", ifname, "nodad")
        yield lab
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot build network namespaces here: {exc.stderr!r}")
    finally:
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False
