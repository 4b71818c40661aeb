"""Output formats, one module each, fed by the typed results (`core.records`).

Every terminal printer goes through `report.terminal` so attacker-written text stays inert.
"""

from __future__ import annotations

from collections.abc import Callable

from hostwarden.core.records import ScanReport
from hostwarden.report.scan_html import scan_html
from hostwarden.report.scan_json import scan_json
from hostwarden.report.scan_sarif import scan_sarif

SCAN_DOCUMENTS: dict[str, Callable[[ScanReport], str]] = {"json": scan_json, "html": scan_html, "sarif": scan_sarif}
