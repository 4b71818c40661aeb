"""`hostwarden`: the command line. Thin: every command calls one stage's API and renders it.

Errors a user can cause print their code, cause and fix and exit 2; nothing prints a traceback
for bad input.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn
from rich.table import Table

from hostwarden import __version__
from hostwarden.commands.common import err_console, exit_code, user_errors
from hostwarden.core.config import Config, load_config
from hostwarden.report.terminal import cell, inert, markup

app = typer.Typer(help="hostwarden: host security — collect, normalize, detect, scan, respond.",
                  no_args_is_help=True, add_completion=False)
console = Console()

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML configuration file.")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where the store lives (default ./data).")]
FormatOpt = Annotated[str, typer.Option("--format", help="table, json or csv.")]
TimezoneOpt = Annotated[str | None, typer.Option("--timezone", help="Zone of log times that name none, e.g. Asia/Shanghai "
                                                 "(default: the config's, else the zone of the host that wrote the logs).")]

# Sub-command groups owned by other stages, imported lazily so one missing extra never breaks the CLI.
SUBAPPS: tuple[tuple[str, str, str], ...] = (
    ("fw", "hostwarden.commands.fw:app", "Firewall and security-group analysis."),
    ("vulndb", "hostwarden.commands.vulndb:app", "Local advisory database (OSV, KEV)."),
    ("baseline", "hostwarden.commands.baseline:app", "Baseline and compliance checks."),
    ("rules", "hostwarden.commands.rules:app", "Detection rules: list, check, test, ATT&CK coverage."),
    ("incidents", "hostwarden.commands.incidents:app", "Incidents: list, show (attack chain as text, JSON, DOT, SVG)."),
    ("respond", "hostwarden.commands.respond:app", "Response: playbooks, pending approvals, undo, dry-run."),
    ("audit", "hostwarden.commands.respond:audit_app", "The response audit log: verify its hash chain."),
)


def _register_subapps(argv: list[str] | None = None) -> None:
    """Import only the command group being run: every group loaded on every start costs seconds."""
    args = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    wanted = args[0] if args else None
    for name, target, help_text in SUBAPPS:
        if wanted is not None and wanted != name and wanted in {n for n, _, _ in SUBAPPS} | _OWN_COMMANDS:
            continue
        module_name, _, attr = target.partition(":")
        try:
            sub = getattr(importlib.import_module(module_name), attr)
        except ModuleNotFoundError as exc:  # an optional extra not installed; never a broken module
            if not (exc.name or "").startswith("hostwarden"):
                continue
            raise
        app.add_typer(sub, name=name, help=help_text)


def _config(config: Path | None, data_dir: Path | None) -> Config:
    return load_config(config, data_dir=data_dir)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"hostwarden {__version__}")


# --- ingest ---------------------------------------------------------------------------------
def _inputs(paths: list[str]) -> tuple[list[str], list[str], list[tuple[str, str, str]]]:
    """(files to read, those of them found by walking a folder, inputs skipped with code and
    reason) — collect/discover.py walks with a bound and classifies each file from its first block.
    A named path that is missing or unreadable is kept, so the ingest reports it (LOG-4102)."""
    from hostwarden.collect.discover import expand_inputs

    files, skipped = expand_inputs(paths)
    named = set(paths)
    missing = [p for p, _, reason in skipped if p in named and reason.startswith(("no such file", "cannot read"))]
    return (files + missing, [f for f in files if f not in named and f != "-"],
            [s for s in skipped if s[0] not in missing])


@app.command()
@user_errors
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders, .gz rotated files, or - for stdin.")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    dataset: Annotated[str | None, typer.Option(help="Force a parser (syslog, auditd, web.access, json …).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep following the files (and globs) across rotation until interrupted.")] = False,
    journald: Annotated[bool, typer.Option("--journald", help="Also read new records from journalctl.")] = False,
    detect: Annotated[bool, typer.Option("--detect/--no-detect", help="Run the detection rules over what was ingested.")] = True,
    fmt: FormatOpt = "table",
    timezone: TimezoneOpt = None,
) -> None:
    """Parse and store log files, then run detection over them; re-ingesting never doubles a record."""
    if follow:
        _follow(paths, config, data_dir, dataset, timezone)
        return
    from hostwarden.core.sink import SinkContext
    from hostwarden.normalize.timezones import ZonePolicy
    from hostwarden.pipelines.ingest_job import Progress as JobProgress
    from hostwarden.pipelines.ingest_job import run_ingest

    cfg = _config(config, data_dir)
    zones = ZonePolicy.from_config(cfg.ingest, timezone)  # an unknown --timezone fails before any read
    files, found, skipped = _inputs(paths)
    # Alerts are printed as they are raised (the printer sink); a JSON result stays one document.
    sinks = SinkContext(mode="ingest", out=sys.stdout if fmt != "json" else None)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TransferSpeedColumn(), TimeElapsedColumn(),
        console=err_console, transient=True, disable=not err_console.is_terminal,
    ) as progress:
        tasks: dict[str, Any] = {}
        job_progress = JobProgress(
            started=lambda path, size: tasks.__setitem__(path, progress.add_task(inert(Path(path).name), total=size)),
            advanced=lambda path, n: progress.update(tasks[path], advance=n),
        )
        result = run_ingest(cfg, files, dataset=dataset, journald=journald, detect=detect, progress=job_progress,
                            sink_context=sinks, found=found, skipped=skipped, zones=zones)
    stats = result.stats
    summary = {"alerts": len(result.alerts), "known_alerts": result.known_alerts, "lines": stats.lines,
               "events": stats.events, "stored": stats.stored, "duplicates": stats.events - stats.stored,
               "parse_failures": stats.parse_failures, "by_dataset": stats.by_dataset, "dropped": stats.dropped,
               "skipped": stats.skipped, "notices": stats.notices}
    if fmt == "json":
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    else:
        console.print(f"ingested {stats.lines} lines as {stats.events} events: {stats.stored} stored, "
                      f"{stats.events - stats.stored} already present, {stats.parse_failures} not understood; "
                      f"{len(result.alerts)} alerts raised" + (f", {result.known_alerts} already known"
                                                                if result.known_alerts else ""))
        for ds, n in sorted(stats.by_dataset.items()):
            console.print(f"  {markup(ds):<16} {n}")
    for notice in stats.notices:
        err_console.print(f"[yellow]{markup(notice['code'])}[/yellow] {markup(notice['message'])}")
    if code := exit_code(stats.notices):
        raise typer.Exit(code)


def _follow(paths: list[str], config: Path | None, data_dir: Path | None, dataset: str | None,
            timezone: str | None = None) -> None:
    """Tail files across rotation; each chunk is checkpointed only once it is stored."""
    import signal
    import threading

    from hostwarden.collect.tailer import FileTailer
    from hostwarden.normalize.timezones import ZonePolicy
    from hostwarden.pipelines.ingest import IngestStats, ingest_chunks
    from hostwarden.store.eventstore import EventStore

    cfg = _config(config, data_dir)
    zones = ZonePolicy.from_config(cfg.ingest, timezone)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # stop cleanly: the last stored chunk is checkpointed
        signal.signal(signum, lambda *_: stop.set())
    stats = IngestStats()
    with EventStore(cfg.data_dir, lock_timeout=cfg.lock_timeout_seconds) as store:
        tailer = FileTailer(paths, store, chunk_bytes=cfg.ingest.chunk_mb << 20, max_line_bytes=cfg.ingest.max_line_kb << 10)
        err_console.print(f"following {', '.join(paths)} (Ctrl-C to stop)")
        try:
            ingest_chunks(store, tailer.follow(stop), hint=dataset, tenant=cfg.tenant, stats=stats,
                          on_stored=tailer.commit, zones=zones)
        except KeyboardInterrupt:
            stop.set()
        finally:
            tailer.close()
    console.print(f"followed: {stats.lines} lines, {stats.events} events, {stats.stored} stored, "
                  f"{stats.parse_failures} not understood")


# --- watch ----------------------------------------------------------------------------------
@app.command()
@user_errors
def watch(
    paths: Annotated[list[str], typer.Argument(help="Log files or globs to follow (across rotation).")],
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Extra rule file or folder; repeatable.")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json (one alert per line).")] = "text",
    from_end: Annotated[bool, typer.Option("--from-end", help="Files never followed before: skip what they hold now.")] = False,
    dataset: Annotated[str | None, typer.Option(help="Force a parser (syslog, auditd, web.access …).")] = None,
    respond: Annotated[bool, typer.Option("--respond", help="Run the response playbooks on alerts as they happen (see `hostwarden respond`).")] = False,
    timezone: TimezoneOpt = None,
) -> None:
    """Follow log files and print alerts as they happen; rule files reload when they change."""
    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"unknown format {fmt!r}", param_hint="--format")
    from hostwarden.normalize.timezones import ZonePolicy
    from hostwarden.pipelines.watch.runtime import run_watch

    cfg = _config(config, data_dir)
    run_watch(cfg, paths, rules or [], fmt=fmt, from_end=from_end, dataset=dataset,
              sink_options={"respond": respond}, zones=ZonePolicy.from_config(cfg.ingest, timezone))


# --- search ---------------------------------------------------------------------------------
DEFAULT_COLUMNS = ["@timestamp", "host.name", "event.dataset", "event.action", "event.outcome", "source.ip",
                   "user.name", "message"]


@app.command()
@user_errors
def search(
    query: Annotated[str, typer.Argument(help="e.g. 'process.name=mysqld AND error.code=1213'")] = "",
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    since: Annotated[str | None, typer.Option(help="Only the last 15m, 24h, 7d …")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="ISO-8601 start.")] = None,
    to: Annotated[str | None, typer.Option(help="ISO-8601 end.")] = None,
    count: Annotated[bool, typer.Option("--count", help="Only count matches.")] = False,
    top: Annotated[str | None, typer.Option(help="Most frequent values of FIELD among matches.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.", min=0, max=1_000_000)] = 50,
    fields: Annotated[str | None, typer.Option(help="Comma-separated columns to show.")] = None,
    order: Annotated[str, typer.Option(help="desc (newest first) or asc.")] = "desc",
    list_fields: Annotated[bool, typer.Option("--list-fields", help="List searchable fields and exit.")] = False,
    fmt: FormatOpt = "table",
) -> None:
    """Search stored events, alerts and findings."""
    from hostwarden.store.eventstore import EventStore, require_store
    from hostwarden.store.search import build_select, compile_query, searchable_fields

    if list_fields:
        _render_rows(["field", "type", "meaning"], [tuple(f) for f in searchable_fields()], fmt)
        return
    cfg = _config(config, data_dir)
    compiled = compile_query(query, tenant=cfg.tenant, since=since, from_=from_, to=to)
    require_store(cfg.data_dir)  # after the query: its syntax is checked wherever it is run
    columns = [c.strip() for c in fields.split(",")] if fields else DEFAULT_COLUMNS
    mode = "count" if count else "top" if top else "rows"
    sql, params = build_select(compiled, mode=mode, fields=columns, top_field=top, limit=limit, order=order)
    with EventStore(cfg.data_dir, read_only=True, lock_timeout=cfg.lock_timeout_seconds) as store:
        result = store.con.execute(sql, params)
        names = [d[0] for d in result.description]
        rows = result.fetchall()
    _render_rows(names, rows, fmt)


def _render_rows(names: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    from hostwarden.report.rows import render_rows

    render_rows(names, rows, fmt, out=sys.stdout, console=console)


# --- status ---------------------------------------------------------------------------------
@app.command()
@user_errors
def status(config: ConfigOpt = None, data_dir: DataDirOpt = None, fmt: FormatOpt = "table") -> None:
    """Health of every component; exits non-zero when one is unhealthy."""
    from hostwarden.pipelines.status import collect_status

    cfg = _config(config, data_dir)
    report = collect_status(cfg)
    if fmt == "json":
        sys.stdout.write(json.dumps(report, default=str, indent=2) + "\n")
    else:
        table = Table(title=f"hostwarden {__version__} — {markup(cfg.data_dir)}")
        for col in ("component", "state", "detail"):
            table.add_column(col, overflow="fold")
        for c in report["components"]:
            state, color = (("UNHEALTHY", "red") if not c["healthy"] else ("degraded", "yellow") if c.get("degraded")
                            else ("ok", "green"))
            table.add_row(cell(c["name"]), f"[{color}]{state}[/{color}]", cell(c["detail"]))
        console.print(table)
        for name, value in report["facts"].items():
            console.print(f"  {markup(name)}: {markup(value)}")
    if not report["healthy"]:
        raise typer.Exit(1)


# --- scan -----------------------------------------------------------------------------------
@app.command()
@user_errors
def scan(
    root: Annotated[Path, typer.Option(help="Folder to scan: / for this machine, or a mounted/unpacked root.")] = Path("/"),
    image: Annotated[Path | None, typer.Option(help="A `docker save` tarball or OCI layout to scan instead of --root.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json, html or sarif.")] = "table",
    output: Annotated[Path | None, typer.Option(help="Write the report here instead of stdout.")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    only: Annotated[str | None, typer.Option(help="Comma-separated scanner names to run.")] = None,
    advisories: Annotated[Path | None, typer.Option(help="OSV advisories to use for this run only.")] = None,
    fail_on: Annotated[str | None, typer.Option("--fail-on", help="Exit 1 if a finding of this grade (L1, L2, L3) or worse.")] = None,
    timezone: TimezoneOpt = None,
) -> None:
    """Assess one host: logs, and every scanner registered (vulnerabilities, baseline, firewall …).

    With --data-dir the findings are stored (searchable, `event.kind=finding`) and compared with
    the last stored scan of the same root or image: new, still open, fixed."""
    from hostwarden.core.records import Grade
    from hostwarden.core.sink import SinkContext
    from hostwarden.normalize.timezones import ZonePolicy
    from hostwarden.pipelines.alertpath import build_alert_path
    from hostwarden.pipelines.scan.job import scan_target
    from hostwarden.report import SCAN_DOCUMENTS
    from hostwarden.report.scan_table import render_scan_table

    gate: Grade | None = None
    if fail_on is not None:
        try:
            gate = Grade.parse(fail_on)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--fail-on") from None
    if fmt != "table" and fmt not in SCAN_DOCUMENTS:
        raise typer.BadParameter(f"unknown format {fmt!r} (table, {', '.join(SCAN_DOCUMENTS)})", param_hint="--format")
    if output is not None and not output.parent.is_dir():
        raise typer.BadParameter(f"folder {output.parent} does not exist", param_hint="--output")
    cfg = _config(config, data_dir)
    _image_cleanup(image)
    sinks = SinkContext(mode="scan", tenant=cfg.tenant, data_dir=data_dir, sections=cfg.extra)
    report = scan_target(cfg, root=root, image=image, only=[n.strip() for n in only.split(",")] if only else None,
                         advisories=advisories, store=data_dir is not None,
                         alert_path_factory=lambda ctx: build_alert_path(ctx), sink_context=sinks,
                         zones=ZonePolicy.from_config(cfg.ingest, timezone))
    if fmt == "table" and output is None:
        render_scan_table(report, console)
    else:
        doc = SCAN_DOCUMENTS[fmt](report) if fmt != "table" else _table_text(report)
        if output is not None:
            output.write_text(doc, encoding="utf-8")
            err_console.print(f"report written to {markup(output)}")
        else:
            sys.stdout.write(doc + "\n")
    gate_hit = gate is not None and (worst := report.worst()) is not None and worst.at_least(gate)
    if code := exit_code(report.notices, gate_hit=gate_hit):
        raise typer.Exit(code)


def _image_cleanup(image: Path | None) -> None:
    """With an image, its work folder is removed on SIGTERM/SIGINT too (signal handlers can only
    be set here, in the main thread; the work folder itself is scan/vuln/workdir.py's)."""
    if image is not None:
        from hostwarden.scan.vuln.workdir import install_cleanup_handlers

        install_cleanup_handlers()


def _table_text(report: Any) -> str:
    from hostwarden.report.scan_table import render_scan_table

    buf = Console(file=io.StringIO(), width=120, color_system=None)
    render_scan_table(report, buf)
    return buf.file.getvalue()  # type: ignore[attr-defined, no-any-return]


@app.command()
@user_errors
def sbom(
    root: Annotated[Path, typer.Option(help="Folder whose packages to list.")] = Path("/"),
    image: Annotated[Path | None, typer.Option(help="A `docker save` tarball or OCI layout instead of --root.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """CycloneDX 1.5 JSON of every package found (OS packages and language lockfiles)."""
    from hostwarden.scan.vuln.sbom import build_sbom
    from hostwarden.scan.vuln.workdir import remove_stale_workdirs

    remove_stale_workdirs()  # what killed runs left in the temp folder
    _image_cleanup(image)
    doc = json.dumps(build_sbom(root=None if image else root, image=image), indent=2, default=str)
    if output is not None:
        output.write_text(doc, encoding="utf-8")
    else:
        sys.stdout.write(doc + "\n")


_OWN_COMMANDS = {"version", "ingest", "search", "status", "scan", "sbom", "watch"}
_register_subapps()

if __name__ == "__main__":
    app()
