"""Everything `fw analyze` and the scanner report about one rule set, graded L1–L3.

Grades follow DESIGN.md: a risky admin/data port open to the internet or a blocked health
check is L2 (important: an outage or an attack path); a shadowed rule is L2 when it is a
drop that never applies (the "blocked" attacker is not), otherwise rule hygiene is L3.
"""

from __future__ import annotations

from typing import Any

from hostwarden.scan.firewall.anomalies import analyze
from hostwarden.scan.firewall.exposure import exposed_ports, wide_rules
from hostwarden.scan.firewall.healthcheck import blocked_health_checks
from hostwarden.scan.firewall.model import DENY, Ruleset

INBOUND = ("input", "forward")


def _anomaly_grade(f: dict[str, Any]) -> str:
    if f["type"] == "shadowing" and f["rule"].get("action") == DENY:
        return "L2"
    return "L3"


def full_analysis(rs: Ruleset, health_checks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    findings: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    for res in analyze(rs):
        notices.extend(res.notices)
        for f in res.findings:
            findings.append({**f, "category": "anomaly", "grade": _anomaly_grade(f)})
    exposure: list[dict[str, Any]] = []
    if "input" in rs.hooks:
        exposure = exposed_ports(rs, "input")
        for seg in exposure:
            if seg["risky"]:
                names = ", ".join(f"{p} ({n})" for p, n in seg["risky"].items())
                findings.append({"category": "exposure", "type": "risky-port-exposed", "grade": "L2",
                                 "message": f"{seg['protocol']} {names} reachable from "
                                            f"{'anywhere on the internet' if seg['from_anywhere'] else 'internet sources'}"
                                            f" (e.g. {seg['source_example']})", "exposure": seg})
        for w in wide_rules(rs, "input"):
            findings.append({"category": "exposure", "type": "wide-rule", "grade": "L3", **w})
    if health_checks:
        for b in blocked_health_checks(rs, health_checks, "input"):
            findings.append({"category": "health-check", "type": "health-check-blocked", "grade": "L2", **b})
    counts: dict[str, int] = {}
    for f in findings:
        counts[f["type"]] = counts.get(f["type"], 0) + 1
    return {"source": rs.source, "hooks": {h: c for h, c in rs.hooks.items()},
            "rules": sum(len(c.rules) for c in rs.chains.values()), "findings": findings,
            "exposed": exposure, "counts": counts, "notices": notices + [{"message": n} for n in rs.notes]}
