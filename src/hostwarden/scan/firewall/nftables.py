"""`nft -j list ruleset` JSON into the rule model.

Only filter chains matter here. Base chains are grouped by hook and ordered by priority (a
packet must be accepted by each of them); matches on named sets (`@blocklist`) and
statements we do not model become opaque conditions, as in the iptables parser.
"""

from __future__ import annotations

import json
from typing import Any

from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.iptables import ICMP6_TYPES, ICMP_TYPES
from hostwarden.scan.firewall.model import (
    ACCEPT,
    DENY,
    PROTOCOLS,
    STATES,
    V4_SPACE,
    V6_SPACE,
    Cond,
    Rule,
    Ruleset,
    cidr_set,
    family_space,
    parse_error,
    port_set,
    proto_number,
)

HOOKS = ("input", "forward", "output")
PORT_PROTOS = iv.normalize([(6, 6), (17, 17), (33, 33), (132, 132), (136, 136)])
VERDICTS = {"accept": ACCEPT, "drop": DENY, "reject": DENY, "return": "return", "jump": "jump", "goto": "goto",
            "continue": "continue", "queue": DENY}
IGNORED_STATEMENTS = {"counter", "log", "mangle", "meta", "ct", "notrack", "comment", "set", "quota"}
FAMILIES = {"ip": "ipv4", "ip6": "ipv6", "inet": "inet"}


def _chain_id(obj: dict[str, Any]) -> str:
    return f"{obj.get('family')}:{obj.get('table')}/{obj.get('name') or obj.get('chain')}"


class _Expr:
    """Turns one rule's `expr` list into conditions and a verdict."""

    def __init__(self, family: str, where: str) -> None:
        self.family = family
        self.where = where
        self.conds: list[Cond] = []
        self.kind, self.target = "continue", ""

    def fail(self, msg: str) -> Exception:
        return parse_error(f"{self.where}: {msg}")

    def statement(self, st: dict[str, Any]) -> None:
        if not isinstance(st, dict) or len(st) != 1:
            raise self.fail(f"bad statement {st!r}")
        (key, val), = st.items()
        if key == "match":
            self.match(val)
        elif key in VERDICTS:
            self.kind = VERDICTS[key]
            if key in ("jump", "goto"):
                self.target = str((val or {}).get("target", ""))
        elif key in IGNORED_STATEMENTS:
            return
        else:  # limit, xt, …: a condition we cannot model
            self.conds.append(Cond("opaque", key=json.dumps(st, sort_keys=True)))

    def match(self, m: dict[str, Any]) -> None:
        op, left, right = m.get("op", "=="), m.get("left"), m.get("right")
        neg = op == "!="
        if op not in ("==", "!=", "in", "<", ">", "<=", ">="):
            raise self.fail(f"unsupported operator {op!r}")
        if isinstance(right, str) and right.startswith("@"):
            self.conds.append(Cond("opaque", key=f"{json.dumps(left, sort_keys=True)} in {right}", negate=neg))
            return
        if not isinstance(left, dict):
            raise self.fail(f"bad match left side {left!r}")
        if "payload" in left:
            self.payload(left["payload"], op, right, neg)
        elif "meta" in left:
            self.meta(left["meta"].get("key"), op, right, neg)
        elif "ct" in left and left["ct"].get("key") == "state":
            names = [str(x).upper() for x in _items(right)]
            if any(n not in STATES for n in names):
                raise self.fail(f"unknown ct state in {right!r}")
            vals = iv.normalize((STATES.index(n), STATES.index(n)) for n in names)
            self.conds.append(Cond("state", values=vals, negate=neg))
        else:
            self.conds.append(Cond("opaque", key=json.dumps(m, sort_keys=True), negate=neg))

    def payload(self, p: dict[str, Any], op: str, right: Any, neg: bool) -> None:
        proto, fld = p.get("protocol"), p.get("field")
        if proto in ("ip", "ip6"):
            self.conds.append(Cond("src", values=V4_SPACE if proto == "ip" else V6_SPACE))
            if fld in ("saddr", "daddr"):
                self.conds.append(Cond("src" if fld == "saddr" else "dst", values=_ranged(op, right, _addr_set),
                                       negate=neg))
            elif fld in ("protocol", "nexthdr"):
                self.conds.append(Cond("proto", values=_ranged(op, right, _proto_set), negate=neg))
            else:
                self.conds.append(Cond("opaque", key=f"{proto} {fld} {op} {json.dumps(right)}"))
        elif fld in ("sport", "dport"):
            if proto == "th":
                self.conds.append(Cond("proto", values=PORT_PROTOS))
            else:
                self.conds.append(Cond("proto", values=_proto_set(proto)))
            self.conds.append(Cond(fld, values=_ranged(op, right, _port_set), negate=neg))
        elif proto in ("icmp", "icmpv6") and fld in ("type", "code"):
            self.conds.append(Cond("proto", values=_proto_set(proto)))
            names = ICMP_TYPES if proto == "icmp" else ICMP6_TYPES
            sets = []
            for item in _items(right):
                v = names.get(str(item), item)
                t = v[0] if isinstance(v, tuple) else int(v)
                sets.append((t * 256, t * 256 + 255) if fld == "type" else None)
            if fld == "code":
                self.conds.append(Cond("opaque", key=f"{proto} code {op} {json.dumps(right)}", negate=neg))
            else:
                self.conds.append(Cond("icmp", values=iv.normalize(s for s in sets if s), negate=neg))
        else:
            if proto in PROTOCOLS:
                self.conds.append(Cond("proto", values=_proto_set(proto)))
            self.conds.append(Cond("opaque", key=f"{proto} {fld} {op} {json.dumps(right)}", negate=neg))

    def meta(self, key: str | None, op: str, right: Any, neg: bool) -> None:
        if key in ("iifname", "oifname", "iif", "oif"):
            pats = tuple(str(x).replace("*", "+") for x in _items(right))
            self.conds.append(Cond("iif" if key.startswith("i") else "oif", patterns=pats, negate=neg))
        elif key in ("l4proto", "protocol"):
            self.conds.append(Cond("proto", values=_ranged(op, right, _proto_set), negate=neg))
        elif key == "nfproto":
            spaces = [V4_SPACE if str(x) == "ipv4" else V6_SPACE for x in _items(right)]
            vals = iv.normalize(i for s in spaces for i in s)
            self.conds.append(Cond("src", values=iv.complement(vals, family_space("inet")) if neg else vals))
        else:
            self.conds.append(Cond("opaque", key=f"meta {key} {op} {json.dumps(right)}", negate=neg))


