"""The scanners `hostwarden scan` runs, by import path so a missing optional one never breaks the rest.

Further scanners come from the configuration (`[scan] scanners = ["package.module:attr"]`), so a
site can add its own without forking.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from hostwarden.core.errors import SCAN_UNKNOWN_SCANNER, HostwardenError
from hostwarden.scan.base import Scanner

# Each entry is "module:attribute"; the attribute is a Scanner instance or a zero-arg factory.
SCANNERS: list[str] = [
    "hostwarden.pipelines.scan.logs:LogScanner",
    "hostwarden.pipelines.scan.detections:DetectionScanner",
    "hostwarden.scan.vuln.scanner:VulnScanner",
    "hostwarden.scan.baseline.scanner:BaselineScanner",
    "hostwarden.scan.persistence:PersistenceScanner",
    "hostwarden.scan.integrity:IntegrityScanner",
    "hostwarden.scan.malware:MalwareScanner",
    "hostwarden.scan.runtime:RuntimeScanner",
    "hostwarden.scan.firewall.scanner:FirewallScanner",
]
BUILTIN_NAMES = ("logs", "detect", "vuln", "baseline", "persistence", "integrity", "malware", "runtime", "firewall")


def _load(entry: str) -> Scanner:
    module_name, _, attr = entry.partition(":")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise HostwardenError(SCAN_UNKNOWN_SCANNER, f"cannot load scanner {entry!r}: {exc}") from exc
    return obj() if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "scan")) else obj


def load_scanners(names: Sequence[str] | None = None, extra: Sequence[str] = ()) -> list[Scanner]:
    """The built-in scanners plus `extra`, in order; only `names` when given (each must exist)."""
    scanners = [_load(e) for e in [*SCANNERS, *extra]]
    if names is None:
        return scanners
    known = {s.name for s in scanners}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise HostwardenError(SCAN_UNKNOWN_SCANNER, f"no scanner named {', '.join(unknown)} "
                                                    f"(known: {', '.join(sorted(known))})")
    return [s for s in scanners if s.name in names]
