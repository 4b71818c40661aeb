"""The scan report as one self-contained HTML file (every value escaped; no external assets)."""

from __future__ import annotations

import html
import json

from hostwarden.core.records import ScanReport


def scan_html(report: ScanReport) -> str:
    e = html.escape
    rows = "\n".join(
        f"<tr class='{f.grade.value}'><td>{f.grade.value}</td>"
        f"<td>{e(f.scanner)}</td><td>{e(f.message)}</td><td>{e(f.fix or '')}</td>"
        f"<td><pre>{e(json.dumps(f.evidence.to_dict(), default=str, indent=1))}</pre></td></tr>"
        for f in report.findings
    )
    notices = "".join(f"<li>{e(str(n.get('code')))}: {e(str(n.get('message')))}</li>" for n in report.notices)
    host = report.host
    counts = report.counts()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hostwarden scan: {e(str(host.get('root')))}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}}tr.L1{{background:#fdd}}tr.L2{{background:#ffe9c7}}
pre{{margin:0;white-space:pre-wrap}}</style></head><body>
<h1>hostwarden scan</h1><p>root: {e(str(host.get('root')))} — host: {e(str(host.get('name') or '-'))}
— {e(str(host.get('os.pretty_name', '')))}</p>
<p>L1: {counts['L1']} · L2: {counts['L2']} · L3: {counts['L3']}</p>
<table><thead><tr><th>grade</th><th>scanner</th><th>finding</th><th>fix</th><th>evidence</th></tr></thead>
<tbody>{rows}</tbody></table><ul>{notices}</ul></body></html>
"""
