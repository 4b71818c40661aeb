"""The shapes a policy, a check and a result take, whatever format the policy came from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PASS, FAIL, NA = "pass", "fail", "not_applicable"

# MLPS 2.0 (GB/T 22239-2019) level-3 clause families a check can map to.
MLPS_CLAUSES = ("身份鉴别", "访问控制", "安全审计", "入侵防范", "恶意代码防范", "数据完整性", "数据保密性")

SEVERITY_GRADE = {"critical": "L1", "high": "L2", "medium": "L3", "low": "L3", "info": "L3"}


@dataclass
class Evidence:
    """What was looked at and what was seen there: the proof behind a pass or a fail."""

    file: str | None = None
    line: int | None = None
    value: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Outcome:
    """What one check kind (or one SCA rule) concluded.

    `missing` names the inputs (host paths) whose absence left the check unassessed: a check
    that could not read what it judges is not-applicable, never a graded failure, and the scan
    lists these inputs once in a notice so the gap is visible.
    """

    status: str
    evidence: list[Evidence] = field(default_factory=list)
    reason: str = ""
    missing: list[str] = field(default_factory=list)


@dataclass
class Check:
    """One check. `title` names the passing state ("SSH root login disabled"); `problem` says in
    plain words what is wrong when it fails ("SSH root login allowed"), for the finding's row."""

    id: str
    title: str
    severity: str
    evaluate: Callable[..., Outcome]
    problem: str = ""
    rationale: str = ""
    remediation: str = ""
    cis: list[str] = field(default_factory=list)
    mlps: list[str] = field(default_factory=list)
    kind: str = ""
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def problem_text(self) -> str:
        """The failing state; a check without one (Wazuh SCA files have none) says which title is not met."""
        return self.problem or f"Not met: {self.title}"


@dataclass
class Policy:
    id: str
    name: str
    checks: list[Check]
    source: str = ""


@dataclass
class Result:
    check: Check
    outcome: Outcome

    @property
    def status(self) -> str:
        return self.outcome.status

    def to_dict(self) -> dict[str, Any]:
        c = self.check
        return {
            "id": c.id,
            "title": c.title,
            "problem": c.problem_text,
            "severity": c.severity,
            "status": self.status,
            "reason": self.outcome.reason,
            "evidence": [e.to_dict() for e in self.outcome.evidence],
            "fix": c.remediation,
            "cis": c.cis,
            "mlps": c.mlps,
        }
