"""The scan report for a terminal: a section per scanner with a one-line summary, most urgent
first within each, every finding saying what is wrong and where, and its fix on a line of its
own — the way Lynis and Trivy read at 80 columns.

Lines are laid out here, not by Rich: a fix command wraps only between words, and a single word
longer than the line is cut with an ellipsis at a word boundary instead of being broken inside
(the full text is in JSON, HTML and SARIF). Every value goes through `report.terminal` first.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.text import Text

from hostwarden.core.records import Finding, Grade, ScanReport
from hostwarden.report.terminal import inert

SECTIONS: tuple[tuple[str, str], ...] = (
    ("detect", "Detections"), ("vuln", "Vulnerabilities"), ("malware", "Malware"),
    ("persistence", "Persistence"), ("integrity", "File integrity"), ("runtime", "Processes"),
    ("baseline", "Baseline"), ("firewall", "Firewall"), ("logs", "Logs"),
)
GRADE_STYLE = {Grade.L1: "bold white on red", Grade.L2: "bold black on yellow", Grade.L3: "black on grey70"}
INDENT = 4
RULE_ID_SHOWN = 24  # longer ids (detection rule UUIDs) are in JSON, HTML and SARIF


def what_and_where(f: Finding) -> str:
    """The row's text: the finding's message, then the value and place that show it."""
    if f.scanner == "detect":  # "Title (source.ip=…, user.name=…)" reads better as who and where
        who = [f"{word} {f.fields[k]}" for k, word in (("source.ip", "from"), ("user.name", "as"), ("host.name", "on"))
               if f.fields.get(k)]
        return " ".join([f.title, *who]) if f.title else f.message
    text = f.message
    item = next((i for i in f.evidence.items if i.value or i.where), None)
    extra = []
    if item is not None and item.value and item.value not in text and f.scanner == "baseline":
        extra.append(item.value)
    where = item.where if item is not None else ""
    where = where or str(f.fields.get("file.path") or f.fields.get("package.path") or "")
    if where and where not in text:
        extra.append(where)
    return text + (f" — {', '.join(extra)}" if extra else "")


def fit_words(text: str, width: int, max_lines: int = 3) -> list[str]:
    """`text` in lines of at most `width`, broken only between words; what does not fit (a word
    longer than a line, or more than `max_lines`) is cut at a word boundary and marked with …"""
    words = inert(text).split()
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        if len(word) > width or len(lines) == max_lines:
            current = ""
            break
        current = word
    else:
        if current:
            lines.append(current)
        return lines[:max_lines] if len(lines) <= max_lines else _ellipsis(lines[:max_lines], width)
    return _ellipsis(lines[:max_lines], width)


def _ellipsis(lines: list[str], width: int) -> list[str]:
    if not lines:
        return ["…"]
    last = lines[-1]
    while len(last) + 2 > width and " " in last:
        last = last.rsplit(" ", 1)[0]
    lines[-1] = (last + " …") if len(last) + 2 <= width else "…"
    return lines


def _section_summary(name: str, s: dict[str, Any], found: list[Finding]) -> str:
    counts = {g: sum(1 for f in found if f.grade is g) for g in Grade}
    graded = ", ".join(f"{g.value} {n}" for g, n in counts.items() if n) or "nothing found"
    facts = {
        "detect": lambda: f"{s.get('alerts', 0)} alerts from {s.get('rules', 0)} rules over {s.get('files', 0)} log files",
        "vuln": lambda: f"{s.get('packages', 0)} packages, {s.get('advisories', 0)} advisories checked",
        "baseline": lambda: "; ".join(f"{pid} score {p['total']['score']}% ({p['total']['fail']} failed, "
                                      f"{p['total']['pass']} passed, {p['total']['not_applicable']} n/a)"
                                      for pid, p in (s.get("policies") or {}).items()),
        "persistence": lambda: f"{s.get('items', 0)} persistence entries, {s.get('suspicious', 0)} suspicious",
        "integrity": lambda: f"{s.get('files', 0)} files hashed, {s.get('package_files_verified', 0)} verified "
                             "against their package",
        "malware": lambda: f"{s.get('files', 0)} files scanned under {', '.join(s.get('roots') or []) or '-'}",
        "runtime": lambda: str(s.get("skipped") or f"{s.get('processes', 0)} processes"),
        "firewall": lambda: f"{s.get('files', 0)} rule sets analysed",
        "logs": lambda: f"{s.get('files', 0)} files, {s.get('lines', 0)} lines, {s.get('parse_failures', 0)} not "
                        f"understood" + (f", {len(s['skipped'])} skipped" if s.get("skipped") else ""),
    }
    try:
        fact = facts[name]() if s else ""
    except (KeyError, TypeError):  # a summary of another shape (a site scanner's): counts only
        fact = ""
    return f"{graded}" + (f" · {fact}" if fact else "")


def _finding_lines(f: Finding, width: int) -> Iterable[Text]:
    body = width - INDENT
    rule = f"  [{inert(f.rule_id)}]" if len(f.rule_id) <= RULE_ID_SHOWN else ""  # a UUID says nothing here
    head = textwrap.wrap(inert(what_and_where(f)), body - len(rule), break_on_hyphens=False) or [""]
    grade = Text(f" {f.grade.value} ", style=GRADE_STYLE[f.grade])
    first = Text.assemble(grade, " ", Text(head[0]), Text(rule, style="dim"))
    yield first
    for more in head[1:3]:
        yield Text(" " * INDENT + more)
    if f.fix:
        fix = fit_words(f.fix, body - 5)
        yield Text.assemble(" " * INDENT, Text("fix: ", style="green"), Text(fix[0]))
        for more in fix[1:]:
            yield Text(" " * (INDENT + 5) + more)


def render_scan_table(report: ScanReport, console: Console) -> None:
    width = max(60, min(console.width, 160))
    host = report.host
    counts = report.counts()
    console.print(Text.assemble(Text("hostwarden scan", style="bold"), f" of {inert(host.get('root'))}  ",
                                inert(host.get("os.pretty_name", "")), f"  host={inert(host.get('name') or '-')}"))
    console.print(f"findings: L1={counts['L1']}  L2={counts['L2']}  L3={counts['L3']}", highlight=False)
    if report.comparison is not None:
        c = report.comparison
        console.print(Text(inert(f"since scan {c['previous']}: {c['new']} new, {c['open']} still open, "
                                 f"{len(c['fixed'])} fixed")))
    sections = report.summary.get("sections", {})
    names = [n for n, _ in SECTIONS] + sorted({f.scanner for f in report.findings} - {n for n, _ in SECTIONS})
    titles = dict(SECTIONS)
    for name in names:
        found = sorted((f for f in report.findings if f.scanner == name),
                       key=lambda f: (f.grade.rank, f.rule_id if name == "baseline" else f.message))
        if not found and name not in sections:
            continue
        title = titles.get(name, name)
        summary = inert(_section_summary(name, sections.get(name) or {}, found))
        console.print()
        console.print(Text.assemble(Text(f"── {title} ", style="bold"), Text(summary[: width - len(title) - 4])))
        for f in found:
            for line in _finding_lines(f, width):
                console.print(line, overflow="ellipsis", no_wrap=True, crop=True)
    if report.comparison and report.comparison["fixed"]:
        console.print()
        console.print(Text("── Fixed since the previous scan", style="bold green"))
        for f in report.comparison["fixed"]:
            console.print(Text(inert(f"  {f.grade.value} {f.scanner}: {f.message}")), overflow="ellipsis", no_wrap=True)
    if report.notices:
        console.print()
        console.print(Text("── Notices", style="bold"))
        for notice in report.notices:
            for i, line in enumerate(textwrap.wrap(inert(f"{notice.get('code')} {notice.get('message')}"), width - 2)):
                console.print(Text(("  " if i else "") + line, style="yellow" if not i else ""), no_wrap=True)
