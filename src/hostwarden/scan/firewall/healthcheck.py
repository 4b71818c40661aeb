"""Load-balancer health checks the firewall would block.

File format (JSON or YAML)::

    health_checks:
      - name: web                  # free text
        protocol: tcp              # tcp (default) or udp
        listener_port: 80          # the load balancer's port (for the report)
        backend_port: 8080         # the port probes hit on this host
        backend: 10.0.0.5          # optional: the backend address probed
        source_ranges: [100.64.0.0/10]   # where the probes come from

A check is blocked when some probe from its source ranges to the backend port is denied;
the finding names one such probe and the rule that denies it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hostwarden.core.errors import FW_PARSE_FAILED, HostwardenError
from hostwarden.core.safeload import safe_json_loads, safe_yaml_load
from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.anomalies import nice_sample
from hostwarden.scan.firewall.intervals import Product
from hostwarden.scan.firewall.loader import MAX_RULES_BYTES
from hostwarden.scan.firewall.model import V4_SPACE, V6_SPACE, Packet, Ruleset, cidr_set, proto_number
from hostwarden.scan.firewall.regions import accepted
from hostwarden.scan.firewall.simulate import simulate
from hostwarden.scan.safefiles import read_regular_file


def load_health_checks(path: Path) -> list[dict[str, Any]]:
    try:
        text = read_regular_file(path, MAX_RULES_BYTES).decode("utf-8")
        doc = safe_json_loads(text) if text.lstrip().startswith("{") else safe_yaml_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise HostwardenError(FW_PARSE_FAILED, f"{path}: health-check file unreadable: {exc}") from None
    checks = doc.get("health_checks") if isinstance(doc, dict) else None
    if not isinstance(checks, list):
        raise HostwardenError(FW_PARSE_FAILED, f"{path}: expected a 'health_checks' list")
    for n, c in enumerate(checks):
        if not isinstance(c, dict) or "backend_port" not in c or not c.get("source_ranges"):
            raise HostwardenError(FW_PARSE_FAILED, f"{path}: health_checks[{n}] needs backend_port and source_ranges")
    return checks


def blocked_health_checks(rs: Ruleset, checks: list[dict[str, Any]], hook: str = "input") -> list[dict[str, Any]]:
    out = []
    for n, c in enumerate(checks):
        where = f"health_checks[{n}]"
        try:
            proto = proto_number(str(c.get("protocol", "tcp")))
            port = int(c["backend_port"])
            srcs = iv.normalize(i for r in c["source_ranges"] for i in cidr_set(str(r)))
            # Without a backend address, any address of the probes' own family.
            families = [f for f in (V4_SPACE, V6_SPACE) if iv.overlaps(f, srcs)]
            dst = cidr_set(str(c["backend"])) if c.get("backend") else iv.normalize(i for f in families for i in f)
        except (ValueError, TypeError, HostwardenError) as exc:
            raise HostwardenError(FW_PARSE_FAILED, f"{where}: {getattr(exc, 'message', exc)}") from None
        dims = list(rs.universe)
        dims[0], dims[1], dims[2], dims[4], dims[6] = iv.span(proto, proto), srcs, dst, iv.span(port, port), ((0, 0),)
        if "lo" in rs.iface_names:
            lo = rs.iface_names.index("lo")
            dims[7] = iv.subtract(dims[7], ((lo, lo),))
        query: Product = tuple(dims)
        # Opaque conditions (ipsets, unknown matches) are assumed false for probes.
        query = (*query[:9], *(((0, 0),) for _ in rs.opaque_keys))
        denied = iv.u_subtract_many([query], accepted(rs, hook, within=query))
        if not denied:
            continue
        pkt = Packet.from_point(rs, nice_sample(rs, denied[0]))
        verdict = simulate(rs, pkt, hook)
        out.append({"check": c.get("name", where), "listener_port": c.get("listener_port"), "backend_port": port,
                    "packet": pkt.to_dict(), "flow": pkt.describe(), "path": verdict.path,
                    "message": f"health check {c.get('name', where)!r} is blocked: {pkt.describe()} is denied "
                               f"by {verdict.path[-1]['rule'] if verdict.path else 'the policy'}"})
    return out
