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

import functools
import shlex
import string
from collections.abc import Callable
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


@functools.lru_cache(maxsize=65536)
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
    template = _FIX_TEMPLATES.get(ecosystem.split(":", 1)[0].lower())
    if template is None:
        return None
    target = binary or name
    # only the fields the template uses: shlex.quote on every field cost ~20 µs a finding
    return template.format(**{f: _FIX_FIELDS[f](name, target, fixed) for f in _template_fields(template)})


@functools.cache
def _template_fields(template: str) -> tuple[str, ...]:
    return tuple(f for _, f, _, _ in string.Formatter().parse(template) if f)


_q = shlex.quote
_FIX_FIELDS: dict[str, Callable[[str, str, str], str]] = {
    "target_eq": lambda name, target, fixed: _q(f"{target}={fixed}"),
    "target_ge": lambda name, target, fixed: _q(f"{target}>={fixed}"),
    "target_dash": lambda name, target, fixed: _q(f"{target}-{fixed}"),
    "name": lambda name, target, fixed: _q(name),
    "fixed": lambda name, target, fixed: _q(fixed),
    "name_ge": lambda name, target, fixed: _q(f"{name}>={fixed}"),
    "name_at": lambda name, target, fixed: _q(f"{name}@{fixed}"),
    "go_at": lambda name, target, fixed: _q(f"{name}@v{fixed.lstrip('v')}"),
    "composer": lambda name, target, fixed: _q(f"{name}:^{fixed}"),
    "raw_name": lambda name, target, fixed: name,
    "raw_fixed": lambda name, target, fixed: fixed,
}


_FIX_TEMPLATES = {
    "debian": "apt-get install --only-upgrade {target_eq}",
    "ubuntu": "apt-get install --only-upgrade {target_eq}",
    "alpine": "apk add --upgrade {target_ge}",
    "red hat": "dnf upgrade {target_dash}",
    "rocky linux": "dnf upgrade {target_dash}",
    "almalinux": "dnf upgrade {target_dash}",
    "pypi": "pip install {name_ge}",
    "npm": "npm install {name_at}",
    "go": "go get {go_at}",
    "crates.io": "cargo update -p {name} --precise {fixed}",
    "rubygems": "bundle update {name}  # to >= {raw_fixed}",
    "packagist": "composer require {composer}",
    "maven": "set {raw_name} to version {raw_fixed} in pom.xml / build.gradle",
    "nuget": "dotnet add package {name} --version {fixed}",
}
