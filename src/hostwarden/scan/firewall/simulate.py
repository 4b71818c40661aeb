"""The flow simulator: what one packet meets, rule by rule, like the kernel walks the chains.

This walks chains directly (jumps, gotos, RETURN, policies) rather than using the flattened
form the analysis uses, so the two are independent implementations that tests compare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hostwarden.core.errors import FW_FLOW_INVALID, FW_PARSE_FAILED, HostwardenError
from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.model import ACCEPT, DENY, STATES, Packet, Ruleset, addr_int, proto_number

MAX_DEPTH = 64


@dataclass
class Verdict:
    action: str  # accept / deny
    path: list[dict[str, Any]] = field(default_factory=list)
    hook: str = "input"

    @property
    def allowed(self) -> bool:
        return self.action == ACCEPT

    def to_dict(self) -> dict[str, Any]:
        return {"action": "allow" if self.allowed else "deny", "hook": self.hook, "path": self.path}


def _walk(rs: Ruleset, chain: str, point: tuple[int, ...], path: list[dict[str, Any]],
          depth: int) -> str | None:
    """Returns accept/deny, 'return' when the chain ran out or RETURNed, or 'goto-return'."""
    if depth > MAX_DEPTH:
        raise HostwardenError(FW_PARSE_FAILED, f"chain {chain!r}: jumps nest deeper than {MAX_DEPTH} (a loop?)")
    for rule in rs.chains[chain].rules:
        if not iv.p_contains(rule.product, point):
            continue
        if rule.kind == "continue":
            path.append({**rule.describe(), "effect": "continue"})
            continue
        path.append({**rule.describe(), "effect": rule.kind})
        if rule.kind in (ACCEPT, DENY):
            return rule.kind
        if rule.kind == "return":
            return "return"
        result = _walk(rs, rule.target, point, path, depth + 1)
        if result in (ACCEPT, DENY):
            return result
        if rule.kind == "goto":
            return "return"  # falling off a goto'd chain returns to our caller
    return "return"


def simulate_point(rs: Ruleset, point: tuple[int, ...], hook: str = "input") -> Verdict:
    chains = rs.hooks.get(hook)
    if not chains:
        raise HostwardenError(FW_FLOW_INVALID, f"the rule set has no {hook!r} chain (has: {sorted(rs.hooks)})")
    path: list[dict[str, Any]] = []
    for name in chains:  # several nftables base chains on one hook: each must accept
        result = _walk(rs, name, point, path, 0)
        if result not in (ACCEPT, DENY):
            policy = rs.chains[name].policy or ACCEPT
            path.append({"rule": f"{name}:policy", "effect": policy, "text": f"policy of {name}"})
            result = policy
        if result == DENY:
            return Verdict(DENY, path, hook)
    return Verdict(ACCEPT, path, hook)


def simulate(rs: Ruleset, packet: Packet, hook: str = "input") -> Verdict:
    return simulate_point(rs, packet.point(rs), hook)


_FLOW = re.compile(
    r"^\s*(?P<proto>[a-z0-9-]+)\s+(?P<src>\[[^\]]+\]|[^\s\[\]]+?)(?::(?P<sport>\d+))?\s*->\s*"
    r"(?P<dst>\[[^\]]+\]|[^\s\[\]]+?)(?::(?P<dport>\d+))?(?P<rest>(\s+.*)?)$",
    re.IGNORECASE,
)


def _host_port(text: str, port: str | None) -> tuple[str, str | None]:
    if text.startswith("["):
        return text[1:-1], port
    if text.count(":") > 1 and port is not None:  # bare IPv6: the regex split the last group off
        return f"{text}:{port}", None
    return text, port


def parse_flow(text: str) -> Packet:
    """'tcp 203.0.113.5:40000 -> 10.0.0.5:22 [new|established] [in eth0] [out eth1] [type 8]'."""
    m = _FLOW.match(text)
    if not m:
        raise HostwardenError(FW_FLOW_INVALID, f"cannot read flow {text!r}; expected e.g. "
                              "'tcp 203.0.113.5:40000 -> 10.0.0.5:22'")
    try:
        proto = proto_number(m["proto"])
    except HostwardenError:
        raise HostwardenError(FW_FLOW_INVALID, f"unknown protocol {m['proto']!r} in flow") from None
    src, sport = _host_port(m["src"], m["sport"])
    dst, dport = _host_port(m["dst"], m["dport"])
    try:
        pkt = Packet(proto, addr_int(src), addr_int(dst), int(sport or 40000), int(dport or 0))
    except ValueError as exc:
        raise HostwardenError(FW_FLOW_INVALID, f"bad address in flow {text!r}: {exc}") from None
    if (src.count(":") > 0) != (dst.count(":") > 0):
        raise HostwardenError(FW_FLOW_INVALID, "source and destination are of different IP families")
    if proto in (6, 17) and not dport:
        raise HostwardenError(FW_FLOW_INVALID, f"a {m['proto']} flow needs a destination port")
    words = m["rest"].split()
    i = 0
    while i < len(words):
        w = words[i].lower()
        nxt = words[i + 1] if i + 1 < len(words) else None
        if w.upper() in STATES:
            pkt.state = STATES.index(w.upper())
        elif w in ("in", "iif") and nxt:
            pkt.iif, i = nxt, i + 1
        elif w in ("out", "oif") and nxt:
            pkt.oif, i = nxt, i + 1
        elif w == "type" and nxt:
            t, _, c = nxt.partition("/")
            if not t.isdigit() or (c and not c.isdigit()):
                raise HostwardenError(FW_FLOW_INVALID, f"bad ICMP type {nxt!r}")
            pkt.icmp, i = int(t) * 256 + int(c or 0), i + 1
        elif w == "set" and nxt:
            pkt.opaque[nxt], i = True, i + 1
        else:
            raise HostwardenError(FW_FLOW_INVALID, f"unknown flow word {words[i]!r}; use new/established, "
                                  "in IFACE, out IFACE, type N[/C]")
        i += 1
    if not (0 <= pkt.sport <= 65535 and 0 <= pkt.dport <= 65535):
        raise HostwardenError(FW_FLOW_INVALID, "port out of range 0-65535")
    return pkt


def packet_for(rs: Ruleset, pkt: Packet) -> Packet:
    """Map `set NAME` words onto the rule set's opaque keys that mention NAME."""
    if not pkt.opaque:
        return pkt
    words = [re.compile(rf"(?<![\w.-]){re.escape(n)}(?![\w.-])") for n in pkt.opaque]
    pkt.opaque = {k: any(w.search(k) for w in words) for k in rs.opaque_keys}
    return pkt
