"""`hostwarden incidents list|show`: the graded incidents in the store, and one incident's attack chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hostwarden.commands.common import user_errors
from hostwarden.core.config import load_config
from hostwarden.core.errors import LOG_SEARCH_FIELD, HostwardenError
from hostwarden.core.records import Grade
from hostwarden.incidents.graph import attack_summary, timeline, to_dot, to_json, to_svg
from hostwarden.incidents.model import Incident
from hostwarden.report.terminal import cell, markup
from hostwarden.store.eventstore import EventStore

app = typer.Typer(help="Incidents: alerts joined, graded, with their attack chain.", no_args_is_help=True)
console = Console()

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML configuration file.")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where the store lives (default ./data).")]


def _rows(config: Path | None, data_dir: Path | None, where: str = "", params: list[Any] | None = None,
          limit: int = 100) -> list[dict[str, Any]]:
    cfg = load_config(config, data_dir=data_dir)
    # `where` is one of this module's constant clauses; every value is a bound parameter.
    sql = ('SELECT * FROM events WHERE "event.kind" = \'incident\' AND "organization.id" = ? ' + where +  # noqa: S608
           ' ORDER BY "event.severity", "@timestamp" DESC LIMIT ?')
    with EventStore(cfg.data_dir, read_only=True, lock_timeout=cfg.lock_timeout_seconds) as store:
        return store.query_arrow(sql, [cfg.tenant, *(params or []), limit]).to_pylist()  # type: ignore[no-any-return]


@app.command("list")
@user_errors
def list_incidents(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    grade: Annotated[str | None, typer.Option(help="Only this grade or worse (L1, L2, L3).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Open incidents, most urgent first."""
    where, params = "", []
    if grade is not None:
        try:
            where, params = 'AND "event.severity" <= ? ', [Grade.parse(grade).rank]
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--grade") from None
    rows = _rows(config, data_dir, where, params, limit)
    if fmt == "json":
        typer.echo(json.dumps([{k: v for k, v in r.items() if v is not None} for r in rows], default=str))
        return
    table = Table("id", "grade", "priority", "deadline", "kind", "alerts", "incident")
    for r in rows:
        table.add_row(cell(r["event.id"]), cell(r["hostwarden.grade"]), cell(r["hostwarden.incident.priority"]),
                      cell(_when(r["hostwarden.incident.deadline"])), cell(r["hostwarden.incident.kind"]),
                      cell(r["hostwarden.incident.alerts"]), cell(r["message"]))
    console.print(table)


@app.command("show")
@user_errors
def show(
    incident_id: Annotated[str, typer.Argument(help="Incident id (from `incidents list`).")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json, dot or svg")] = "text",
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """One incident: grade and why, ATT&CK tactics in kill-chain order, and the chain in time order."""
    rows = _rows(config, data_dir, 'AND "event.id" = ? ', [incident_id], 1)
    if not rows:
        raise HostwardenError(LOG_SEARCH_FIELD, f"no incident {incident_id!r} in this store")
    inc = Incident.from_ecs(rows[0])
    cfg = load_config(config, data_dir=data_dir)
    catalog = (cfg.extra.get("incidents") or {}).get("attack_data")
    renderers = {"json": lambda: to_json(inc, catalog), "dot": lambda: to_dot(inc), "svg": lambda: to_svg(inc)}
    if fmt in renderers:
        text = renderers[fmt]()
        if output is not None:
            output.write_text(text, encoding="utf-8")
        else:
            typer.echo(text, nl=False)
        return
    if fmt != "text":
        raise typer.BadParameter(f"unknown format {fmt!r} (text, json, dot, svg)", param_hint="--format")
    console.print(f"[bold]{markup(inc.grade.value)} {markup(inc.priority)}[/bold] {markup(inc.title())}  [{markup(inc.id)}]")
    console.print(f"why: {markup(inc.reason)}")
    console.print(f"deadline: {markup(_when(inc.deadline))}   opened: {markup(_when(inc.opened))}   "
                  f"alerts: {inc.alert_count}")
    attack = attack_summary(inc, catalog)
    if attack["tactics"]:
        console.print("ATT&CK: " + markup(" → ".join(t["name"] for t in attack["tactics"])))
        console.print("  " + markup(", ".join(f"{t['id']} {t['name']}" for t in attack["techniques"])))
    if inc.kind == "campaign":
        console.print("top sources: " + markup(", ".join(f"{ip} ({n})" for ip, n in inc.sources.most_common(10))))
    table = Table("time", "step", "what", "who")
    for step in timeline(inc):
        who = " ".join(str(step[k]) for k in ("source.ip", "user.name", "host.name") if step.get(k))
        what = step["what"] + (f" ×{step['count']}" if step.get("count", 1) > 1 else "")
        table.add_row(cell(_when(step["time"], seconds=True)), cell(step.get("grade") or step["kind"]), cell(what),
                      cell(who or step.get("excerpt") or ""))
    console.print(table)


def _when(value: Any, *, seconds: bool = False) -> Any:
    """A time as a person reads it: in UTC, to the minute (a deadline) or the second (a step of
    the chain); the store and the JSON keep the rest. Text that is not a time stays as it is."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")
    return value
