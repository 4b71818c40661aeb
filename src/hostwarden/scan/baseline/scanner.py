"""The baseline part of `hostwarden scan`: every failed check becomes a finding with its evidence and fix.

The finding's message says what is wrong and where (`wording.failure_message`); `rule.id` is the
check id and `rule.name` the check's title, both shown apart from the message.

Checks that could not be assessed (their input is missing under the root, or evaluating them
raised) are not findings: they are counted in the summary and named once in a SCAN-9204 notice,
so a partial root shows what was not looked at instead of failing checks about absent files.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hostwarden.core.errors import SCAN_NOT_ASSESSED
from hostwarden.scan.base import ScanContext, finding
from hostwarden.scan.baseline.engine import EVAL_ERROR, ordered, run_policy, score
from hostwarden.scan.baseline.loader import builtin_policy_files, load_policy
from hostwarden.scan.baseline.model import FAIL, NA, SEVERITY_GRADE, Policy, Result
from hostwarden.scan.baseline.wording import failure_message

NOTICE_INPUTS = 8  # inputs named in the notice; the summary keeps the full list


def policies_for(ctx: ScanContext) -> list[Policy]:
    """Built-in policies, or the files in `options["baseline_policies"]` when given."""
    files = [Path(p) for p in ctx.options.get("baseline_policies", [])] or builtin_policy_files()
    return [load_policy(p) for p in files]


def result_finding(policy: Policy, r: Result) -> dict[str, Any]:
    c = r.check
    return finding(
        scanner="baseline", kind="configuration", title=failure_message(c, r.outcome),
        severity=SEVERITY_GRADE.get(c.severity, "L3"),
        evidence={"items": [e.to_dict() for e in r.outcome.evidence], "reason": r.outcome.reason},
        **{"rule.id": c.id, "rule.name": c.title, "rule.ruleset": policy.id, "rule.reference": ", ".join(c.cis),
           "hostwarden.fix": c.remediation, "hostwarden.mlps": c.mlps, "hostwarden.cis": c.cis,
           "event.outcome": "failure"},
    )


def not_assessed(results: list[Result]) -> dict[str, list[str]]:
    """Missing input (host path) → ids of the checks it left unassessed; evaluator errors under their reason."""
    out: dict[str, list[str]] = {}
    for r in results:
        if r.status != NA:
            continue
        keys = r.outcome.missing or ([r.outcome.reason] if r.outcome.reason.startswith(EVAL_ERROR) else [])
        for key in keys:
            out.setdefault(key, []).append(r.check.id)
    return out


def _notice(ctx: ScanContext, policy: Policy, gaps: dict[str, list[str]]) -> None:
    checks = sorted({c for ids in gaps.values() for c in ids})
    named = "; ".join(f"{k} ({', '.join(ids)})" for k, ids in list(gaps.items())[:NOTICE_INPUTS])
    more = f"; and {len(gaps) - NOTICE_INPUTS} more input(s)" if len(gaps) > NOTICE_INPUTS else ""
    ctx.notice(SCAN_NOT_ASSESSED.code,
               f"baseline {policy.id}: {len(checks)} check(s) not assessed, input missing under this root: {named}{more}",
               scanner="baseline", policy=policy.id)


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
            gaps = not_assessed(results)
            self.summary["policies"][policy.id] = {**score(results), "not_assessed": gaps,
                                                   "seconds": round(time.monotonic() - started, 3)}
            if gaps:
                _notice(ctx, policy, gaps)
            out.extend(result_finding(policy, r) for r in ordered(results) if r.status == FAIL)
        return out
