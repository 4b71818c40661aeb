"""An incident's attack chain: the entity graph (who did what to what) and the timeline, with
exports to JSON (node-link), Graphviz DOT and a self-contained SVG.

Nodes are addresses, hosts, accounts, processes and files; edges say how they met: an address
attacked a host, logged in as an account, an account ran a command, wrote a file, created an
account, a process connected to an address. Every label is attacker-written text: DOT escapes
it, SVG escapes it as XML, and neither carries a link or a script.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import networkx as nx

from hostwarden.incidents.attack import KILL_CHAIN, load_catalog, tactic_name, tactic_rank
from hostwarden.incidents.model import AlertRef, Incident
from hostwarden.report.terminal import inert

LABEL_MAX = 60
# Follow-up actions (detect/alerts.py FOLLOW_UP_ACTIONS) as edges from the session's account.
_ACTIVITY_EDGE = {
    "sudo_command": ("process", "ran with sudo"), "executed": ("process", "ran"),
    "crontab_edit": ("file", "edited crontab"), "crontab_replaced": ("file", "replaced crontab"),
    "crontab_deleted": ("file", "deleted crontab"), "user_created": ("user", "created account"),
    "user_changed": ("user", "changed account"), "user_deleted": ("user", "deleted account"),
    "password_changed": ("user", "changed password of"), "group_created": ("group", "created group"),
    "group_changed": ("group", "changed group"), "su_session": ("user", "switched to"),
}


def _short(text: Any) -> str:
    """One line, control characters written out (XML 1.0 cannot even carry most of them)."""
    s = inert(" ".join(str(text or "").split()))
    return s if len(s) <= LABEL_MAX else s[: LABEL_MAX - 1] + "…"


def _node(g: nx.MultiDiGraph, kind: str, value: str, host: str | None = None) -> str:
    scoped = kind in ("user", "process", "file", "group") and host
    node = f"{kind}:{host}/{value}" if scoped else f"{kind}:{value}"
    if node not in g:
        g.add_node(node, kind=kind, label=_short(value), host=host)
    return node


def build_graph(inc: Incident) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(incident=inc.id)
    for a in inc.alerts:
        _alert_edges(g, a)
    for ev in inc.activity:
        _activity_edges(g, ev)
    return g


def _alert_edges(g: nx.MultiDiGraph, a: AlertRef) -> None:
    host = _node(g, "host", a.host) if a.host else None
    src = _node(g, "ip", a.source_ip) if a.source_ip else None
    user = _node(g, "user", a.user, a.host) if a.user else None
    attrs = {"time": a.time.isoformat(), "alert": a.id, "rule": a.rule_name, "grade": a.grade.value}
    if src and user:
        g.add_edge(src, user, label="logged in as" if "login" in a.rule_name.lower() else a.rule_name, **attrs)
        if host:
            g.add_edge(user, host, label="on", **attrs)
    elif src and host:
        g.add_edge(src, host, label=a.rule_name, **attrs)
    elif user and host:
        g.add_edge(user, host, label=a.rule_name, **attrs)
    elif host:
        g.nodes[host].setdefault("alerts", []).append(a.rule_name)


def _activity_edges(g: nx.MultiDiGraph, ev: dict[str, Any]) -> None:
    host = ev.get("host")
    actor_name = ev.get("user.name") or ev.get("user")
    kind, label = _ACTIVITY_EDGE.get(str(ev.get("action")), ("process", str(ev.get("action") or "did")))
    target = (ev.get("user.target.name") or ev.get("group.name") or ev.get("file.path") or ev.get("command")
              or ev.get("excerpt") or ev.get("action"))
    if kind == "file" and not ev.get("file.path"):
        target = f"crontab of {actor_name}" if actor_name else target
    actor = _node(g, "user", actor_name, host) if actor_name else (_node(g, "host", host) if host else None)
    if actor is None:
        return
    g.add_edge(actor, _node(g, kind, str(target), host), label=label, time=str(ev.get("time")), event=ev.get("id"))


def timeline(inc: Incident) -> list[dict[str, Any]]:
    """The chain in time order: alerts and the session's activity, one step each."""
    steps = [{"time": a.time.isoformat(), "kind": "alert", "grade": a.grade.value, "what": a.rule_name,
              "rule_id": a.rule_id, "id": a.id, "source.ip": a.source_ip, "user.name": a.user, "host.name": a.host,
              "count": a.count, "tactics": sorted(a.tactics, key=tactic_rank)} for a in inc.alerts]
    steps += [{"time": _iso(ev.get("time")), "kind": "activity", "what": str(ev.get("action")), "id": ev.get("id"),
               "user.name": ev.get("user"), "host.name": ev.get("host"), "excerpt": ev.get("excerpt")}
              for ev in inc.activity]
    return sorted(steps, key=lambda s: (s["time"], s["kind"] != "alert"))


