"""`watch --respond` end to end against the real kernel, in network namespaces the test makes.

A small SSH-style service in the server namespace writes an sshd line to an auth log for every
login attempt, with the real peer address of the connection. `hostwarden watch --respond`
follows that log; an attacker namespace guesses passwords; the playbook blocks it with nftables
(or iptables + ipset): its next connection fails, the allowlisted admin — who also fumbled his
password five times — still connects, and after the block's TTL the attacker connects again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netlab import PID, need, netns_lab, until  # tests/lib (pytest's pythonpath)

pytestmark = pytest.mark.integration

SSH_PORT = 2022
AUTH_SERVICE = r"""
import socket, sys, time
log = open(sys.argv[1], "a", buffering=1)
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", PORT)); srv.listen(64)
print("ready", flush=True)
pid = 3000
while True:
    conn, (ip, port) = srv.accept()
    conn.settimeout(2)
    try:
        said = conn.recv(256).decode("utf-8", "replace").strip()
    except OSError:
        said = ""
    pid += 1
    stamp = time.strftime("%b %e %H:%M:%S")
    verdict = "Accepted" if said == "PASS correct-horse" else "Failed"
    log.write(f"{stamp} srv sshd[{pid}]: {verdict} password for root from {ip} port {port} ssh2\n")
    try:
        conn.sendall(b"ok\n" if verdict == "Accepted" else b"denied\n")
    except OSError:
        pass
    conn.close()
""".replace("PORT", str(SSH_PORT))
GUESS = r"""
import socket, sys
ok = 0
for i in range(int(sys.argv[2])):
    try:
        c = socket.create_connection((sys.argv[1], PORT), timeout=2); c.sendall(f"PASS guess{i}\n".encode())
        c.recv(16); c.close(); ok += 1
    except OSError:
        pass
print(ok)
""".replace("PORT", str(SSH_PORT))
PLAYBOOK = """\
id: block-ssh-guessers
title: Block SSH brute force for a few seconds (test)
trigger:
  rules: [6b1f4f6e-1d0e-4c53-9a57-0f3d7c0a1003]
  grades: [L1, L2]
actions:
  - block_ip: {field: source.ip, ttl: 5s}
approval: auto
"""


def _guess(ns: str, server: str, tries: int) -> int:
    done = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", GUESS, server, str(tries)],
                          capture_output=True, text=True, timeout=60)
    return int(done.stdout.strip() or 0)


@pytest.mark.parametrize("backend", ["nft", "ipset"])
def test_watch_respond_blocks_the_brute_forcer_not_the_admin_and_lets_go_after_the_ttl(tmp_path: Path,
                                                                                        backend: str) -> None:
    if backend == "ipset":
        need("ipset", "iptables")
    with netns_lab("hwe") as lab:
        log = tmp_path / "auth.log"
        log.touch()
        (tmp_path / "pb.yml").write_text(PLAYBOOK)
        (tmp_path / "hw.toml").write_text(f"""
[detect]
state_interval_seconds = 1

[respond]
builtin_playbooks = false
playbooks = ["{tmp_path / 'pb.yml'}"]

[respond.firewall]
backend = "{backend}"
prefix = ["ip", "netns", "exec", "{lab.server}"]
table = "hwe{PID}"
ipset_v4 = "hwe{PID}v4"
ipset_v6 = "hwe{PID}v6"

[respond.allowlist]
management = ["{lab.admin_v4}"]
""")
        service = subprocess.Popen(["ip", "netns", "exec", lab.server, sys.executable, "-c", AUTH_SERVICE, str(log)],
                                   stdout=subprocess.PIPE, text=True)
        watch = None
        try:
            assert service.stdout is not None and service.stdout.readline().strip() == "ready"
            watch = subprocess.Popen([sys.executable, "-m", "hostwarden.cli", "watch", str(log), "--respond",
                                      "--config", str(tmp_path / "hw.toml"), "--data-dir", str(tmp_path / "data"),
                                      "--format", "json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "COLUMNS": "200"})
            assert watch.stderr is not None
            assert until(lambda: "watching" in watch.stderr.readline(), 60)
            assert lab.connects(lab.attacker, lab.server_v4, SSH_PORT)
            assert _guess(lab.admin, lab.server_admin_v4, 6) == 6  # the admin fumbles too: an alert, and the allowlist says no
            assert _guess(lab.attacker, lab.server_v4, 6) == 6
            assert until(lambda: not lab.connects(lab.attacker, lab.server_v4, SSH_PORT), 60), "never blocked"
            blocked_at = time.monotonic()
            assert lab.connects(lab.admin, lab.server_admin_v4, SSH_PORT)  # never against our own people
            assert until(lambda: lab.connects(lab.attacker, lab.server_v4, SSH_PORT), 40), "block never lifted"
            assert time.monotonic() - blocked_at >= 2.0
        finally:
            if watch is not None:
                watch.terminate()
                watch.wait(timeout=60)
            service.kill()
            service.wait()
        listed = subprocess.run([sys.executable, "-m", "hostwarden.cli", "respond", "list", "--data-dir",
                                 str(tmp_path / "data"), "--config", str(tmp_path / "hw.toml"), "--format", "json"],
                                capture_output=True, text=True, timeout=120)
        assert lab.attacker_v4 in listed.stdout and "applied" in listed.stdout + "expired"
        verify = subprocess.run([sys.executable, "-m", "hostwarden.cli", "audit", "verify", "--data-dir",
                                 str(tmp_path / "data"), "--config", str(tmp_path / "hw.toml")],
                                capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, verify.stdout + verify.stderr
