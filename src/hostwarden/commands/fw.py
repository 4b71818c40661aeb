"""`hostwarden fw`: check a flow, analyze a rule set, compare two, suggest rules from traffic."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hostwarden.commands.common import user_errors
from hostwarden.core.errors import FW_FLOW_INVALID, FW_PARSE_FAILED, HostwardenError
from hostwarden.core.safeload import DocumentRefused, safe_json_loads
from hostwarden.scan.firewall.drift import drift
from hostwarden.scan.firewall.healthcheck import load_health_checks
from hostwarden.scan.firewall.loader import FORMATS, load_file
from hostwarden.scan.firewall.report import full_analysis
from hostwarden.scan.firewall.simulate import packet_for, parse_flow, simulate
from hostwarden.scan.safefiles import read_capped, read_regular_file

app = typer.Typer(help="Firewall and security-group analysis.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

FmtOpt = Annotated[str, typer.Option("--format", help="table or json.")]
RulesFmtOpt = Annotated[str, typer.Option("--rules-format", help=f"Input kind: {', '.join(FORMATS)}.")]
HookOpt = Annotated[str, typer.Option("--hook", help="input, forward or output (ingress=input, egress=output).")]


def _fmt(fmt: str) -> str:
    if fmt not in ("table", "json"):
        raise HostwardenError(FW_PARSE_FAILED, f"--format must be table or json, not {fmt!r}")
    return fmt


def _hook(hook: str) -> str:
    return {"ingress": "input", "egress": "output"}.get(hook, hook)


def _json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


@app.command()
@user_errors
def check(
    rules: Annotated[Path, typer.Argument(help="iptables-save, nft -j, Alibaba or AWS security-group file.")],
    flow: Annotated[str, typer.Option("--flow", help="e.g. 'tcp 203.0.113.5:40000 -> 10.0.0.5:22 [new] [in eth0]'")],
    hook: HookOpt = "input",
    fmt: FmtOpt = "table",
    rules_format: RulesFmtOpt = "auto",
) -> None:
    """Would this packet be allowed? Prints the verdict and the rules that decided it."""
    fmt = _fmt(fmt)
    rs = load_file(rules, rules_format)
    pkt = packet_for(rs, parse_flow(flow))
    verdict = simulate(rs, pkt, _hook(hook))
    if fmt == "json":
        _json({"flow": pkt.to_dict(), **verdict.to_dict()})
        return
    colour = "green" if verdict.allowed else "red"
    console.print(f"[bold {colour}]{'ALLOW' if verdict.allowed else 'DENY'}[/] {pkt.describe()}", highlight=False)
    table = Table("step", "rule", "effect", "text")
    for n, step in enumerate(verdict.path, 1):
        table.add_row(str(n), step["rule"], step["effect"], step.get("text", ""))
    console.print(table)


@app.command()
@user_errors
def analyze(
    rules: Annotated[Path, typer.Argument(help="Rule file (any supported kind).")],
    health_checks: Annotated[Path | None, typer.Option("--health-checks", help="Health-check YAML/JSON.")] = None,
    fmt: FmtOpt = "table",
    rules_format: RulesFmtOpt = "auto",
) -> None:
    """All findings: anomalies with proof packets, internet exposure, wide rules, blocked health checks."""
    fmt = _fmt(fmt)
    rs = load_file(rules, rules_format)
    checks = load_health_checks(health_checks) if health_checks else None
    report = full_analysis(rs, checks)
    if fmt == "json":
        _json(report)
        return
    console.print(f"[bold]{rules}[/bold]: {report['rules']} rules, "
                  f"{len(report['findings'])} findings {report['counts']}", highlight=False)
    table = Table("grade", "type", "finding", "example packet")
    for f in sorted(report["findings"], key=lambda f: (f["grade"], f["type"])):
        table.add_row(f["grade"], f["type"], f["message"], f.get("flow", ""))
    console.print(table)
    if report["exposed"]:
        exp = Table("protocol", "ports", "from anywhere", "example source", title="Reachable from the internet")
        for seg in report["exposed"]:
            ports = str(seg["port_from"]) if seg["port_from"] == seg["port_to"] else f"{seg['port_from']}-{seg['port_to']}"
            exp.add_row(seg["protocol"], ports, "yes" if seg["from_anywhere"] else "some", seg["source_example"])
        console.print(exp)


@app.command("drift")
@user_errors
def drift_cmd(
    a: Annotated[Path, typer.Argument(help="First rule set (e.g. region A, or before).")],
    b: Annotated[Path, typer.Argument(help="Second rule set (e.g. region B, or after).")],
    hook: HookOpt = "input",
    fmt: FmtOpt = "table",
) -> None:
    """Flows one rule set allows and the other denies (semantic, not textual). Exit 1 when they differ."""
    fmt = _fmt(fmt)
    result = drift(load_file(a), load_file(b), _hook(hook))
    doc = {k: v for k, v in result.items() if not k.startswith("_")}
    if fmt == "json":
        _json(doc)
    else:
        console.print("[green]equivalent[/green]" if doc["equivalent"] else "[yellow]rule sets differ[/yellow]")
        for key, allows, denies in (("only_in_a", a, b), ("only_in_b", b, a)):
            if not doc[key]:
                continue
            table = Table("example flow", "allowed by", "denied by", "region", title=f"allowed by {allows}, not {denies}")
            for row in doc[key]:
                table.add_row(row["example"], ", ".join(s["rule"] for s in row["allowed_by"]),
                              ", ".join(s["rule"] for s in row["denied_by"]), json.dumps(row["region"]))
            console.print(table)
    if not doc["equivalent"]:
        raise typer.Exit(1)


MAX_EVENTS_BYTES = 256 << 20  # flow events are read whole; a larger export is split or stored first


def _events(path: Path) -> Iterator[dict[str, Any]]:
    """Flow events from a JSON array or JSON lines: a regular file (or stdin), bounded in size and nesting.

    `--events /dev/zero` or a FIFO nobody writes to would otherwise never end; a document nested
    thousands deep would raise RecursionError instead of a clear FW- error.
    """
    try:
        if str(path) == "-":
            raw = read_capped(sys.stdin.buffer, MAX_EVENTS_BYTES + 1)
        else:
            raw = read_regular_file(path, MAX_EVENTS_BYTES)
        if len(raw) > MAX_EVENTS_BYTES:
            raise ValueError(f"larger than the {MAX_EVENTS_BYTES}-byte limit")
        text = raw.decode("utf-8")
    except OSError as exc:
        raise HostwardenError(FW_FLOW_INVALID, f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # over the size limit, not UTF-8
        raise HostwardenError(FW_FLOW_INVALID, f"cannot read {path}: {str(exc).removeprefix(f'{path}: ')}") from None
    if text.lstrip().startswith("["):
        yield from _loads(text, str(path))
        return
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield _loads(line, f"{path} line {n}")


def _loads(text: str, where: str) -> Any:
    try:
        return safe_json_loads(text, max_bytes=MAX_EVENTS_BYTES)
    except json.JSONDecodeError as exc:
        raise HostwardenError(FW_FLOW_INVALID, f"{where}: not JSON: {exc.msg}") from None
    except DocumentRefused as exc:
        raise HostwardenError(FW_FLOW_INVALID, f"{where}: {exc}") from None


def _stored_flows(data_dir: Path, since: str) -> list[dict[str, Any]]:
    """Accepted flows the store saw: events with a destination port and no failed outcome."""
    from hostwarden.store.eventstore import EventStore
    from hostwarden.store.search import build_select, compile_query

    compiled = compile_query("destination.port=* NOT event.outcome=failure", tenant="default", since=since)
    sql, params = build_select(compiled, fields=["source.ip", "destination.ip", "destination.port", "network.transport"],
                               limit=100_000)
    with EventStore(data_dir, read_only=True) as store:
        rows = store.query(sql, params)
    names = ("source.ip", "destination.ip", "destination.port", "network.transport")
    return [{k: v for k, v in zip(names, row, strict=True) if v is not None} for row in rows]


@app.command()
@user_errors
def suggest(
    events: Annotated[Path | None, typer.Option("--events", help="ECS events as JSON lines or a JSON list (- for stdin).")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Read observed flows from this hostwarden store.")] = None,
    since: Annotated[str, typer.Option("--since", help="With --data-dir: how far back to look (e.g. 7d).")] = "30d",
    root: Annotated[Path | None, typer.Option("--root", help="Read listening sockets from ROOT/proc/net.")] = None,
    output: Annotated[str, typer.Option("--output", help="iptables, ip6tables, security-group or json.")] = "iptables",
) -> None:
    """Least-privilege rules that still allow the observed service traffic."""
    from hostwarden.scan.firewall.suggest import suggest as run_suggest

    if output not in ("iptables", "ip6tables", "security-group", "json"):
        raise HostwardenError(FW_PARSE_FAILED, "--output must be iptables, ip6tables, security-group or json")
    if events is None and data_dir is None and root is None:
        raise HostwardenError(FW_PARSE_FAILED, "give --events, --data-dir or --root (what traffic to allow)")
    observed = list(_events(events)) if events is not None else []
    if data_dir is not None:
        observed += _stored_flows(data_dir, since)
    result = run_suggest(observed, root)
    if output == "json":
        _json(result)
    elif output == "security-group":
        _json(result["security_group"])
    else:
        sys.stdout.write(result[output])
