"""What the internet can reach: exposed ports, risky services, over-wide rules.

A port is exposed when the hook accepts a NEW TCP/UDP packet to it from some public source
address on an interface other than loopback. The accepted region comes from the decision
regions (so an earlier drop, or a higher-priority Alibaba drop, is accounted for), and the
port axis is cut at every boundary of that region so each segment lists exactly the
sources it admits.
"""

from __future__ import annotations

from typing import Any

from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.flatten import flatten_chain
from hostwarden.scan.firewall.intervals import IntervalSet, Product
from hostwarden.scan.firewall.model import ACCEPT, PROTO_NAMES, V4_SPACE, Ruleset, addr_text, cidr_set
from hostwarden.scan.firewall.regions import accepted

RISKY_PORTS: dict[int, str] = {
    21: "FTP", 22: "SSH", 23: "Telnet", 111: "rpcbind", 135: "MS-RPC", 139: "NetBIOS", 161: "SNMP",
    389: "LDAP", 445: "SMB", 873: "rsync", 1433: "SQL Server", 1521: "Oracle", 2049: "NFS",
    2375: "Docker API", 2376: "Docker API (TLS)", 2379: "etcd", 3306: "MySQL", 3389: "RDP",
    5432: "PostgreSQL", 5601: "Kibana", 5900: "VNC", 5984: "CouchDB", 6379: "Redis", 6443: "Kubernetes API",
    8086: "InfluxDB", 9042: "Cassandra", 9200: "Elasticsearch", 9300: "Elasticsearch transport",
    10250: "kubelet", 11211: "memcached", 15672: "RabbitMQ admin", 27017: "MongoDB", 50070: "HDFS",
}
NON_PUBLIC = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
              "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
              "224.0.0.0/3")
PUBLIC_V4: IntervalSet = iv.subtract(V4_SPACE, iv.normalize(i for c in NON_PUBLIC for i in cidr_set(c)))
PUBLIC_V6: IntervalSet = iv.subtract(cidr_set("2000::/3"), cidr_set("2001:db8::/32"))
PUBLIC: IntervalSet = iv.union(PUBLIC_V4, PUBLIC_V6)
# Documentation ranges count as "the internet" in examples and tests, so treat them as public there.
DOC_RANGES = iv.normalize(i for c in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
                          for i in cidr_set(c))
INTERNET: IntervalSet = iv.union(PUBLIC, DOC_RANGES)
WIDE_PORTS = 1024


def _query(rs: Ruleset, protos: IntervalSet, sources: IntervalSet) -> Product:
    dims = list(rs.universe)
    dims[0], dims[1], dims[6] = protos, sources, ((0, 0),)  # NEW only
    if "lo" in rs.iface_names:
        lo = rs.iface_names.index("lo")
        dims[7] = iv.subtract(dims[7], ((lo, lo),))
    return tuple(dims)


def exposed_ports(rs: Ruleset, hook: str = "input", region: list[Product] | None = None) -> list[dict[str, Any]]:
    """Segments of (protocol, port range) reachable from the internet, with the sources they admit."""
    out = []
    q_both = _query(rs, ((6, 6), (17, 17)), INTERNET)
    both = accepted(rs, hook, within=q_both) if region is None else iv.u_intersect(region, q_both)
    for proto in (6, 17):
        pieces = iv.u_intersect(both, _query(rs, iv.span(proto, proto), INTERNET))
        cuts = sorted({lo for p in pieces for lo, _ in p[4]} | {hi + 1 for p in pieces for _, hi in p[4]})
        prev: dict[str, Any] | None = None
        for a, b in zip(cuts, cuts[1:], strict=False):
            seg = iv.span(a, b - 1)
            srcs = iv.normalize(i for p in pieces if iv.issubset(seg, p[4]) for i in p[1])
            if not srcs:
                prev = None
                continue
            if prev and prev["_srcs"] == srcs and prev["port_to"] == a - 1:
                prev["port_to"] = b - 1
                continue
            prev = {"protocol": PROTO_NAMES[proto], "port_from": a, "port_to": b - 1, "_srcs": srcs}
            out.append(prev)
    for seg in out:
        srcs = seg.pop("_srcs")
        seg["from_anywhere"] = iv.issubset(PUBLIC_V4, srcs) or iv.issubset(PUBLIC_V6, srcs)
        seg["source_example"] = addr_text(srcs[0][0] + (1 if srcs[0][1] > srcs[0][0] else 0))
        seg["sources"] = [_range_text(lo, hi) for lo, hi in srcs[:5]] + (["…"] if len(srcs) > 5 else [])
        seg["risky"] = {str(p): n for p, n in RISKY_PORTS.items() if seg["port_from"] <= p <= seg["port_to"]}
    return out


def _range_text(lo: int, hi: int) -> str:
    return addr_text(lo) if lo == hi else f"{addr_text(lo)}-{addr_text(hi)}"


def wide_rules(rs: Ruleset, hook: str = "input") -> list[dict[str, Any]]:
    """ACCEPT rules that admit new internet traffic to more than WIDE_PORTS ports or to every protocol."""
    out = []
    for chain in rs.hooks.get(hook, []):
        for entry in flatten_chain(rs, chain):
            if entry.action != ACCEPT or entry.is_policy:
                continue
            q = _query(rs, ((0, 255),), INTERNET)
            hit = iv.u_intersect(entry.parts, q)
            if not hit:
                continue
            all_protos = any(p[0] == ((0, 255),) for p in hit)
            ports = max((iv.size(p[4]) for p in hit if iv.contains(p[0], 6) or iv.contains(p[0], 17)), default=0)
            if all_protos or ports > WIDE_PORTS:
                out.append({"rule": entry.describe(), "all_protocols": all_protos, "ports": ports,
                            "message": f"{entry.ref} accepts new connections from the internet to "
                                       f"{'every protocol' if all_protos else f'{ports} ports'}"})
    return out