def _iso(value: Any) -> str:
    """Times as ISO 8601 (`T`), whatever their source wrote, so the timeline sorts by time."""
    try:
        return datetime.fromisoformat(str(value)).isoformat()
    except ValueError:
        return str(value)


def attack_summary(inc: Incident, catalog_path: str | None = None) -> dict[str, Any]:
    """Techniques and tactics of the incident, tactics in kill-chain order, names from ATT&CK."""
    catalog = load_catalog(catalog_path)
    tactics = sorted({t.replace("_", "-").lower() for a in inc.alerts for t in a.tactics}, key=tactic_rank)
    return {
        "tactics": [{"id": t, "name": tactic_name(t), "order": KILL_CHAIN.index(t) + 1 if t in KILL_CHAIN else None}
                    for t in tactics],
        "techniques": [{"id": t, "name": catalog.name(t)} for t in inc.techniques],
        "source": catalog.source,
    }


def to_json(inc: Incident, catalog_path: str | None = None) -> str:
    g = build_graph(inc)
    doc = {"incident": inc.to_ecs() | {"hostwarden.detail": None}, "grading": {"grade": inc.grade.value,
           "priority": inc.priority, "reason": inc.reason, "rule": inc.grading_rule, "deadline": inc.deadline},
           "attack": attack_summary(inc, catalog_path), "timeline": timeline(inc),
           "graph": nx.node_link_data(g, edges="edges")}
    return json.dumps(doc, default=str, indent=2)


def _dot_quote(text: Any) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


_SHAPES = {"ip": "diamond", "host": "box3d", "user": "ellipse", "process": "box", "file": "note", "group": "hexagon"}


def to_dot(inc: Incident) -> str:
    g = build_graph(inc)
    ids = {n: f"n{i}" for i, n in enumerate(g.nodes)}
    lines = [f"digraph incident_{inc.id} {{", "  rankdir=LR;", f"  label={_dot_quote(inert(inc.title()))};"]
    for n, data in g.nodes(data=True):
        lines.append(f"  {ids[n]} [label={_dot_quote(data['kind'] + ': ' + data['label'])}, "
                     f"shape={_SHAPES.get(data['kind'], 'ellipse')}];")
    for u, v, data in sorted(g.edges(data=True), key=lambda e: str(e[2].get("time"))):
        lines.append(f"  {ids[u]} -> {ids[v]} [label={_dot_quote(_short(data.get('label')))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


_COLUMNS = ("ip", "host", "user", "process", "file", "group")
_FILL = {"ip": "#fde2e1", "host": "#e3ecfa", "user": "#fff3cd", "process": "#e6f4ea", "file": "#efe6f7",
         "group": "#eeeeee"}


def to_svg(inc: Incident) -> str:
    """A layered drawing: one column per kind of entity, edges in time order with their labels."""
    g = build_graph(inc)
    col_w, row_h, box_w, box_h, top = 230, 70, 190, 36, 60
    rows: dict[str, int] = {}
    pos = {}
    for n, data in g.nodes(data=True):
        col = _COLUMNS.index(data["kind"]) if data["kind"] in _COLUMNS else len(_COLUMNS) - 1
        row = rows.get(data["kind"], 0)
        rows[data["kind"]] = row + 1
        pos[n] = (20 + col * col_w, top + row * row_h)
    width = 40 + len(_COLUMNS) * col_w
    height = top + max(rows.values(), default=1) * row_h + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
           f'<text x="20" y="24" font-size="15" font-weight="bold">{xml_escape(_short(inc.title()))}</text>',
           f'<text x="20" y="44" fill="#444">{xml_escape(inc.grade.value)} · {xml_escape(inc.priority)} · '
           f'{xml_escape(_short(inc.reason))}</text>']
    for i, (u, v, data) in enumerate(sorted(g.edges(data=True), key=lambda e: str(e[2].get("time")))):
        (x1, y1), (x2, y2) = pos[u], pos[v]
        sx, sy, ex, ey = x1 + box_w, y1 + box_h / 2, x2, y2 + box_h / 2
        if x2 <= x1:  # same or earlier column: draw from the box's bottom
            sx, sy, ex, ey = x1 + box_w / 2, y1 + box_h, x2 + box_w / 2, y2
        out.append(f'<line x1="{sx:.0f}" y1="{sy:.0f}" x2="{ex:.0f}" y2="{ey:.0f}" stroke="#555" '
                   'marker-end="url(#arrow)"/>')
        out.append(f'<text x="{(sx + ex) / 2:.0f}" y="{(sy + ey) / 2 - 4:.0f}" fill="#333" text-anchor="middle">'
                   f'{i + 1}. {xml_escape(_short(data.get("label")))}</text>')
    for n, data in g.nodes(data=True):
        x, y = pos[n]
        out.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="{_FILL.get(data["kind"], "#eee")}" '
                   'stroke="#888"/>')
        out.append(f'<text x="{x + 8}" y="{y + 23}">{xml_escape(data["kind"])}: {xml_escape(data["label"][:26])}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
