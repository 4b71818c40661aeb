"""`hostwarden baseline list|run`: see the loaded checks, and run them against a root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hostwarden.commands.common import user_errors
from hostwarden.core.errors import SCAN_ROOT_INVALID, HostwardenError
from hostwarden.report.terminal import cell, markup
from hostwarden.scan.base import ScanContext
from hostwarden.scan.baseline.engine import ordered, run_policy, score
from hostwarden.scan.baseline.loader import builtin_policy_files, load_policy
from hostwarden.scan.baseline.model import Policy

app = typer.Typer(help="Baseline and compliance checks (CIS, MLPS 2.0 level 3, Wazuh SCA files).", no_args_is_help=True)
console = Console(width=200)

PolicyOpt = Annotated[list[Path] | None, typer.Option("--policy", help="Policy file (ours or Wazuh SCA); repeatable.")]


def _policies(files: list[Path] | None) -> list[Policy]:
    return [load_policy(p) for p in (files or builtin_policy_files())]


@app.command("list")
@user_errors
def list_checks(policy: PolicyOpt = None,
                fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table") -> None:
    """One row per loaded check: id, title, severity, CIS and MLPS mapping."""
    rows = [{"policy": p.id, "id": c.id, "title": c.title, "severity": c.severity, "kind": c.kind,
             "cis": c.cis, "mlps": c.mlps} for p in _policies(policy) for c in p.checks]
    if fmt == "json":
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table("id", "title", "severity", "CIS", "MLPS 2.0")
    for r in rows:
        table.add_row(r["id"], r["title"], r["severity"], ", ".join(r["cis"]), ", ".join(r["mlps"]))
    console.print(table)
    console.print(f"{len(rows)} checks")


@app.command("run")
@user_errors
def run(root: Annotated[Path, typer.Option(help="Folder to check: / for this machine.")] = Path("/"),
        policy: PolicyOpt = None,
        fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table") -> None:
    """Evaluate the policies; failures first, each with its evidence and fix. Exit 1 when a check fails."""
    if not root.is_dir():
        raise HostwardenError(SCAN_ROOT_INVALID, f"{root} is not a readable folder")
    ctx = ScanContext(root=root, live=root.resolve() == Path("/"))
    report = []
    failed = False
    for p in _policies(policy):
        seen = len(ctx.notices)
        results = ordered(run_policy(p, ctx))
        failed = failed or any(r.status == "fail" for r in results)
        # What the root's resolver refused or capped while this policy read it (SCAN-9030..9032):
        # a check it left unread is not-applicable, and the notice says why.
        report.append({"policy": p.id, "name": p.name, "score": score(results), "results": [r.to_dict() for r in results],
                       "notices": ctx.notices[seen:]})
    if fmt == "json":
        typer.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        for rep in report:
            _print(rep)
        for notice in ctx.notices:  # paths and messages come from the scanned root: inert, escaped
            console.print(f"[yellow]{markup(notice.get('code'))}[/yellow] {markup(notice.get('message'))}",
                          soft_wrap=True, highlight=False)
    raise typer.Exit(1 if failed else 0)


def _print(rep: dict) -> None:  # type: ignore[type-arg]
    # Evidence quotes the scanned files and policies may come from anywhere: every cell is inert text.
    table = Table("status", "id", "severity", "title", "evidence", "fix", title=cell(rep["name"]))
    style = {"fail": "red", "pass": "green", "not_applicable": "dim"}
    for r in rep["results"]:
        ev = "; ".join(":".join(str(e[k]) for k in ("file", "line", "value", "note") if k in e) for e in r["evidence"][:3])
        what = r.get("problem") if r["status"] == "fail" and r.get("problem") else r["title"]
        table.add_row(f"[{style[r['status']]}]{r['status']}[/]", cell(r["id"]), cell(r["severity"]), cell(what), cell(ev),
                      cell(r["fix"] if r["status"] == "fail" else ""))
    console.print(table)
    total = rep["score"]["total"]
    console.print(f"score {total['score']}% — {total['pass']} pass, {total['fail']} fail, {total['not_applicable']} n/a")
    for clause, s in rep["score"]["mlps"].items():
        console.print(f"  MLPS {markup(clause)}: {s['score']}% ({s['pass']}/{s['pass'] + s['fail']})")
