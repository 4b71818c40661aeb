"""The flow simulator against the real kernel, in two network namespaces this test creates.

A veth pair joins a client and a server namespace; every address probed is configured on
one of its ends (10.231.0.0/24), so no packet can leave them. For each random rule set
(user chains, RETURN, goto, LOG, negation, multiport, iprange, conntrack) loaded with
`iptables-restore` into the server namespace, concurrent TCP connects and UDP echoes from
the client show what the kernel allowed; the simulator must agree on every flow, both for
the generated text and for the kernel's own `iptables-save` dump of it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from hostwarden.scan.firewall.iptables import parse_iptables_save
from hostwarden.scan.firewall.model import Packet, addr_int
from hostwarden.scan.firewall.simulate import simulate

pytestmark = pytest.mark.integration

PID = os.getpid()
NS_S, NS_C = f"hwfw{PID}s", f"hwfw{PID}c"
VETH_S, VETH_C = f"hwv{PID}s"[:15], f"hwv{PID}c"[:15]
SERVER = [f"10.231.0.{i}" for i in (1, 2, 3, 4)]
CLIENT = [f"10.231.0.{i}" for i in (9, 10, 11, 12, 17, 18, 33, 34)]
TCP_PORTS = [22, 80, 443, 1000, 1001, 1002, 1003, 1005, 3306, 5432, 8080, 9000]
UDP_PORTS = [53, 123, 500, 1000, 1002, 5000, 5001, 5005]
RULE_SETS = 22
FLOWS_PER_SET = 50
TIMEOUT = 1.2

SERVER_SCRIPT = r"""
import selectors, socket, sys, json
tcp, udp, addrs = json.loads(sys.argv[1])
sel = selectors.DefaultSelector()
for p in tcp:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", p)); s.listen(512); s.setblocking(False); sel.register(s, selectors.EVENT_READ, "tcp")
for p in udp:  # one socket per address, so replies come from the address the probe was sent to
    for a in addrs:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((a, p)); s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "udp")
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        try:
            if key.data == "tcp":
                c, _ = s.accept(); c.close()
            else:
                data, addr = s.recvfrom(2048); s.sendto(data, addr)
        except OSError:
            pass
"""

CLIENT_SCRIPT = r"""
import errno, json, selectors, socket, sys, time
probes = json.load(sys.stdin); timeout = float(sys.argv[1])
sel = selectors.DefaultSelector(); result = [False] * len(probes)
for i, p in enumerate(probes):
    kind = socket.SOCK_STREAM if p["proto"] == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((p["src"], p["sport"])); s.setblocking(False)
    if p["proto"] == "tcp":
        s.connect_ex((p["dst"], p["dport"])); sel.register(s, selectors.EVENT_WRITE, i)
    else:
        s.connect((p["dst"], p["dport"])); s.send(b"probe"); sel.register(s, selectors.EVENT_READ, i)
deadline = time.monotonic() + timeout
while sel.get_map() and time.monotonic() < deadline:
    for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
        s, i = key.fileobj, key.data
        try:
            if probes[i]["proto"] == "tcp":
                result[i] = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            else:
                result[i] = s.recv(64) == b"probe"
        except OSError:
            result[i] = False
        sel.unregister(s); s.close()
