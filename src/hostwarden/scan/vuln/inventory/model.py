"""The one package shape every inventory reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Package:
    """An installed or locked package.

    `ecosystem` is the OSV ecosystem name, including the release for distro packages
    (`Debian:12`, `Alpine:v3.18`). Distro advisories are written against *source* packages, so
    OS readers fill `source_name`/`source_version` (dpkg `Source:`, apk origin, rpm SOURCERPM);
    matching uses them when present.
    """

    name: str
    version: str
    ecosystem: str
    location: str = ""
    source_name: str | None = None
    source_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def match_name(self) -> str:
        return self.source_name or self.name

    @property
    def match_version(self) -> str:
        return self.source_version or self.version

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "version": self.version, "ecosystem": self.ecosystem}
        if self.location:
            out["location"] = self.location
        if self.source_name:
            out["source_name"] = self.source_name
        if self.source_version:
            out["source_version"] = self.source_version
        return out


class InventoryError(ValueError):
    """A package database or lockfile that cannot be parsed; carries the file for the SCAN-9013 notice."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def load_json_object(text: str, location: str = "") -> dict[str, Any]:
    """A lockfile's top-level JSON object, or an InventoryError naming the file and the line."""
    import json

    from hostwarden.core.safeload import DocumentRefused, safe_json_loads

    try:
        data = safe_json_loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryError(location, f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    except DocumentRefused as exc:
        raise InventoryError(location, str(exc)) from exc
    if not isinstance(data, dict):
        raise InventoryError(location, "top level is not an object")
    return data
