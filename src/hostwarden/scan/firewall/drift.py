"""Semantic drift: the flows one rule set allows and the other does not.

Both rule sets are compiled in one shared space (same interface names, same opaque
conditions), their accepted regions computed, and each difference is reported as regions
(readable ranges per dimension) with an example packet that one allows and the other denies.
"""

from __future__ import annotations

from typing import Any

from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.anomalies import nice_sample
from hostwarden.scan.firewall.intervals import Product
from hostwarden.scan.firewall.model import PROTO_NAMES, STATES, Packet, Ruleset, addr_text
from hostwarden.scan.firewall.regions import accepted
from hostwarden.scan.firewall.simulate import simulate_point

MAX_REGIONS = 200


def align(a: Ruleset, b: Ruleset) -> None:
    """Recompile both rule sets over the union of their interfaces and opaque conditions."""
    a.compile()
    b.compile()
    names = sorted(set(a.iface_names[:-1]) | set(b.iface_names[:-1]))
    keys = list(dict.fromkeys([*a.opaque_keys, *b.opaque_keys]))
    for rs in (a, b):
        rs.compile(extra_ifaces=names, extra_keys=keys)


def describe_region(rs: Ruleset, p: Product) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, name in enumerate(rs.dims):
        vals = p[k]
        if vals == rs.domains[k]:
            continue
        if name == "proto":
            out[name] = [PROTO_NAMES.get(lo, str(lo)) if lo == hi else f"{lo}-{hi}" for lo, hi in vals]
        elif name in ("src", "dst"):
            out[name] = [addr_text(lo) if lo == hi else f"{addr_text(lo)}-{addr_text(hi)}" for lo, hi in vals[:8]]
        elif name == "state":
            out[name] = [STATES[v] for lo, hi in vals for v in range(lo, hi + 1)]
        elif name in ("iif", "oif"):
            out[name] = [rs.iface_names[v] for lo, hi in vals for v in range(lo, hi + 1)]
        else:
            out[name] = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in vals[:8]]
    return out


def drift(a: Ruleset, b: Ruleset, hook: str = "input") -> dict[str, Any]:
    align(a, b)
    acc_a, acc_b = accepted(a, hook), accepted(b, hook)
    only_a = iv.u_subtract_many(list(acc_a), acc_b)
    only_b = iv.u_subtract_many(list(acc_b), acc_a)

    def report(parts: list[Product], allows: Ruleset, denies: Ruleset) -> list[dict[str, Any]]:
        rows = []
        for p in parts[:MAX_REGIONS]:
            point = nice_sample(allows, p)
            pkt = Packet.from_point(allows, point)
            rows.append({"region": describe_region(allows, p), "example": pkt.describe(),
                         "allowed_by": simulate_point(allows, point, hook).path[-1:],
                         "denied_by": simulate_point(denies, point, hook).path[-1:]})
        return rows

    return {"hook": hook, "only_in_a": report(only_a, a, b), "only_in_b": report(only_b, b, a),
            "equivalent": not only_a and not only_b, "regions_a": len(only_a), "regions_b": len(only_b),
            "_only_a": only_a, "_only_b": only_b}
