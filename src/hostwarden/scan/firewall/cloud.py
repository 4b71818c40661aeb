"""Cloud security groups into the rule model: Alibaba Cloud and AWS.

Alibaba (`DescribeSecurityGroupAttribute`): rules are ordered by Priority (1 first, 100 last);
at equal priority a Drop beats an Accept; unmatched ingress is denied, unmatched egress
accepted. AWS (`describe-security-groups`): allow-only rules; every group attached to an
interface adds to one union, so order never matters and anything unmatched is denied.
Ingress becomes the `input` hook and egress `output`, so `fw check` works the same way.
"""

from __future__ import annotations

import json
from typing import Any

from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.model import (
    ACCEPT,
    DENY,
    V4_SPACE,
    V6_SPACE,
    Cond,
    Rule,
    Ruleset,
    cidr_set,
    parse_error,
    port_set,
    proto_number,
)

CHAINS = {"ingress": "input", "egress": "output"}


def _proto_conds(proto: str, where: str) -> list[Cond]:
    p = str(proto).lower()
    if p in ("all", "-1", ""):
        return []
    try:
        n = proto_number(p)
    except Exception:
        raise parse_error(f"{where}: unknown IpProtocol {proto!r}") from None
    return [Cond("proto", values=iv.span(n, n))]


def _range_conds(dim: str, lo: int, hi: int, where: str) -> list[Cond]:
    if lo == -1 and hi == -1:
        return []
    if not (0 <= lo <= hi <= 65535):
        raise parse_error(f"{where}: bad port range {lo}/{hi}")
    return [Cond(dim, values=iv.span(lo, hi))]


def _cidr(text: str, where: str) -> iv.IntervalSet:
    try:
        return cidr_set(text)
    except Exception:
        raise parse_error(f"{where}: bad CIDR {text!r}") from None


# --- Alibaba ------------------------------------------------------------------------------


def _ali_key(perm: dict[str, Any]) -> tuple[int, int]:
    try:
        prio = int(perm.get("Priority", 1))
    except (TypeError, ValueError):
        raise parse_error(f"Priority {perm.get('Priority')!r} is not a number") from None
    if not 1 <= prio <= 100:
        raise parse_error(f"Priority {prio} outside 1-100")
    return prio, 0 if str(perm.get("Policy", "Accept")).lower() == "drop" else 1


def parse_alibaba(doc: dict[str, Any], source: str = "<alibaba>") -> Ruleset:
    perms = doc.get("Permissions", {})
    perms = perms.get("Permission", []) if isinstance(perms, dict) else perms
    if not isinstance(perms, list):
        raise parse_error("Permissions.Permission is not a list")
    rs = Ruleset(source)
    for name, hook in CHAINS.items():
        rs.chain(name, DENY if name == "ingress" else ACCEPT)
        rs.hooks[hook] = [name]
    keyed = []
    for n, perm in enumerate(perms):
        if not isinstance(perm, dict):
            raise parse_error(f"Permission[{n}] is not an object")
        keyed.append((_ali_key(perm), n, perm))
    for (prio, _), n, perm in sorted(keyed, key=lambda t: (t[0], t[1])):
        where = f"Permission[{n}]"
        direction = str(perm.get("Direction", "ingress")).lower()
        if direction not in CHAINS:
            raise parse_error(f"{where}: Direction {direction!r} is not ingress/egress")
        conds = _proto_conds(perm.get("IpProtocol", "ALL"), where)
        rng = str(perm.get("PortRange", "-1/-1"))
        try:
            lo, hi = (int(x) for x in rng.split("/"))
        except ValueError:
            raise parse_error(f"{where}: PortRange {rng!r} is not 'from/to'") from None
        if conds and conds[0].values[0][0] in (6, 17):
            conds += _range_conds("dport", lo, hi, where)
        src_dim, dst_dim = ("src", "dst") if direction == "ingress" else ("dst", "src")
        peer_v4 = perm.get("SourceCidrIp" if direction == "ingress" else "DestCidrIp") or ""
        peer_v6 = perm.get("Ipv6SourceCidrIp" if direction == "ingress" else "Ipv6DestCidrIp") or ""
        group = perm.get("SourceGroupId" if direction == "ingress" else "DestGroupId") or ""
        plist = perm.get("SourcePrefixListId" if direction == "ingress" else "DestPrefixListId") or ""
        if peer_v4 or peer_v6:
            conds.append(Cond(src_dim, values=_cidr(peer_v4 or peer_v6, where)))
        elif group or plist:
            conds.append(Cond("opaque", key=f"peer {group or plist}"))
        local = perm.get("DestCidrIp" if direction == "ingress" else "SourceCidrIp") or ""
        local = local or perm.get("Ipv6DestCidrIp" if direction == "ingress" else "Ipv6SourceCidrIp") or ""
        if local:
            conds.append(Cond(dst_dim, values=_cidr(local, where)))
        sport = str(perm.get("SourcePortRange") or "")
        if sport and sport != "-1/-1" and conds and conds[0].dim == "proto":
            a, b = (int(x) for x in sport.split("/"))
            conds += _range_conds("sport", a, b, where)
        action = DENY if str(perm.get("Policy", "Accept")).lower() == "drop" else ACCEPT
        chain = rs.chains[direction]
        text = (f"priority {prio} {perm.get('Policy', 'Accept')} {perm.get('IpProtocol')} {rng} "
                f"{peer_v4 or peer_v6 or group or plist or 'any'}")
        chain.rules.append(Rule(direction, len(chain.rules) + 1, conds, action, "", text, n))
    return rs.compile()


