"""block_ip and isolate_host against the real kernel, in network namespaces this test creates.

Three namespaces: a server with a listening TCP socket (IPv4 and IPv6), an attacker and an
admin, each joined to the server by its own veth pair (all addresses exist only inside the
namespaces). The responder runs the firewall tools inside the server namespace through its
configured command prefix. A block must stop the attacker's connections and only those —
the allowlisted admin still connects — and the kernel must lift it when the TTL ends; the
same for the iptables + ipset fallback. Isolation keeps only the management address.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netlab import PID, PORT, Lab, need, netns_lab, run, until  # tests/lib (pytest's pythonpath)

from hostwarden.respond.engine import Responder
from hostwarden.respond.playbook import parse_playbook
from hostwarden.respond.settings import RespondSettings, respond_settings

pytestmark = pytest.mark.integration

SERVER = r"""
import selectors, socket
sel = selectors.DefaultSelector()
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, PORT)); s.listen(64); s.setblocking(False); sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        try:
            c, _ = key.fileobj.accept(); c.close()
        except OSError:
            pass
""".replace("PORT", str(PORT))


@pytest.fixture
def lab() -> Iterator[Lab]:
    with netns_lab("hwr") as lab:
        server = subprocess.Popen(["ip", "netns", "exec", lab.server, sys.executable, "-c", SERVER],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            yield lab
        finally:
            server.kill()
            server.wait()


def _responder(lab: Lab, tmp_path: Path, backend: str, ttl: str) -> Responder:
    settings: RespondSettings = respond_settings({
        "builtin_playbooks": False,
        "firewall": {"backend": backend, "prefix": ["ip", "netns", "exec", lab.server],
                     "table": f"hw{PID}", "ipset_v4": f"hw{PID}v4", "ipset_v6": f"hw{PID}v6"},
        "allowlist": {"management": [lab.admin_v4]},
    }, tmp_path / "data")
    book = parse_playbook({"id": "block", "trigger": {"grades": ["L2"]},
                           "actions": [{"block_ip": {"field": "source.ip", "ttl": ttl}}]}, "<test>", settings)
    return Responder(settings, [book])  # host addresses discovered inside the server namespace


@pytest.mark.parametrize("backend", ["nft", "ipset"])
@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_block_stops_the_attacker_not_the_admin_and_expires(lab: Lab, tmp_path: Path, backend: str, v6: bool) -> None:
    if backend == "ipset":
        need("ipset", "iptables", "ip6tables")
    attacker = lab.attacker_v6 if v6 else lab.attacker_v4
    target = lab.server_ip(v6)
    assert lab.connects(lab.attacker, target) and lab.connects(lab.admin, lab.server_admin_v4)
    r = _responder(lab, tmp_path, backend, "3s")
    try:
        (refused,) = r.handle({"hostwarden.grade": "L2", "source.ip": lab.admin_v4}, wait=True)
        assert (refused.status, refused.code) == ("refused", "RESP-6001")
        (own,) = r.handle({"hostwarden.grade": "L2", "source.ip": lab.server_v4}, wait=True)  # the host itself
        assert (own.status, own.code) == ("refused", "RESP-6001")
        (out,) = r.handle({"hostwarden.grade": "L2", "source.ip": attacker}, wait=True)
        blocked_at = time.monotonic()
        assert out.status == "applied", out
        assert not lab.connects(lab.attacker, target)
        assert lab.connects(lab.admin, lab.server_admin_v4)
        # the kernel lifts the block when the TTL ends, with hostwarden doing nothing
        assert until(lambda: lab.connects(lab.attacker, target), 20)
        assert time.monotonic() - blocked_at >= 2.0
    finally:
        r.close()


@pytest.mark.parametrize("backend", ["nft", "ipset"])
def test_undo_by_command_lifts_a_long_block(lab: Lab, tmp_path: Path, backend: str) -> None:
    if backend == "ipset":
        need("ipset", "iptables", "ip6tables")
    r = _responder(lab, tmp_path, backend, "1h")
    try:
        (out,) = r.handle({"hostwarden.grade": "L2", "source.ip": lab.attacker_v4}, wait=True)
        assert out.status == "applied" and not lab.connects(lab.attacker, lab.server_v4)
        again = r.handle({"hostwarden.grade": "L2", "source.ip": lab.attacker_v4}, wait=True)[0]
        assert again.status == "active"  # idempotent: the same block, not a second one
        assert r.undo(out.id).status == "undone"
        assert lab.connects(lab.attacker, lab.server_v4)
        assert r.list_actions(("active",)) == []
    finally:
        r.close()


def test_a_longer_block_replaces_a_shorter_one_in_the_kernel(lab: Lab, tmp_path: Path) -> None:
    short = _responder(lab, tmp_path, "nft", "30s")
    long = _responder(lab, tmp_path, "nft", "2h")
    try:
        assert short.handle({"hostwarden.grade": "L2", "source.ip": lab.attacker_v4}, wait=True)[0].status == "applied"
        (out,) = long.handle({"hostwarden.grade": "L2", "source.ip": lab.attacker_v4}, wait=True)
        assert out.status == "refreshed", out
        listed = subprocess.run(["ip", "netns", "exec", lab.server, "nft", "-j", "list", "set", "inet", f"hw{PID}", "v4"],
                                capture_output=True, text=True, timeout=20).stdout
        (elem,) = json.loads(listed)["nftables"][1]["set"]["elem"]
        assert elem["elem"]["val"] == lab.attacker_v4 and elem["elem"]["timeout"] == 7200
    finally:
        short.close()
        long.close()


def test_blocks_survive_a_flushed_ruleset(lab: Lab, tmp_path: Path) -> None:
    r = _responder(lab, tmp_path, "nft", "1h")
    try:
        r.handle({"hostwarden.grade": "L2", "source.ip": "10.233.1.99"}, wait=True)
        run("ip", "netns", "exec", lab.server, "nft", "flush", "ruleset")
        (out,) = r.handle({"hostwarden.grade": "L2", "source.ip": lab.attacker_v4}, wait=True)
        assert out.status == "applied"  # the table and chains were declared again in the same call
        assert not lab.connects(lab.attacker, lab.server_v4)
    finally:
        r.close()


def test_isolation_keeps_only_management_reachable_and_undo_restores(lab: Lab, tmp_path: Path) -> None:
    settings = respond_settings({
        "builtin_playbooks": False,
        "firewall": {"prefix": ["ip", "netns", "exec", lab.server], "isolate_table": f"hwiso{PID}"},
        "allowlist": {"management": [lab.admin_v4]},
    }, tmp_path / "data")
    book = parse_playbook({"id": "iso", "trigger": {"grades": ["L1"]},
                           "actions": [{"isolate_host": {}, "approval": "auto"}]}, "<test>", settings)
    r = Responder(settings, [book])
    try:
        (out,) = r.handle({"hostwarden.grade": "L1", "host.name": "server"}, wait=True)
        assert out.status == "applied", out
        assert lab.connects(lab.admin, lab.server_admin_v4)
        assert not lab.connects(lab.attacker, lab.server_v4)
        assert not lab.connects(lab.attacker, lab.server_v6)
        assert r.undo(out.id).status == "undone"
        assert lab.connects(lab.attacker, lab.server_v4)
        tables = subprocess.run(["ip", "netns", "exec", lab.server, "nft", "list", "tables"], capture_output=True,
                                text=True, timeout=20).stdout
        assert f"hwiso{PID}" not in tables
    finally:
        r.close()
    unsafe = respond_settings({"builtin_playbooks": False, "allowlist": {"include_host": False}}, tmp_path / "d2")
    r = Responder(unsafe, [parse_playbook({"id": "iso", "trigger": {"grades": ["L1"]},
                                           "actions": [{"isolate_host": {}, "approval": "auto"}]}, "<t>", unsafe)])
    try:
        (out,) = r.handle({"hostwarden.grade": "L1"}, wait=True)
        assert (out.status, out.code) == ("refused", "RESP-6019")  # no management address: never isolate
    finally:
        r.close()