json.dump(result, sys.stdout)
"""


def run(*cmd: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60, **kw)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}\n{kw.get('input', '')}")
    return done


@pytest.fixture(scope="module")
def namespaces() -> Iterator[None]:
    if not shutil.which("ip") or not shutil.which("iptables-restore"):
        pytest.skip("iproute2 or iptables not installed (make install adds them)")
    made = run("ip", "netns", "add", NS_S, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot create network namespaces here: {made.stderr.strip()}")
    server = None
    try:
        run("ip", "netns", "add", NS_C)
        run("ip", "link", "add", VETH_S, "netns", NS_S, "type", "veth", "peer", "name", VETH_C, "netns", NS_C)
        for ns, dev, addrs in ((NS_S, VETH_S, SERVER), (NS_C, VETH_C, CLIENT)):
            for a in addrs:
                run("ip", "-n", ns, "addr", "add", f"{a}/24", "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        server = subprocess.Popen(
            ["ip", "netns", "exec", NS_S, sys.executable, "-c", SERVER_SCRIPT, json.dumps([TCP_PORTS, UDP_PORTS, SERVER])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        yield
    finally:
        if server is not None:
            server.kill()
            server.wait(timeout=10)
        run("ip", "netns", "del", NS_C, check=False)
        run("ip", "netns", "del", NS_S, check=False)


@dataclass
class Flow:
    proto: str
    src: str
    sport: int
    dst: str
    dport: int


def _match(rng: random.Random, in_user_chain: bool) -> str:
    parts = []
    proto = rng.choice(["tcp", "udp", "tcp", None])
    if proto and rng.random() < 0.1:
        parts.append(f"! -p {proto}")  # port matches need a positive protocol
        proto = None
    elif proto:
        parts.append(f"-p {proto}")
    if rng.random() < 0.45:
        a = rng.choice(CLIENT)
        cidr = rng.choice([f"{a}/32", "10.231.0.8/29", "10.231.0.16/28", "10.231.0.0/27", f"{a}/31"])
        parts.append(f"{'! ' if rng.random() < 0.2 else ''}-s {cidr}")
    if rng.random() < 0.35:
        parts.append(f"{'! ' if rng.random() < 0.2 else ''}-d {rng.choice(SERVER)}/{rng.choice([32, 31, 30])}")
    if rng.random() < 0.15:
        lo = rng.randrange(8, 20)
        parts.append(f"-m iprange {'! ' if rng.random() < 0.3 else ''}--src-range 10.231.0.{lo}-10.231.0.{lo + 15}")
    if rng.random() < 0.2:
        parts.append(f"{'! ' if rng.random() < 0.5 else ''}-i {rng.choice([VETH_S, 'lo', 'hwv+'])}")
    if proto and rng.random() < 0.6:
        ports = TCP_PORTS if proto == "tcp" else UDP_PORTS
        r = rng.random()
        if r < 0.4:
            parts.append(f"-m {proto} {'! ' if rng.random() < 0.2 else ''}--dport {rng.choice(ports)}")
        elif r < 0.7:
            a, b = sorted(rng.sample(ports, 2))
            parts.append(f"-m {proto} --dport {a}:{b}")
        else:
            chosen = sorted(set(rng.sample(ports, rng.randrange(2, 5))))
            parts.append(f"-m multiport {'! ' if rng.random() < 0.2 else ''}--dports {','.join(map(str, chosen))}")
    if proto and rng.random() < 0.15:
        parts.append(f"-m {proto} --sport {rng.choice(['20000:40000', '40001:65535', '1024:30000'])}")
    if rng.random() < 0.15:
        parts.append(f"-m conntrack --ctstate {rng.choice(['NEW', 'ESTABLISHED,RELATED', 'NEW,ESTABLISHED', 'INVALID'])}")
    return " ".join(parts)


def random_ruleset(rng: random.Random) -> str:
    n_user = rng.randrange(1, 4)
    users = [f"U{k}" for k in range(n_user)]
    lines = ["*filter", f":INPUT {rng.choice(['ACCEPT', 'DROP'])} [0:0]", ":FORWARD ACCEPT [0:0]",
             ":OUTPUT ACCEPT [0:0]", *(f":{u} - [0:0]" for u in users)]

    def target(chain_index: int | None) -> str:
        r = rng.random()
        later = users[(chain_index + 1 if chain_index is not None else 0):]
        if later and r < 0.3:
            return f"{'-g' if rng.random() < 0.15 else '-j'} {rng.choice(later)}"
        if chain_index is not None and r < 0.5:
            return "-j RETURN"
        if r < 0.55:
            return "-j LOG --log-prefix \"hw \""
        return "-j " + rng.choice(["ACCEPT", "DROP", "REJECT", "ACCEPT", "DROP"])

    # The usual first rule: a probe's verdict is its first packet's (state NEW), and the handshake's
    # later packets must not be dropped or rejected by rules meant for other traffic.
    lines.append("-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
    for _ in range(rng.randrange(5, 12)):
        lines.append(f"-A INPUT {_match(rng, False)} {target(None)}".replace("  ", " "))
    lines.append(f"-A INPUT -j {rng.choice(users)}")  # every set reaches a user chain
    for k, u in enumerate(users):
        for _ in range(rng.randrange(2, 7)):
            lines.append(f"-A {u} {_match(rng, True)} {target(k)}".replace("  ", " "))
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def kernel_verdicts(flows: list[Flow]) -> list[bool]:
    out = run("ip", "netns", "exec", NS_C, sys.executable, "-c", CLIENT_SCRIPT, str(TIMEOUT),
              input=json.dumps([f.__dict__ for f in flows]))
    return json.loads(out.stdout)


def test_simulator_matches_kernel_on_random_rulesets(namespaces: None) -> None:
    rng = random.Random(int(os.environ.get("HW_FW_SEED", "6021")))
    sport = 20000 + rng.randrange(1000)
    total = agree = 0
    verdict_counts = {True: 0, False: 0}
    disagreements: list[str] = []
    started = time.monotonic()
    for _ in range(RULE_SETS):
        text = random_ruleset(rng)
        run("ip", "netns", "exec", NS_S, "iptables-restore", input=text)
        dumped = run("ip", "netns", "exec", NS_S, "iptables-save", "-t", "filter").stdout
        models = [parse_iptables_save(text, "generated"), parse_iptables_save(dumped, "kernel")]
        flows = []
        for _ in range(FLOWS_PER_SET):
            proto = rng.choice(["tcp", "udp"])
            sport += 1  # never reuse a 5-tuple: conntrack would call it ESTABLISHED
            flows.append(Flow(proto, rng.choice(CLIENT), sport, rng.choice(SERVER),
                              rng.choice(TCP_PORTS if proto == "tcp" else UDP_PORTS)))
        kernel = kernel_verdicts(flows)
        for flow, seen in zip(flows, kernel, strict=True):
            pkt = Packet(6 if flow.proto == "tcp" else 17, addr_int(flow.src), addr_int(flow.dst),
                         flow.sport, flow.dport, iif=VETH_S)
            predicted = [simulate(m, pkt).allowed for m in models]
            total += 1
            verdict_counts[seen] += 1
            if predicted == [seen, seen]:
                agree += 1
            else:
                path = [step["rule"] for step in simulate(models[0], pkt).path]
                disagreements.append(f"{flow} kernel={seen} simulator={predicted} path={path}\n{text}")
    print(f"\nkernel agreement: {agree}/{total} flows over {RULE_SETS} rule sets "
          f"({verdict_counts[True]} allowed, {verdict_counts[False]} denied) in {time.monotonic() - started:.1f}s")
    if disagreements and os.environ.get("HW_FW_DUMP"):
        with open(os.environ["HW_FW_DUMP"], "w") as fh:
            fh.write("\n\n".join(disagreements))
    assert total >= 1000
    assert not disagreements, disagreements[:3]
    # Both verdicts must be well represented, or agreement would prove little.
    assert min(verdict_counts.values()) > total // 10
