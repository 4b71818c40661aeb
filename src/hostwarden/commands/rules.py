"""`hostwarden rules list|check|test`: what is loaded (with ATT&CK coverage), lint, run samples."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hostwarden.core.errors import CSA_RULE_INVALID, HostwardenError
from hostwarden.detect.ruleset import RuleSet, load_rules
from hostwarden.detect.samples import run_samples

app = typer.Typer(help="Detection rules: list, check, test.", no_args_is_help=True)
console = Console(width=200)

PathsOpt = Annotated[list[Path] | None, typer.Option("--rules", help="Rule file or folder (default: built-in pack); repeatable.")]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json")]


def _load(paths: list[Path] | None) -> RuleSet:
    try:
        return load_rules(paths)
    except HostwardenError as exc:
        typer.echo(str(exc), err=True)
        typer.echo(f"fix: {exc.code.fix}", err=True)
        raise typer.Exit(2) from exc


@app.command("list")
def list_rules(rules: PathsOpt = None, fmt: FormatOpt = "table") -> None:
    """One row per loaded rule: id, title, level, kind, ATT&CK techniques, author; then coverage."""
    rs = _load(rules)
    rows = [{"id": r.name or r.id, "title": r.title, "level": r.level,
             "kind": r.correlation.type if r.correlation else "event", "techniques": r.techniques,
             "tactics": r.tactics, "author": r.author, "silent": r.id in rs.silent} for r in rs.rules]
    tactics = Counter(t for r in rs.rules for t in r.tactics)
    techniques = sorted({t for r in rs.rules for t in r.techniques})
    if fmt == "json":
        typer.echo(json.dumps({"rules": rows, "tactics": dict(tactics), "techniques": techniques}, indent=1))
        return
    table = Table("id", "title", "level", "kind", "ATT&CK", "author")
    for row in rows:
        title = row["title"] + (" (building block)" if row["silent"] else "")
        table.add_row(escape(str(row["id"])), escape(title), row["level"], row["kind"],
                      ", ".join(row["techniques"]), escape(row["author"]))
    console.print(table)
    console.print(f"{len(rows)} rules; {len(techniques)} ATT&CK techniques; tactics: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(tactics.items())))


@app.command("check")
def check(paths: Annotated[list[Path], typer.Argument(help="Rule files or folders to lint.")]) -> None:
    """Load and compile rules; print each failure with its reason (CSA-5003). Exit 1 if any."""
    rs = _load(paths)
    for file, title, reason in rs.errors:
        typer.echo(f"{CSA_RULE_INVALID.code}: {file}: {title}: {reason}".replace(": :", ":"), err=True)
    typer.echo(f"{len(rs.rules)} rules loaded, {len(rs.errors)} failed")
    if rs.errors:
        raise typer.Exit(1)


@app.command("test")
def test(rules: PathsOpt = None) -> None:
    """Run every rule's `tests: {match, nomatch}` samples in both executors. Exit 1 on a failure."""
    rs = _load(rules)
    results = run_samples(rs)
    bad = [r for r in results if not r.ok]
    for r in bad:
        typer.echo(f"FAIL {r.rule.title} {r.kind}[{r.index}]: {r.why}", err=True)
    tested = len({r.rule.id for r in results})
    typer.echo(f"{len(results) - len(bad)}/{len(results)} samples passed over {tested} rules")
    if bad or rs.errors:
        raise typer.Exit(1)


@app.command("coverage")
def coverage(
    rules: PathsOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or navigator (an ATT&CK Navigator layer)")] = "table",
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Which ATT&CK techniques the loaded rules cover, tactic by tactic in kill-chain order."""
    from hostwarden.incidents.attack import load_catalog, tactic_name, tactic_rank
    from hostwarden.report.terminal import cell

    rs = _load(rules)
    catalog = load_catalog()
    by_technique: dict[str, list[str]] = {}
    for r in rs.rules:
        for t in r.techniques:
            by_technique.setdefault(t.upper(), []).append(r.title)
    rows = []
    for tid, titles in by_technique.items():
        tactics = {t.replace("_", "-") for r in rs.rules if tid in (x.upper() for x in r.techniques) for t in r.tactics}
        tactics = tactics or set(catalog.tactics_of(tid))
        first = min(tactics, key=tactic_rank) if tactics else ""
        rows.append({"technique": tid, "name": catalog.name(tid), "tactics": sorted(tactics, key=tactic_rank),
                     "rules": sorted(set(titles)), "order": (tactic_rank(first), tid)})
    rows.sort(key=lambda r: r["order"])
    if fmt == "navigator":
        doc = {"name": "hostwarden rules", "domain": "enterprise-attack",
               "versions": {"attack": "18", "navigator": "5.1.0", "layer": "4.5"},
               "description": f"{len(rs.rules)} rules covering {len(rows)} techniques (ATT&CK names: {catalog.source})",
               "techniques": [{"techniqueID": r["technique"], "score": len(r["rules"]), "enabled": True,
                               "comment": "; ".join(r["rules"])[:2000]} for r in rows],
               "gradient": {"colors": ["#ffffff", "#66b1ff"], "minValue": 0,
                            "maxValue": max((len(r["rules"]) for r in rows), default=1)},
               "sorting": 3, "hideDisabled": False}
        text = json.dumps(doc, indent=1)
    elif fmt == "json":
        text = json.dumps([{k: v for k, v in r.items() if k != "order"} for r in rows], indent=1)
    elif fmt == "table":
        table = Table("tactic", "technique", "name", "rules")
        for r in rows:
            table.add_row(cell(", ".join(tactic_name(t) for t in r["tactics"])), cell(r["technique"]), cell(r["name"]),
                          cell(len(r["rules"])))
        console.print(table)
        console.print(f"{len(rows)} techniques covered by {len(rs.rules)} rules (names: {escape(catalog.source)})")
        return
    else:
        raise typer.BadParameter(f"unknown format {fmt!r}", param_hint="--format")
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)