def _items(right: Any) -> list[Any]:
    if isinstance(right, dict) and "set" in right:
        return list(right["set"])
    if isinstance(right, list):
        return right
    return [right]


def _addr_set(v: Any) -> iv.IntervalSet:
    if isinstance(v, dict) and "prefix" in v:
        return cidr_set(f"{v['prefix']['addr']}/{v['prefix']['len']}")
    if isinstance(v, dict) and "range" in v:
        return cidr_set(f"{v['range'][0]}-{v['range'][1]}")
    return cidr_set(str(v))


def _port_set(v: Any) -> iv.IntervalSet:
    if isinstance(v, dict) and "range" in v:
        return port_set(f"{v['range'][0]}:{v['range'][1]}")
    return port_set(str(v))


def _proto_set(v: Any) -> iv.IntervalSet:
    if isinstance(v, dict) and "range" in v:
        return iv.span(int(v["range"][0]), int(v["range"][1]))
    n = proto_number(str(v))
    return iv.span(n, n)


def _ranged(op: str, right: Any, conv: Any) -> iv.IntervalSet:
    if op in ("<", ">", "<=", ">="):
        top = {_port_set: 65535, _proto_set: 255}.get(conv, 2**128 - 1)
        v = int(right) if not isinstance(right, str) or right.isdigit() else None
        if v is None:
            raise parse_error(f"comparison {op} needs a number, got {right!r}")
        lo, hi = {"<": (0, v - 1), "<=": (0, v), ">": (v + 1, top), ">=": (v, top)}[op]
        return iv.span(lo, hi)
    return iv.normalize(i for item in _items(right) for i in conv(item))


def parse_nft_json(text: str, source: str = "<nft>") -> Ruleset:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise parse_error(f"not JSON (line {exc.lineno}): {exc.msg}", line=exc.lineno) from None
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise parse_error("no top-level 'nftables' list: expected `nft -j list ruleset` output")
    rs = Ruleset(source)
    base: dict[str, list[tuple[int, str]]] = {}
    counts: dict[str, int] = {}
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise parse_error(f"nftables[{n}] is not an object")
        if "chain" in item:
            ch = item["chain"]
            if ch.get("family") not in FAMILIES:
                continue
            cid = _chain_id(ch)
            if ch.get("hook") in HOOKS and ch.get("type", "filter") == "filter":
                rs.chain(cid, DENY if ch.get("policy") == "drop" else ACCEPT)
                base.setdefault(ch["hook"], []).append((int(ch.get("prio", 0)), cid))
            else:
                rs.chain(cid)
        elif "rule" in item:
            r = item["rule"]
            if r.get("family") not in FAMILIES:
                continue
            cid = _chain_id(r)
            if cid not in rs.chains:
                raise parse_error(f"nftables[{n}]: rule for undeclared chain {cid!r}")
            counts[cid] = counts.get(cid, 0) + 1
            where = f"{r.get('family')}:{r.get('table')}/{r.get('chain')} handle {r.get('handle')}"
            ex = _Expr(FAMILIES[r["family"]], where)
            for st in r.get("expr", []):
                ex.statement(st)
            if ex.kind in ("jump", "goto"):
                ex.target = f"{r['family']}:{r['table']}/{ex.target}"
                if ex.target not in rs.chains:
                    raise parse_error(f"{where}: {ex.kind} to unknown chain {ex.target!r}")
            space = family_space(FAMILIES[r["family"]])
            conds = [Cond("src", values=space), Cond("dst", values=space), *ex.conds]
            rs.chains[cid].rules.append(Rule(cid, counts[cid], conds, ex.kind, ex.target,
                                             json.dumps(r.get("expr", []))[:300], int(r.get("handle", 0))))
    for hook, chains in base.items():
        rs.hooks[hook] = [cid for _, cid in sorted(chains)]
    if not rs.hooks:
        rs.notes.append("no filter base chains (input/forward/output) found")
    return rs.compile()
