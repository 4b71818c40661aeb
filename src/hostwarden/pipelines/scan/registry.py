"""The scanners `hostwarden scan` runs, by import path so a missing optional one never breaks the rest."""

from __future__ import annotations

import importlib

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


def load_scanners(names: list[str] | None = None) -> list[Scanner]:
    scanners: list[Scanner] = []
    for entry in SCANNERS:
        module_name, _, attr = entry.partition(":")
        obj = getattr(importlib.import_module(module_name), attr)
        scanner = obj() if callable(obj) and not hasattr(obj, "scan") or isinstance(obj, type) else obj
        if names is None or scanner.name in names:
            scanners.append(scanner)
    return scanners
