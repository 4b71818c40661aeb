"""`hostwarden respond …` and `hostwarden audit verify`: the response stage's commands.

Registered by cli.py as sub-apps (`respond` → `app`, `audit` → `audit_app`). Values shown
come from alerts (paths, user names, messages), so every cell is escaped for Rich markup and
control characters before it reaches the terminal.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hostwarden.commands.common import user_errors
from hostwarden.core.config import load_config
from hostwarden.core.errors import (
    RESP_AUDIT_TAMPERED,
    RESP_PLAYBOOK_INVALID,
    RESP_TARGET_INVALID,
    HostwardenError,
)
from hostwarden.respond.audit import verify
from hostwarden.respond.engine import Responder
from hostwarden.respond.outcome import Outcome
from hostwarden.respond.playbook import load_playbooks
from hostwarden.respond.runner import clip
from hostwarden.respond.settings import RespondSettings, respond_settings

app = typer.Typer(help="Response: playbooks, pending approvals, undo.", no_args_is_help=True)
audit_app = typer.Typer(help="The response audit log.", no_args_is_help=True)
console = Console()

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML configuration file.")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where the data lives (default ./data).")]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json.")]


def settings_from(config: Path | None, data_dir: Path | None) -> RespondSettings:
    cfg = load_config(config, data_dir=data_dir)
    return respond_settings(cfg.extra.get("respond"), cfg.data_dir, source=str(config or "defaults"))


def _responder(config: Path | None, data_dir: Path | None) -> Responder:
    return Responder(settings_from(config, data_dir))


def _cell(value: Any) -> str:
    return escape(clip(str(value if value is not None else ""), 200))


def _when(ts: Any) -> str:
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ts else ""


def _table(*names: str) -> Table:
    """A table whose first column (the action id people copy) never wraps or truncates."""
    table = Table()
    table.add_column(names[0], no_wrap=True, min_width=12)
    for name in names[1:]:
        table.add_column(name, overflow="fold")
    return table


def _print_outcomes(outcomes: list[Outcome], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([o.to_dict() for o in outcomes], indent=1, default=str))
        return
    table = _table("id", "playbook", "action", "target", "status", "code", "detail")
    for o in outcomes:
        table.add_row(*(_cell(v) for v in (o.id, o.playbook, o.action, o.target, o.status, o.code, o.message)))
    console.print(table)


@app.command("list")
@user_errors
def list_cmd(config: ConfigOpt = None, data_dir: DataDirOpt = None, fmt: FormatOpt = "table",
             status: Annotated[list[str] | None, typer.Option("--status", help="pending, active, … (repeatable)")] = None,
             ) -> None:
    """Actions: pending approvals, active blocks with their expiry, recent history."""
    r = _responder(config, data_dir)
    entries = r.list_actions(tuple(status) if status else None)
    for note in r.state.notes:
        console.print(f"[yellow]{escape(note)}[/yellow]")
    if fmt == "json":
        print(json.dumps(entries, indent=1, default=str))
        return
    table = _table("id", "status", "action", "target", "playbook", "created", "expires", "reason")
    for e in entries:
        target = f"{e['target']['kind']}:{e['target']['value']}"
        reason = e.get("reason") or ({"message": f"{e.get('approval')} approval"} if e["status"] == "pending" else {})
        table.add_row(*(_cell(v) for v in (e["id"], e["status"], e["action"], target, e.get("playbook"),
                                            _when(e.get("created")), _when(e.get("expires")),
                                            f"{reason.get('code', '')} {reason.get('message', '')}".strip())))
    console.print(table)


@app.command()
@user_errors
def approve(action_id: str, config: ConfigOpt = None, data_dir: DataDirOpt = None, fmt: FormatOpt = "table") -> None:
    """Run a pending action now."""
    _print_outcomes([_responder(config, data_dir).approve(action_id)], fmt)


@app.command()
@user_errors
def reject(action_id: str, config: ConfigOpt = None, data_dir: DataDirOpt = None, fmt: FormatOpt = "table") -> None:
    """Drop a pending action without running it (audited)."""
    _print_outcomes([_responder(config, data_dir).reject(action_id)], fmt)


@app.command()
@user_errors
def undo(action_id: str, config: ConfigOpt = None, data_dir: DataDirOpt = None, fmt: FormatOpt = "table") -> None:
    """Undo an active action (unblock, restore a file, unlock an account, end isolation)."""
    outcome = _responder(config, data_dir).undo(action_id)
    _print_outcomes([outcome], fmt)
    if outcome.status == "failed":
        raise typer.Exit(1)


@app.command("dry-run")
@user_errors
def dry_run_cmd(playbook: str,
                alert: Annotated[str, typer.Option("--alert", help="A stored alert's id, a JSON file with one flat "
                                                                   "ECS alert, or '-' for stdin.")],
                config: ConfigOpt = None, data_dir: DataDirOpt = None, fmt: FormatOpt = "table") -> None:
    """Show what a playbook would do for an alert; nothing changes (the plan is audited)."""
    if alert != "-" and not Path(alert).is_file():
        doc = _stored_alert(alert, config, data_dir)
    else:
        try:
            text = sys.stdin.read() if alert == "-" else Path(alert).read_text(encoding="utf-8")
            doc = json.loads(text)
        except (OSError, ValueError) as exc:
            raise HostwardenError(RESP_TARGET_INVALID, f"{alert}: not a JSON alert: {exc}") from None
    if not isinstance(doc, dict):
        raise HostwardenError(RESP_TARGET_INVALID, f"{alert}: the alert must be a JSON object")
    outcomes = _responder(config, data_dir).dry_run(playbook, doc)
    _print_outcomes(outcomes, fmt)
    if fmt != "json":
        for o in outcomes:
            for step in (o.plan or {}).get("steps", []):
                console.print(f"  [dim]{_cell(o.action)}:[/dim] {_cell(step)}")


def _stored_alert(alert_id: str, config: Path | None, data_dir: Path | None) -> dict[str, Any]:
    """The alert with this id, from the store, as the flat ECS mapping the playbooks read."""
    from hostwarden.core.config import load_config
    from hostwarden.core.records import Alert
    from hostwarden.store.eventstore import EventStore, require_store

    cfg = load_config(config, data_dir=data_dir)
    require_store(cfg.data_dir)
    with EventStore(cfg.data_dir, read_only=True, lock_timeout=cfg.lock_timeout_seconds) as store:
        rows = store.query_arrow('SELECT * FROM events WHERE "event.kind" = \'alert\' AND "organization.id" = ? '
                                 'AND "event.id" = ?', [cfg.tenant, alert_id]).to_pylist()
    if not rows:
        raise HostwardenError(RESP_TARGET_INVALID, f"no stored alert {alert_id!r} (and no such JSON file)")
    return Alert.from_ecs({k: v for k, v in rows[0].items() if v is not None}).to_ecs()


@app.command()
@user_errors
def check(paths: Annotated[list[Path] | None, typer.Argument(help="Playbook files or folders.")] = None,
          config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Validate playbooks (keys, conditions, action parameters) and run their samples."""
    settings = settings_from(config, data_dir)
    books, errors = load_playbooks(paths or settings.playbook_paths(), settings)
    for pb in books:
        console.print(f"[green]ok[/green] {_cell(pb.id)} ({_cell(pb.source)}): "
                      f"{', '.join(f'{a.name}[{a.approval}]' for a in pb.actions)}")
    for err in errors:
        console.print(f"[bold red]{err.code.code}[/bold red] {_cell(err.message)}")
    if errors:
        raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{len(errors)} playbook problem(s)")


@audit_app.callback()
def audit_group() -> None:
    """The response audit log (a hash chain of every action, undo and refusal)."""


@audit_app.command("verify")
@user_errors
def verify_cmd(path: Annotated[Path | None, typer.Argument(help="Audit log (default: the configured one).")] = None,
               config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Check the audit log's hash chain; names the first edited, removed or reordered record."""
    target = path or settings_from(config, data_dir).audit_file
    assert target is not None
    verdict = verify(target)
    if not verdict.ok:
        raise HostwardenError(RESP_AUDIT_TAMPERED, f"{target}: {verdict}")
    console.print(escape(f"{target}: {verdict}"))
