"""The `[detect]` section of the configuration file (config.py leaves it to this stage).

    [detect]
    rules = ["/etc/hostwarden/rules", "/opt/sigma/rules/linux"]   # extra rule files/folders
    builtin = true                                                 # also load rules/detect
    suppress_window_seconds = 3600
    max_groups = 100000              # watch: open correlation groups kept (LRU eviction past it)
    state_interval_seconds = 10      # watch: how often correlation state is saved to the store
    reload_interval_seconds = 1      # watch: how often rule files are checked for changes
    full_gc_idle_seconds = 60        # watch: a full garbage-collector pass when idle, at most this often
    full_gc_max_seconds = 1800       # watch: … and at least this often, busy or not
    parse_worker = true              # watch: parse in a second process while detection runs

    [detect.thresholds.ssh_brute_force]                            # by rule name or id
    gte = 10
    timespan = "5m"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hostwarden.core.errors import CSA_CONFIG_INVALID, HostwardenError
from hostwarden.detect.ruleset import BUILTIN_DIR, RuleSet, load_rules, parse_timespan


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
    max_groups: int = Field(100_000, ge=1)
    state_interval_seconds: float = Field(10.0, gt=0)
    reload_interval_seconds: float = Field(1.0, gt=0)
    full_gc_idle_seconds: float = Field(60.0, gt=0)
    full_gc_max_seconds: float = Field(1800.0, gt=0)
    parse_worker: bool = True

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

    def rule_paths(self, extra: list[Path] | None = None) -> list[Path]:
        """The built-in pack (unless turned off), the configured folders, then `extra`."""
        return ([BUILTIN_DIR] if self.builtin else []) + list(self.rules) + list(extra or [])

    def load(self) -> RuleSet:
        return load_rules(self.rule_paths(), overrides=self.overrides())
