"""Least-privilege rules from observed traffic (the seed's "dynamic rules from business traffic").

Inputs: listening sockets (from `proc/net/{tcp,tcp6,udp,udp6}` under a root) and observed
connections as ECS events (`network.transport`, `source.ip`, `destination.ip`,
`destination.port`). An event is inbound service traffic when its destination port is a
listening port of that transport (all events count when no sockets are known). The result
allows exactly those (source, destination, port) triples plus loopback and established
traffic, and denies everything else — as iptables-save text and as security-group JSON.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostwarden.core.errors import FW_FLOW_INVALID, HostwardenError
from hostwarden.scan.rootfs import RootFS

TCP_LISTEN = "0A"
SOCKET_TABLE_BYTES = 64 << 20  # ~150 bytes a socket: room for a few hundred thousand


@dataclass(frozen=True)
class Listener:
    transport: str
    address: str
    port: int

    @property
    def loopback_only(self) -> bool:
        return ipaddress.ip_address(self.address).is_loopback


def _hex_addr(text: str) -> str:
    raw = bytes.fromhex(text)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    addr = ipaddress.IPv6Address(words)
    return str(addr.ipv4_mapped) if addr.ipv4_mapped else str(addr)


def listening_sockets(root: Path) -> list[Listener]:
    """Listening TCP sockets and bound UDP sockets from /proc/net under root; bad lines are skipped.

    Read through the root's resolver: a copied root's `proc/net/tcp` that is a link or a FIFO is
    not followed out of it nor waited on; the running /proc is read only when root is `/`.
    """
    fs = RootFS(Path(root), live=Path(root).resolve() == Path("/"))
    out: set[Listener] = set()
    for name in ("tcp", "tcp6", "udp", "udp6"):
        text = fs.read_text(f"/proc/net/{name}", limit=SOCKET_TABLE_BYTES)
        if text is None:
            continue
        for line in text.splitlines()[1:]:
            f = line.split()
            if len(f) < 4 or ":" not in f[1]:
                continue
            if name.startswith("tcp") and f[3] != TCP_LISTEN:
                continue
            if name.startswith("udp") and not f[2].endswith(":0000"):
                continue  # connected UDP sockets are clients
            try:
                addr, port = f[1].rsplit(":", 1)
                out.add(Listener(name[:3], _hex_addr(addr), int(port, 16)))
            except ValueError:
                continue
    return sorted(out, key=lambda s: (s.transport, s.port, s.address))


def _field(ev: dict[str, Any], dotted: str) -> Any:
    if dotted in ev:
        return ev[dotted]
    cur: Any = ev
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def inbound_flows(events: Iterable[dict[str, Any]], listeners: list[Listener]) -> dict[tuple[str, str, int], set[str]]:
    """(transport, destination, port) -> sources, for events that hit a listening socket."""
    ports = {(s.transport, s.port) for s in listeners if not s.loopback_only}
    flows: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    for n, ev in enumerate(events):
        proto = str(_field(ev, "network.transport") or "tcp").lower()
        src, dst, port = _field(ev, "source.ip"), _field(ev, "destination.ip"), _field(ev, "destination.port")
        if src is None or port is None:
            continue
        try:
            port = int(port)
            src = str(ipaddress.ip_address(str(src)))
            dst = str(ipaddress.ip_address(str(dst))) if dst else ""
        except ValueError as exc:
            raise HostwardenError(FW_FLOW_INVALID, f"event {n}: {exc}") from None
        if proto not in ("tcp", "udp") or (listeners and (proto, port) not in ports):
            continue
        if ipaddress.ip_address(src).is_loopback:
            continue
        flows[(proto, dst, port)].add(src)
    return flows


def _net(addr: str) -> str:
    return f"{addr}/{32 if ':' not in addr else 128}" if "/" not in addr else addr


def to_iptables(flows: dict[tuple[str, str, int], set[str]], family: int = 4) -> str:
    lines = ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]",
             "-A INPUT -i lo -j ACCEPT", "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"]
    for (proto, dst, port), srcs in sorted(flows.items()):
        if dst and (":" in dst) != (family == 6):
            continue
        for src in sorted(srcs):
            if (":" in src) != (family == 6):
                continue
            d = f" -d {_net(dst)}" if dst else ""
            lines.append(f"-A INPUT -s {_net(src)}{d} -p {proto} -m {proto} --dport {port} "
                         f"-m conntrack --ctstate NEW -j ACCEPT")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def to_security_group(flows: dict[tuple[str, str, int], set[str]]) -> dict[str, Any]:
    """Alibaba DescribeSecurityGroupAttribute shape (which `fw analyze` reads back)."""
    perms = []
    for (proto, dst, port), srcs in sorted(flows.items()):
        for src in sorted(srcs):
            v6 = ":" in src
            perm = {"Direction": "ingress", "IpProtocol": proto.upper(), "PortRange": f"{port}/{port}",
                    "Policy": "Accept", "Priority": 1, "NicType": "intranet",
                    ("Ipv6SourceCidrIp" if v6 else "SourceCidrIp"): _net(src)}
            if dst:
                perm["Ipv6DestCidrIp" if ":" in dst else "DestCidrIp"] = _net(dst)
            perms.append(perm)
    return {"Permissions": {"Permission": perms}, "Description": "least-privilege rules suggested by hostwarden"}


def suggest(events: Iterable[dict[str, Any]], root: Path | None = None,
            listeners: list[Listener] | None = None) -> dict[str, Any]:
    socks = listeners if listeners is not None else (listening_sockets(root) if root else [])
    flows = inbound_flows(events, socks)
    unused = [s for s in socks if not s.loopback_only and not any(k[0] == s.transport and k[2] == s.port for k in flows)]
    return {"iptables": to_iptables(flows, 4), "ip6tables": to_iptables(flows, 6),
            "security_group": to_security_group(flows),
            "flows": [{"protocol": p, "destination": d or "any", "port": port, "sources": sorted(s)}
                      for (p, d, port), s in sorted(flows.items())],
            "listening_without_traffic": [s.__dict__ for s in unused]}
