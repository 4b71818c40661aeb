"""The incident policy (rules/incidents/policy.yml): joining window, campaigns, grading, SLAs.

Validated with pydantic so a typo in a site's copy is refused with CSA-5003 naming the key,
not silently ignored.
"""

from __future__ import annotations

import fnmatch
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hostwarden.core.errors import CSA_RULE_INVALID, HostwardenError
from hostwarden.core.records import Alert, Grade

BUILTIN_POLICY = Path(__file__).resolve().parents[3] / "rules" / "incidents" / "policy.yml"
MAX_POLICY_BYTES = 1 << 20
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_span(text: str | int | float) -> timedelta:
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    value, unit = text.strip()[:-1], text.strip()[-1:]
    if unit not in _UNITS or not value.replace(".", "", 1).isdigit():
        raise ValueError(f"not a time span: {text!r} (use e.g. 15m, 2h, 1d)")
    return timedelta(seconds=float(value) * _UNITS[unit])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Campaign(_Strict):
    name: str
    techniques: list[str] = Field(default_factory=list)  # globs: T1110, T1110.*
    rules: list[str] = Field(default_factory=list)
    except_rules: list[str] = Field(default_factory=list)
    max_grade: Literal["L1", "L2", "L3"] = "L2"

    def matches(self, alert: Alert) -> bool:
        if alert.rule_id in self.except_rules or alert.grade.rank < Grade(self.max_grade).rank:
            return False
        if alert.rule_id in self.rules:
            return True
        return any(fnmatch.fnmatchcase(t.upper(), pat.upper()) for t in alert.techniques for pat in self.techniques)


class When(_Strict):
    rules: list[str] = Field(default_factory=list)
    min_grade: Literal["L1", "L2", "L3"] | None = None
    tactics: list[str] = Field(default_factory=list)
    kind: Literal["campaign", "intrusion"] | None = None
    min_alerts: int = 0


class GradingRule(_Strict):
    id: str
    when: When
    grade: Literal["L1", "L2", "L3"]
    priority: Literal["P0", "P1", "P2", "P3"]
    reason: str


class IncidentPolicy(_Strict):
    window: timedelta = timedelta(hours=24)
    max_alerts_kept: int = Field(200, ge=1, le=10_000)
    campaigns: list[Campaign] = Field(default_factory=list)
    service_levels: dict[Literal["P0", "P1", "P2", "P3"], timedelta]
    grading: list[GradingRule]

    @field_validator("window", mode="before")
    @classmethod
    def _span(cls, v: Any) -> Any:
        return parse_span(v) if isinstance(v, str | int | float) else v

    @field_validator("service_levels", mode="before")
    @classmethod
    def _spans(cls, v: Any) -> Any:
        return {k: parse_span(s) if isinstance(s, str | int | float) else s for k, s in dict(v).items()}

    def campaign_for(self, alert: Alert) -> Campaign | None:
        return next((c for c in self.campaigns if c.matches(alert)), None)


def load_policy(path: Path | None = None) -> IncidentPolicy:
    path = path or BUILTIN_POLICY
    try:
        if path.stat().st_size > MAX_POLICY_BYTES:
            raise HostwardenError(CSA_RULE_INVALID, f"{path}: larger than {MAX_POLICY_BYTES} bytes")
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return IncidentPolicy.model_validate(raw)
    except OSError as exc:
        raise HostwardenError(CSA_RULE_INVALID, f"cannot read incident policy {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise HostwardenError(CSA_RULE_INVALID, f"incident policy {path}: {exc}") from exc
    except (ValidationError, ValueError) as exc:
        raise HostwardenError(CSA_RULE_INVALID, f"incident policy {path}: {exc}") from exc
