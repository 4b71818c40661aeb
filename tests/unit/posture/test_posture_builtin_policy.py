"""Every built-in check passes on the hardened root and fails on the weakened one, with evidence and a fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostwarden.scan.base import ScanContext
from hostwarden.scan.baseline.engine import run_policy, score
from hostwarden.scan.baseline.loader import builtin_policy_files, load_policy
from hostwarden.scan.baseline.model import FAIL, MLPS_CLAUSES, PASS

POLICY = load_policy(builtin_policy_files()[0])
IS_ROOT = os.geteuid() == 0
NEEDS_ROOT = {"file_mode", "file_scan"}  # owners in the test root are only right when tests run as root


def _results(root: Path) -> dict[str, object]:
    return {r.check.id: r for r in run_policy(POLICY, ScanContext(root=root))}


@pytest.fixture(scope="module")
def outcomes(posture_roots: dict[str, Path]) -> dict[str, dict[str, object]]:
    return {v: _results(p) for v, p in posture_roots.items()}


def test_policy_is_large_and_fully_mapped() -> None:
    assert len(POLICY.checks) >= 80
    for c in POLICY.checks:
        assert c.mlps and set(c.mlps) <= set(MLPS_CLAUSES), c.id
        assert c.remediation and c.rationale, c.id
    assert {m for c in POLICY.checks for m in c.mlps} == set(MLPS_CLAUSES)
    assert sum(bool(c.cis) for c in POLICY.checks) >= len(POLICY.checks) - 2


@pytest.mark.parametrize("check_id", [c.id for c in POLICY.checks])
def test_check_passes_hardened_fails_weakened(check_id: str, outcomes: dict) -> None:
    check = next(c for c in POLICY.checks if c.id == check_id)
    if check.kind in NEEDS_ROOT and not IS_ROOT:
        pytest.skip("needs root to give test files root ownership")
    good, bad = outcomes["hardened"][check_id], outcomes["weakened"][check_id]
    assert good.status == PASS, (good.outcome.reason, good.outcome.evidence)
    assert bad.status == FAIL, (bad.outcome.reason, bad.outcome.evidence)
    assert bad.outcome.evidence and any(e.file or e.value for e in bad.outcome.evidence)
    assert bad.outcome.reason
    assert bad.to_dict()["fix"] == check.remediation


def test_scores(outcomes: dict) -> None:
    hard = score(list(outcomes["hardened"].values()))
    weak = score(list(outcomes["weakened"].values()))
    assert weak["total"]["score"] < 10 < 90 < hard["total"]["score"]
    assert set(hard["mlps"]) == set(MLPS_CLAUSES)
    assert all(s["fail"] > 0 for s in weak["mlps"].values())
