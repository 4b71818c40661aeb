"""One rule model for iptables, nftables and cloud security groups.

A rule set is a set of chains; each rule is a list of conditions and a verdict. Conditions
are per packet dimension. Interface names and opaque conditions (ipset membership, modules
we do not model) become small integer dimensions once the whole rule set is known, which
is what `Ruleset.compile()` does: afterwards every rule has a `Product` (see intervals.py)
and a packet is a point.

Addresses live in one 128-bit space: IPv4 address a is stored as ::ffff:a (its IPv4-mapped
form), so one rule set can hold both families (nftables `inet`, cloud groups) and an IPv4
rule never matches an IPv6 packet.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from hostwarden.core.errors import FW_PARSE_FAILED, HostwardenError
from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.intervals import IntervalSet, Product

V4_BASE = 0xFFFF << 32
V4_SPACE: IntervalSet = ((V4_BASE, V4_BASE + 2**32 - 1),)
ALL_ADDR: IntervalSet = ((0, 2**128 - 1),)
V6_SPACE: IntervalSet = iv.subtract(ALL_ADDR, V4_SPACE)

STATES = ("NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED")
PROTOCOLS = {
    "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
    "icmpv6": 58, "ipv6-icmp": 58, "icmp6": 58, "sctp": 132, "udplite": 136,
}
PROTO_NAMES = {v: k for k, v in PROTOCOLS.items() if k not in ("ipv6-icmp", "icmp6")}

# Fixed dimensions, in product order; interface and opaque dimensions follow at compile time.
DIMS = ("proto", "src", "dst", "sport", "dport", "icmp", "state", "iif", "oif")
DOMAINS: dict[str, IntervalSet] = {
    "proto": ((0, 255),),
    "src": ALL_ADDR,
    "dst": ALL_ADDR,
    "sport": ((0, 65535),),
    "dport": ((0, 65535),),
    "icmp": ((0, 65535),),  # type * 256 + code
    "state": ((0, len(STATES) - 1),),
}
ACCEPT, DENY = "accept", "deny"
TERMINAL = (ACCEPT, DENY)


def parse_error(message: str, **context: Any) -> HostwardenError:
    return HostwardenError(FW_PARSE_FAILED, message, **context)


def addr_int(text: str) -> int:
    ip = ipaddress.ip_address(text)
    return V4_BASE + int(ip) if ip.version == 4 else int(ip)


def addr_text(value: int) -> str:
    if V4_BASE <= value <= V4_BASE + 2**32 - 1:
        return str(ipaddress.IPv4Address(value - V4_BASE))
    return str(ipaddress.IPv6Address(value))


def cidr_set(text: str) -> IntervalSet:
    """'10.0.0.0/8', '2001:db8::/32', '1.2.3.4' or 'a-b' as an interval set in the shared space."""
    text = text.strip()
    try:
        if "-" in text and "/" not in text:
            lo, hi = (addr_int(p) for p in text.split("-", 1))
            return iv.span(lo, hi)
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise parse_error(f"bad address {text!r}: {exc}") from None
    base = V4_BASE if net.version == 4 else 0
    return iv.span(base + int(net.network_address), base + int(net.broadcast_address))


def family_space(family: str) -> IntervalSet:
    return {"ipv4": V4_SPACE, "ipv6": V6_SPACE}.get(family, ALL_ADDR)


def port_set(text: str) -> IntervalSet:
    """'22', '1000:2000', '1000-2000', '80,443,8000:8080' as an interval set."""
    out = []
    for part in text.split(","):
        part = part.strip()
        sep = ":" if ":" in part else "-" if "-" in part else None
        try:
            if sep:
                a, b = part.split(sep, 1)
                lo, hi = int(a or 0), int(b or 65535)
            else:
                lo = hi = int(part)
        except ValueError:
            raise parse_error(f"bad port {part!r}") from None
        if not (0 <= lo <= hi <= 65535):
            raise parse_error(f"port range out of bounds: {part!r}")
        out.append((lo, hi))
    return iv.normalize(out)


def proto_number(text: str) -> int:
    t = text.lower()
    if t in PROTOCOLS:
        return PROTOCOLS[t]
    if t.isdigit() and int(t) <= 255:
        return int(t)
    raise parse_error(f"unknown protocol {text!r}")


@dataclass
class Cond:
    """One condition of a rule. `values` for interval dims; `patterns` for interfaces; `key` for opaque."""

    dim: str
    values: IntervalSet = ()
    patterns: tuple[str, ...] = ()
    key: str = ""
    negate: bool = False


@dataclass
class Rule:
    chain: str
    index: int  # 1-based position in its chain
    conds: list[Cond]
    kind: str  # accept, deny, jump, goto, return, continue
    target: str = ""
    text: str = ""
    line: int = 0
    product: Product = ()

    @property
    def ref(self) -> str:
        return f"{self.chain}#{self.index}"

    def describe(self) -> dict[str, Any]:
        return {"rule": self.ref, "line": self.line, "text": self.text, "target": self.target or self.kind}


@dataclass
class Chain:
    name: str
    rules: list[Rule] = field(default_factory=list)
    policy: str | None = None  # accept/deny for base chains; None for user chains


@dataclass
class Ruleset:
    """Chains plus, per hook (input, forward, output, ingress, egress), the base chains in order."""

    source: str
    chains: dict[str, Chain] = field(default_factory=dict)
    hooks: dict[str, list[str]] = field(default_factory=dict)
    iface_names: list[str] = field(default_factory=list)
    opaque_keys: list[str] = field(default_factory=list)
    dims: list[str] = field(default_factory=list)
    domains: list[IntervalSet] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # derived data, cleared by compile()

    def chain(self, name: str, policy: str | None = None) -> Chain:
        if name not in self.chains:
            self.chains[name] = Chain(name, policy=policy)
        elif policy is not None:
            self.chains[name].policy = policy
        return self.chains[name]

    @property
    def universe(self) -> Product:
        return tuple(self.domains)

    # --- compile -------------------------------------------------------------------------

    def compile(self, extra_ifaces: list[str] | None = None, extra_keys: list[str] | None = None) -> Ruleset:
        """Fix the interface and opaque dimensions, then give every rule its product.

        `extra_*` widen the dimensions so two rule sets can be compared point for point.
        """
        self.cache.clear()
        names: set[str] = set(extra_ifaces or ())
        keys: list[str] = list(extra_keys or ())
        for ch in self.chains.values():
            for rule in ch.rules:
                for c in rule.conds:
                    if c.dim in ("iif", "oif"):
                        names.update(c.patterns)
                    elif c.dim == "opaque" and c.key not in keys:
                        keys.append(c.key)
        concrete = sorted(n for n in names if not n.endswith("+"))
        prefixes = sorted(n[:-1] for n in names if n.endswith("+"))
        # Each prefix gets a stand-in for "some other interface with this prefix"; "" is any other.
        self.iface_names = concrete + [p + "+" for p in prefixes] + ["*"]
        self.opaque_keys = keys
        self.dims = [*DIMS, *(f"opaque:{k}" for k in keys)]
        n_if = len(self.iface_names)
        self.domains = [*(DOMAINS[d] for d in DIMS[:7]), ((0, n_if - 1),), ((0, n_if - 1),)]
        self.domains += [((0, 1),)] * len(keys)
        for ch in self.chains.values():
            for rule in ch.rules:
                rule.product = self._product(rule)
        return self

    def _iface_values(self, patterns: tuple[str, ...]) -> IntervalSet:
        ids = []
        for pat in patterns:
            for i, name in enumerate(self.iface_names):
                if pat == "+" or name == pat or (pat.endswith("+") and name.startswith(pat[:-1]) and name != "*"):
                    ids.append((i, i))
        return iv.normalize(ids)

    def _product(self, rule: Rule) -> Product:
        dims = list(self.domains)
        for c in rule.conds:
            if c.dim == "opaque":
                k = len(DIMS) + self.opaque_keys.index(c.key)
                val: IntervalSet = ((0, 0),) if c.negate else ((1, 1),)
            else:
                k = DIMS.index(c.dim)
                val = self._iface_values(c.patterns) if c.dim in ("iif", "oif") else c.values
                if c.negate:
                    val = iv.complement(val, self.domains[k])
            dims[k] = iv.intersect(dims[k], val)
        return tuple(dims)

    def iface_id(self, name: str) -> int:
        if name in self.iface_names:
            return self.iface_names.index(name)
        best, best_len = len(self.iface_names) - 1, -1
        for i, cand in enumerate(self.iface_names):
            if cand.endswith("+") and name.startswith(cand[:-1]) and len(cand) > best_len:
                best, best_len = i, len(cand)
        return best


@dataclass
class Packet:
    proto: int
    src: int
    dst: int
    sport: int = 0
    dport: int = 0
    icmp: int = 8 * 256
    state: int = 0
    iif: str = "*"
    oif: str = "*"
    opaque: dict[str, bool] = field(default_factory=dict)

    def point(self, rs: Ruleset) -> tuple[int, ...]:
        base = (self.proto, self.src, self.dst, self.sport, self.dport, self.icmp, self.state,
                rs.iface_id(self.iif), rs.iface_id(self.oif))
        return base + tuple(int(self.opaque.get(k, False)) for k in rs.opaque_keys)

    @classmethod
    def from_point(cls, rs: Ruleset, point: tuple[int, ...]) -> Packet:
        return cls(*point[:7], iif=rs.iface_names[point[7]], oif=rs.iface_names[point[8]],
                   opaque={k: bool(v) for k, v in zip(rs.opaque_keys, point[9:], strict=True)})

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"protocol": PROTO_NAMES.get(self.proto, str(self.proto)),
                             "source": addr_text(self.src), "destination": addr_text(self.dst)}
        if self.proto in (6, 17, 132, 136):
            d.update(source_port=self.sport, destination_port=self.dport)
        if self.proto in (1, 58):
            d.update(icmp_type=self.icmp // 256, icmp_code=self.icmp % 256)
        d["state"] = STATES[self.state]
        if self.iif != "*":
            d["in_interface"] = self.iif
        if self.oif != "*":
            d["out_interface"] = self.oif
        if any(self.opaque.values()):
            d["conditions"] = sorted(k for k, v in self.opaque.items() if v)
        return d

    def describe(self) -> str:
        d = self.to_dict()
        ports = f":{d['source_port']}" if "source_port" in d else ""
        dports = f":{d['destination_port']}" if "destination_port" in d else ""
        extra = f" type {d['icmp_type']}" if "icmp_type" in d else ""
        ifs = f" in {d['in_interface']}" if "in_interface" in d else ""
        return f"{d['protocol']} {d['source']}{ports} -> {d['destination']}{dports}{extra} {d['state']}{ifs}"
