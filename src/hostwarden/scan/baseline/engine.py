"""Run policies over a root and score them (per policy and per MLPS 2.0 clause)."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from hostwarden.scan.base import ScanContext
from hostwarden.scan.baseline.host import Host
from hostwarden.scan.baseline.model import FAIL, NA, PASS, Evidence, Outcome, Policy, Result

EVAL_ERROR = "check could not be evaluated"


def run_policy(policy: Policy, ctx: ScanContext, host: Host | None = None) -> list[Result]:
    """Evaluate every check; a check whose evaluator raises is kept, not-applicable with the error.

    Not a failure: the check read nothing it could judge, and a graded finding would claim
    something about the host that nobody saw. The scanner lists these in a notice instead.
    """
    host = host or Host(ctx)
    results = []
    for check in policy.checks:
        try:
            outcome = check.evaluate(host)
        except (OSError, ValueError, KeyError, TypeError, re.error) as exc:
            outcome = Outcome(NA, [Evidence(note=f"{type(exc).__name__}: {exc}")], f"{EVAL_ERROR}: {type(exc).__name__}")
        results.append(Result(check, outcome))
    return results


def score(results: list[Result]) -> dict[str, Any]:
    """Pass rate over decided checks (not-applicable ones do not count), overall and per MLPS clause."""

    def rate(rs: list[Result]) -> dict[str, Any]:
        p = sum(r.status == PASS for r in rs)
        f = sum(r.status == FAIL for r in rs)
        n = sum(r.status == NA for r in rs)
        return {"pass": p, "fail": f, "not_applicable": n, "score": round(100 * p / (p + f), 1) if p + f else None}

    by_clause: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        for clause in r.check.mlps:
            by_clause[clause].append(r)
    return {"total": rate(results), "mlps": {c: rate(rs) for c, rs in sorted(by_clause.items())}}


def ordered(results: list[Result]) -> list[Result]:
    """Failures first (most severe first), then passes, then not-applicable."""
    sev = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    rank = {FAIL: 0, PASS: 1, NA: 2}
    return sorted(results, key=lambda r: (rank[r.status], sev.get(r.check.severity, 5), r.check.id))
