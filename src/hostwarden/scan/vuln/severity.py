"""Severity, known exploitation, priority and the fix command for one matched advisory.

Priority policy (DESIGN.md grading):
- L1: a malicious package (`MAL-`), a CVE in the CISA KEV catalog, or CVSS >= 9.0.
  Exposure of the service is not known to an offline scan, so every KEV match is treated as
  potentially exposed and graded L1 (the reason says so).
- L2: CVSS 4.0-8.9 (or a textual HIGH/MODERATE/MEDIUM severity without a vector).
- L3: everything else, including advisories without any severity.

Status vocabulary policy (see docs/vuln.md): `fixed` and `unfixed` keep the severity grade;
`will-not-fix` is capped at L3 unless malicious or known exploited; `end-of-life` is at least
L2 because no fix will ever come for that release; `not-affected` is never reported.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4

_TYPE_RANK = {"CVSS_V4": 3, "CVSS_V3": 2, "CVSS_V2": 1}
_LABELS = {"CRITICAL": ("L1", 9.0), "HIGH": ("L2", 7.0), "MODERATE": ("L2", 5.0), "MEDIUM": ("L2", 5.0),
           "LOW": ("L3", 2.0)}


@dataclass(frozen=True, slots=True)
class Score:
    base: float | None
    version: str | None
    vector: str | None
    label: str | None
    source: str  # advisory id the score came from, or "none"


def score_vector(kind: str, vector: str) -> tuple[float, str]:
    """Base score and CVSS version of one OSV `severity` entry; raises ValueError when unreadable."""
    try:
        if kind == "CVSS_V4":
            return float(CVSS4(vector).base_score), "4.0"
        if kind == "CVSS_V3":
            c3 = CVSS3(vector)
            return float(c3.scores()[0]), "3.1" if vector.startswith("CVSS:3.1") else "3.0"
        if kind == "CVSS_V2":
            return float(CVSS2(vector).scores()[0]), "2.0"
    except Exception as exc:  # cvss raises several exception types for malformed vectors
        raise ValueError(f"unreadable {kind} vector {vector!r}: {exc}") from exc
    raise ValueError(f"unknown severity type {kind}")


def label_for(base: float) -> str:
    if base >= 9.0:
        return "CRITICAL"
    if base >= 7.0:
        return "HIGH"
    if base >= 4.0:
        return "MEDIUM"
    return "LOW" if base > 0 else "NONE"


def best_score(entries: list[dict[str, Any]], source: str) -> Score | None:
    """The newest-version CVSS vector among OSV `severity` entries."""
    ranked = sorted((e for e in entries if isinstance(e, dict) and e.get("type") in _TYPE_RANK),
                    key=lambda e: -_TYPE_RANK[e["type"]])
    for entry in ranked:
        try:
            base, version = score_vector(str(entry["type"]), str(entry.get("score", "")))
        except ValueError:
            continue
        return Score(base, version, str(entry["score"]), label_for(base), source)
    return None


def record_score(record: dict[str, Any], entry: dict[str, Any]) -> Score | None:
    """Severity from the affected entry, then the record, then its textual database label."""
    rid = str(record.get("id"))
    found = best_score(list(entry.get("severity") or []), rid) or best_score(list(record.get("severity") or []), rid)
    if found:
        return found
    label = str((record.get("database_specific") or {}).get("severity") or "").upper()
    if label in _LABELS:
        return Score(None, None, None, label, rid)
    return None


@dataclass(frozen=True, slots=True)
class Priority:
    grade: str
    reason: str


def priority(score: Score | None, *, kev: bool, malicious: bool, status: str) -> Priority:
    if malicious:
        return Priority("L1", "malicious package (MAL- advisory): remove it and rotate credentials it could reach")
    if kev:
        return Priority("L1", "known exploited (CISA KEV); service exposure not assessed offline, so treated as exposed")
    if score is None:
        grade, reason = "L3", "no severity published"
    elif score.base is not None:
        grade = "L1" if score.base >= 9.0 else "L2" if score.base >= 4.0 else "L3"
        reason = f"CVSS {score.version} base {score.base:.1f}"
    else:
        grade = _LABELS[score.label or "LOW"][0]
        reason = f"severity {score.label} (no CVSS vector)"
    if status == "will-not-fix" and grade != "L3":
        return Priority("L3", f"{reason}; the distribution will not fix it")
    if status == "end-of-life" and grade == "L3":
        return Priority("L2", f"{reason}; the release is end-of-life, no fix will come")
    return Priority(grade, reason)


def fix_command(ecosystem: str, name: str, binary: str | None, fixed: str | None) -> str | None:
    """The command that installs the first fixed version, in the package manager's own words."""
    if not fixed:
        return None
    eco = ecosystem.split(":", 1)[0].lower()
    target = binary or name
    q = shlex.quote
    gofixed = "v" + fixed.lstrip("v")
    commands = {
        "debian": f"apt-get install --only-upgrade {q(f'{target}={fixed}')}",
        "ubuntu": f"apt-get install --only-upgrade {q(f'{target}={fixed}')}",
        "alpine": f"apk add --upgrade {q(f'{target}>={fixed}')}",
        "red hat": f"dnf upgrade {q(f'{target}-{fixed}')}",
        "rocky linux": f"dnf upgrade {q(f'{target}-{fixed}')}",
        "almalinux": f"dnf upgrade {q(f'{target}-{fixed}')}",
        "pypi": f"pip install {q(f'{name}>={fixed}')}",
        "npm": f"npm install {q(f'{name}@{fixed}')}",
        "go": f"go get {q(f'{name}@{gofixed}')}",
        "crates.io": f"cargo update -p {q(name)} --precise {q(fixed)}",
        "rubygems": f"bundle update {q(name)}  # to >= {fixed}",
        "packagist": f"composer require {q(f'{name}:^{fixed}')}",
        "maven": f"set {name} to version {fixed} in pom.xml / build.gradle",
        "nuget": f"dotnet add package {q(name)} --version {q(fixed)}",
    }
    return commands.get(eco)
