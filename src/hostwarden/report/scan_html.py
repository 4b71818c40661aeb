"""The scan report as one self-contained HTML file: the page is built in `report.html`."""

from __future__ import annotations

from hostwarden.report.html import scan_html

__all__ = ["scan_html"]