# --- AWS ----------------------------------------------------------------------------------


def _aws_rules(group: dict[str, Any], key: str, direction: str, rs: Ruleset) -> None:
    gid = group.get("GroupId", "?")
    for n, perm in enumerate(group.get(key) or []):
        where = f"{gid} {key}[{n}]"
        proto = str(perm.get("IpProtocol", "-1"))
        conds = _proto_conds(proto, where)
        lo, hi = int(perm.get("FromPort", -1)), int(perm.get("ToPort", -1))
        pnum = conds[0].values[0][0] if conds else -1
        if pnum in (6, 17, 132):
            conds += _range_conds("dport", lo, hi, where)
        elif pnum in (1, 58) and lo != -1:
            conds.append(Cond("icmp", values=iv.span(lo * 256 + max(hi, 0), lo * 256 + (255 if hi == -1 else hi))))
        peer_dim = "src" if direction == "ingress" else "dst"
        peers: list[tuple[str, list[Cond]]] = []
        for r in perm.get("IpRanges") or []:
            peers.append((r.get("CidrIp", ""), [Cond(peer_dim, values=_cidr(r.get("CidrIp", ""), where))]))
        for r in perm.get("Ipv6Ranges") or []:
            peers.append((r.get("CidrIpv6", ""), [Cond(peer_dim, values=_cidr(r.get("CidrIpv6", ""), where))]))
        for r in perm.get("UserIdGroupPairs") or []:
            peers.append((r.get("GroupId", "?"), [Cond("opaque", key=f"peer {r.get('GroupId', '?')}")]))
        for r in perm.get("PrefixListIds") or []:
            peers.append((r.get("PrefixListId", "?"), [Cond("opaque", key=f"peer {r.get('PrefixListId', '?')}")]))
        chain = rs.chains[direction]
        for peer, pconds in peers:
            text = f"{gid} {direction} {proto} {lo}-{hi} {peer}"
            chain.rules.append(Rule(direction, len(chain.rules) + 1, conds + pconds, ACCEPT, "", text, n))


def parse_aws(doc: dict[str, Any], source: str = "<aws>") -> Ruleset:
    groups = doc.get("SecurityGroups")
    if not isinstance(groups, list):
        raise parse_error("no SecurityGroups list: expected `aws ec2 describe-security-groups` output")
    rs = Ruleset(source)
    for name, hook in CHAINS.items():
        rs.chain(name, DENY)
        rs.hooks[hook] = [name]
    for g in groups:
        if not isinstance(g, dict):
            raise parse_error("SecurityGroups entry is not an object")
        _aws_rules(g, "IpPermissions", "ingress", rs)
        _aws_rules(g, "IpPermissionsEgress", "egress", rs)
    return rs.compile()


def detect_cloud(doc: Any) -> str | None:
    if isinstance(doc, dict) and "SecurityGroups" in doc:
        return "aws"
    if isinstance(doc, dict) and "Permissions" in doc:
        return "alibaba"
    return None


def parse_cloud_json(text: str, source: str) -> Ruleset:
    doc = json.loads(text)
    kind = detect_cloud(doc)
    if kind == "aws":
        return parse_aws(doc, source)
    if kind == "alibaba":
        return parse_alibaba(doc, source)
    raise parse_error(f"{source}: not a security-group document")


_ = (V4_SPACE, V6_SPACE, port_set)
