"""The scan report as one JSON document: host facts, findings as ECS records, summary, notices."""

from __future__ import annotations

import json

from hostwarden.core.records import ScanReport


def scan_json(report: ScanReport) -> str:
    return json.dumps(report.to_dict(), default=str, indent=2, sort_keys=False)
