"""Render one scan report as a terminal table, JSON, HTML or SARIF 2.1.0."""

from __future__ import annotations

import html
import json
from typing import Any

from rich.console import Console
from rich.table import Table

_SARIF_LEVEL = {"L1": "error", "L2": "warning", "L3": "note"}


def fix_of(f: dict[str, Any]) -> str:
    return str(f.get("hostwarden.fix") or f.get("hostwarden.remediation") or "")


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, default=str, indent=2, sort_keys=False)


def render_table(report: dict[str, Any], console: Console) -> None:
    host = report["host"]
    console.print(f"[bold]hostwarden scan[/bold] of {host.get('root')}  "
                  f"{host.get('os.pretty_name', '')}  host={host.get('name') or '-'}")
    counts = report["summary"]["counts"]
    console.print(f"findings: L1={counts.get('L1', 0)}  L2={counts.get('L2', 0)}  L3={counts.get('L3', 0)}")
    logs = report["summary"]["sections"].get("logs")
    if logs and logs.get("files"):
        console.print(
            f"logs: {logs['files']} files, {logs['lines']} lines, {logs['parse_failures']} not understood; "
            + ", ".join(f"{k}={v}" for k, v in logs["by_dataset"].items())
        )
    table = Table(title="Findings (most urgent first)", show_lines=False)
    for col in ("grade", "scanner", "finding", "fix"):
        table.add_column(col, overflow="fold")
    for f in report["findings"]:
        table.add_row(f.get("hostwarden.grade", ""), f.get("event.module", ""), f.get("message", ""), fix_of(f))
    console.print(table)
    for notice in report.get("notices", []):
        console.print(f"[yellow]{notice.get('code')}[/yellow] {notice.get('message')}")


def to_html(report: dict[str, Any]) -> str:
    e = html.escape
    rows = "\n".join(
        f"<tr class='{e(f.get('hostwarden.grade', ''))}'><td>{e(f.get('hostwarden.grade', ''))}</td>"
        f"<td>{e(str(f.get('event.module', '')))}</td><td>{e(str(f.get('message', '')))}</td><td>{e(fix_of(f))}</td>"
        f"<td><pre>{e(json.dumps(f.get('hostwarden.evidence', {}), default=str, indent=1))}</pre></td></tr>"
        for f in report["findings"]
    )
    notices = "".join(f"<li>{e(str(n.get('code')))}: {e(str(n.get('message')))}</li>" for n in report.get("notices", []))
    host = report["host"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hostwarden scan: {e(str(host.get('root')))}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}}tr.L1{{background:#fdd}}tr.L2{{background:#ffe9c7}}
pre{{margin:0;white-space:pre-wrap}}</style></head><body>
<h1>hostwarden scan</h1><p>root: {e(str(host.get('root')))} — host: {e(str(host.get('name') or '-'))}
— {e(str(host.get('os.pretty_name', '')))}</p>
<p>L1: {report['summary']['counts'].get('L1', 0)} · L2: {report['summary']['counts'].get('L2', 0)}
· L3: {report['summary']['counts'].get('L3', 0)}</p>
<table><thead><tr><th>grade</th><th>scanner</th><th>finding</th><th>fix</th><th>evidence</th></tr></thead>
<tbody>{rows}</tbody></table><ul>{notices}</ul></body></html>
"""


def to_sarif(report: dict[str, Any]) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for f in report["findings"]:
        rule_id = str(f.get("rule.id") or f.get("event.module") or "hostwarden")
        rules.setdefault(rule_id, {"id": rule_id, "name": str(f.get("rule.name") or rule_id),
                                   "shortDescription": {"text": str(f.get("rule.name") or f.get("message", ""))}})
        location = f.get("file.path") or f.get("hostwarden.evidence", {}).get("file")
        result: dict[str, Any] = {
            "ruleId": rule_id,
            "level": _SARIF_LEVEL.get(f.get("hostwarden.grade", "L3"), "note"),
            "message": {"text": str(f.get("message", ""))},
            "properties": {"grade": f.get("hostwarden.grade"), "evidence": f.get("hostwarden.evidence"),
                           **({"fix": fix_of(f)} if fix_of(f) else {})},
        }
        if location:
            result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": str(location)}}}]
        results.append(result)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "hostwarden", "version": report["summary"]["hostwarden.version"],
                                "rules": list(rules.values())}},
            "results": results,
        }],
    }
    return json.dumps(doc, default=str, indent=2)
