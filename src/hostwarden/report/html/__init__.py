"""The scan report as one self-contained HTML page (see `page`)."""

from hostwarden.report.html.page import scan_html

__all__ = ["scan_html"]
