"""The scan report as a terminal table (most urgent first), every data value made inert."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from hostwarden.core.records import ScanReport
from hostwarden.report.terminal import cell, markup


def render_scan_table(report: ScanReport, console: Console) -> None:
    host = report.host
    console.print(f"[bold]hostwarden scan[/bold] of {markup(host.get('root'))}  "
                  f"{markup(host.get('os.pretty_name', ''))}  host={markup(host.get('name') or '-')}")
    counts = report.counts()
    console.print(f"findings: L1={counts['L1']}  L2={counts['L2']}  L3={counts['L3']}")
    if report.comparison is not None:
        c = report.comparison
        console.print(f"since scan {markup(c['previous'])}: {c['new']} new, {c['open']} still open, "
                      f"{len(c['fixed'])} fixed")
    logs = report.summary.get("sections", {}).get("logs")
    if logs and logs.get("files"):
        console.print(
            f"logs: {logs['files']} files, {logs['lines']} lines, {logs['parse_failures']} not understood; "
            + markup(", ".join(f"{k}={v}" for k, v in logs["by_dataset"].items()))
        )
    table = Table(title="Findings (most urgent first)", show_lines=False)
    for col in ("grade", "scanner", "finding", "fix"):
        table.add_column(col, overflow="fold")
    for f in report.findings:
        table.add_row(f.grade.value, cell(f.scanner), cell(f.message), cell(f.fix or ""))
    console.print(table)
    if report.comparison and report.comparison["fixed"]:
        console.print("[green]fixed since the previous scan:[/green]")
        for f in report.comparison["fixed"]:
            console.print(f"  {f.grade.value} {markup(f.scanner)}: {markup(f.message)}")
    for notice in report.notices:
        console.print(f"[yellow]{markup(notice.get('code'))}[/yellow] {markup(notice.get('message'))}")
