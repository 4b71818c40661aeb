"""The scan report as one self-contained HTML page: summary, filters, a section per scanner.

Self-contained means offline and inert: no script at all, no external asset (fonts, images,
styles), nothing fetched; the one stylesheet is admitted by its hash in a Content-Security-Policy
that forbids everything else, so even a value that escaped escaping could neither load nor run
anything. Every value from the report goes through `text.esc`.
"""

from __future__ import annotations

import base64
import hashlib

from hostwarden.core.records import Grade, ScanReport
from hostwarden.report.html.cards import SCANNER_TITLES, section_html, sections_of
from hostwarden.report.html.style import STYLE, filter_css
from hostwarden.report.html.summary import Section, headline, summary_html
from hostwarden.report.html.text import esc


def content_security_policy(css: str) -> str:
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; script-src 'none'; "
            "base-uri 'none'; form-action 'none'")


def _filters(report: ScanReport, sections: list[Section]) -> tuple[str, str]:
    """(the hidden inputs, the visible filter bar of labels)."""
    counts = report.counts()
    inputs = [f'<input class="flt" type="checkbox" id="g-{g.value}" checked aria-label="show {g.value}">'
              for g in Grade]
    inputs.append('<input class="flt" type="radio" name="section" id="s-all" checked aria-label="all sections">')
    inputs += [f'<input class="flt" type="radio" name="section" id="s-{s.slug}" aria-label="section {esc(s.name)}">'
               for s in sections]
    grades = "".join(f'<label for="g-{g.value}" class="{g.value}">{g.value} <b>{counts[g.value]}</b></label>'
                     for g in Grade)
    secs = '<label for="s-all">all</label>' + "".join(
        f'<label for="s-{s.slug}">{esc(SCANNER_TITLES.get(s.name, (s.name,))[0])} <b>{len(s.findings)}</b></label>'
        for s in sections)
    new = ""
    if report.comparison is not None:
        inputs.append('<input class="flt" type="checkbox" id="only-new" aria-label="only new findings">')
        new = '<span class="grp"><label for="only-new">only new</label></span>'
    bar = (f'<nav class="filters" aria-label="filters"><div class="in"><span class="grp"><span class="lbl">grade</span>'
           f'{grades}</span><span class="grp"><span class="lbl">section</span>{secs}</span>{new}</div></nav>')
    return "".join(inputs), bar


def _footer(report: ScanReport) -> str:
    timings = report.summary.get("timings_seconds") or {}
    spent = " · ".join(f"{esc(k)} {v:.1f} s" for k, v in timings.items() if isinstance(v, int | float))
    version = esc(report.summary.get("hostwarden.version") or "")
    return (f"<footer><p>hostwarden {version} · a self-contained page: no script, nothing loaded from "
            f"elsewhere; the full data is in <code>--format json</code>.</p>"
            + (f"<p>time per section: {spent}</p>" if spent else "") + "</footer>")


def scan_html(report: ScanReport) -> str:
    sections = sections_of(report.findings, report.summary.get("sections") or {})
    css = STYLE + filter_css([g.value for g in Grade], [s.slug for s in sections], report.comparison is not None)
    inputs, bar = _filters(report, sections)
    host = report.host
    name = host.get("name") or host.get("root") or "host"
    worst = report.worst()
    body = "".join(section_html(s, report.notices, str(host.get("root") or "")) for s in sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{content_security_policy(css)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hostwarden scan · {esc(name, keep_newlines=False)}</title>
<style>{css}</style></head>
<body>{inputs}
<header class="top"><div class="in"><h1>hostwarden scan · <span class="host">{esc(name, keep_newlines=False)}</span></h1>
<span class="head"><span class="worst {worst.value if worst else ''}">{esc(headline(report))}</span>
{esc(host.get("os.pretty_name") or "")}</span></div></header>
{summary_html(report, sections)}
{bar}
<main>{body}</main>
{_footer(report)}
</body></html>
"""
