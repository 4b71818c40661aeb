"""Configuration: a TOML file validated by pydantic, overridable by CLI flags and env.

Precedence: CLI flag > environment (HOSTWARDEN_DATA_DIR) > TOML file > defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hostwarden.core.errors import CSA_CONFIG_INVALID, HostwardenError


def _known_zone(name: str | None) -> str | None:
    """An IANA zone name this machine's time zone database knows (checked when the config loads)."""
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Berlin or UTC)") from exc
    return name


class SourceConfig(BaseModel):
    """Settings of the sources whose path matches a glob: `[ingest.sources."/var/log/app/*.log"]`."""

    model_config = ConfigDict(extra="forbid")
    timezone: str | None = Field(None, description="zone of this source's timestamps that carry none")

    _zone = field_validator("timezone")(_known_zone)


class IngestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chunk_mb: int = Field(6, ge=1, le=512, description="bytes read per batch; bounds memory use (up to four are in flight)")
    max_line_kb: int = Field(1024, ge=1, le=65536, description="longer lines are cut and tagged `truncated` (a cut line is held in memory while it is read: bounded)")
    timezone: str | None = Field(None, description="zone of timestamps that carry none (classic syslog, web server "
                                 "error logs, ausearch dates); unset: the zone of the host that wrote the log")
    sources: dict[str, SourceConfig] = Field(default_factory=dict, description="per-source settings by path glob; "
                                             "the first glob in file order that matches a path applies")

    _zone = field_validator("timezone")(_known_zone)


class StatusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_parse_failure_rate: float = Field(0.2, ge=0, le=1, description="above this, status is unhealthy")
    min_free_disk_mb: int = Field(512, ge=0)


class ScanConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    advisory_max_age_days: float = Field(2.0, gt=0)
    timeout_seconds: float = Field(600.0, gt=0)
    cpu_cap_percent: float = Field(35.0, gt=0, le=100)
    # Site scanners beside the built-in ones, as "package.module:attribute" (a Scanner or a factory).
    scanners: list[str] = Field(default_factory=list)
    # Scanner-specific settings handed to scanners as ScanContext.options (fim_paths, fim_hash,
    # yara_dirs, malware_paths, baseline_policies, …: see docs/baseline.md and docs/vuln.md).
    options: dict[str, Any] = Field(default_factory=dict)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data_dir: Path = Field(default_factory=lambda: Path(os.environ.get("HOSTWARDEN_DATA_DIR", "./data")))
    tenant: str = "default"
    lock_timeout_seconds: float = Field(10.0, gt=0)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    status: StatusConfig = Field(default_factory=StatusConfig)
    scan: ScanConfig = Field(default_factory=ScanConfig)
    # Sections owned by later stages (rules, responses, server) are validated by their owners.
    extra: dict[str, Any] = Field(default_factory=dict)


def load_config(path: Path | None = None, *, data_dir: Path | None = None) -> Config:
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise HostwardenError(CSA_CONFIG_INVALID, f"cannot read {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise HostwardenError(CSA_CONFIG_INVALID, f"{path}: {exc}") from exc
    known = {k: v for k, v in raw.items() if k in Config.model_fields and k != "extra"}
    extra = {k: v for k, v in raw.items() if k not in Config.model_fields}
    try:
        config = Config(**known, extra=extra)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HostwardenError(CSA_CONFIG_INVALID, f"{path}: {where}: {first['msg']}") from exc
    if data_dir is not None:
        config.data_dir = data_dir
    return config
