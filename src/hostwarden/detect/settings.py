"""The `[detect]` section of the configuration file (config.py leaves it to this stage).

    [detect]
    rules = ["/etc/hostwarden/rules", "/opt/sigma/rules/linux"]   # extra rule files/folders
    builtin = true                                                 # also load rules/detect
    suppress_window_seconds = 3600

    [detect.thresholds.ssh_brute_force]                            # by rule name or id
    gte = 10
    timespan = "5m"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hostwarden.detect.ruleset import BUILTIN_DIR, RuleSet, load_rules, parse_timespan
from hostwarden.errors import CSA_CONFIG_INVALID, HostwardenError


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gt: float | None = None
    gte: float | None = Field(None, ge=0)
    lt: float | None = None
    lte: float | None = None
    eq: float | None = None
    timespan: str | None = None

    @field_validator("timespan")
    @classmethod
    def _span(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timespan(value)
        return value


class DetectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[Path] = Field(default_factory=list)
    builtin: bool = True
    suppress_window_seconds: float = Field(3600.0, gt=0)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)

    @classmethod
    def from_section(cls, section: dict[str, Any] | None) -> DetectSettings:
        """Validate a `[detect]` table; a wrong key or value is CSA-5002 naming it."""
        try:
            return cls(**(section or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise HostwardenError(CSA_CONFIG_INVALID, f"detect.{where}: {first['msg']}") from exc

    def overrides(self) -> dict[str, dict[str, Any]]:
        return {name: t.model_dump(exclude_none=True) for name, t in self.thresholds.items()}

    def load(self) -> RuleSet:
        paths = ([BUILTIN_DIR] if self.builtin else []) + list(self.rules)
        return load_rules(paths, overrides=self.overrides())
