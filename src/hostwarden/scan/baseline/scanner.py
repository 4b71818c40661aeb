"""The baseline part of `hostwarden scan`: every failed check becomes a finding with its evidence and fix."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hostwarden.scan.base import ScanContext, finding
from hostwarden.scan.baseline.engine import ordered, run_policy, score
from hostwarden.scan.baseline.loader import builtin_policy_files, load_policy
from hostwarden.scan.baseline.model import FAIL, SEVERITY_GRADE, Policy, Result


def policies_for(ctx: ScanContext) -> list[Policy]:
    """Built-in policies, or the files in `options["baseline_policies"]` when given."""
    files = [Path(p) for p in ctx.options.get("baseline_policies", [])] or builtin_policy_files()
    return [load_policy(p) for p in files]


def result_finding(policy: Policy, r: Result) -> dict[str, Any]:
    c = r.check
    return finding(
        scanner="baseline", kind="configuration", title=f"{c.id} {c.title}",
        severity=SEVERITY_GRADE.get(c.severity, "L3"),
        evidence={"items": [e.to_dict() for e in r.outcome.evidence], "reason": r.outcome.reason},
        **{"rule.id": c.id, "rule.name": c.title, "rule.ruleset": policy.id, "rule.reference": ", ".join(c.cis),
           "hostwarden.fix": c.remediation, "hostwarden.mlps": c.mlps, "hostwarden.cis": c.cis,
           "event.outcome": "failure"},
    )


class BaselineScanner:
    name = "baseline"

    def __init__(self) -> None:
        self.summary: dict[str, Any] = {}

    def scan(self, ctx: ScanContext) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        self.summary = {"policies": {}}
        for policy in policies_for(ctx):
            started = time.monotonic()
            results = run_policy(policy, ctx)
            self.summary["policies"][policy.id] = {**score(results), "seconds": round(time.monotonic() - started, 3)}
            out.extend(result_finding(policy, r) for r in ordered(results) if r.status == FAIL)
        return out
