"""The top of the page: counts by grade and by section, the host's facts, MLPS clause scores,
the comparison with the previous scan, and the notices (what could not be looked at)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hostwarden.core.records import Finding, Grade, ScanReport
from hostwarden.report.html.charts import score_bar, score_class, stacked_bar
from hostwarden.report.html.text import esc, fmt_number, is_empty, text

# MLPS 2.0 (GB/T 22239-2019) clause families as the standard names them, with an English label
# for readers (and machines) without the Chinese; a clause not listed is shown as written.
MLPS_ENGLISH = {
    "身份鉴别": "Identification and authentication", "访问控制": "Access control", "安全审计": "Security audit",
    "入侵防范": "Intrusion prevention", "恶意代码防范": "Malicious code prevention", "数据完整性": "Data integrity",
    "数据保密性": "Data confidentiality", "数据备份恢复": "Data backup and recovery",
    "剩余信息保护": "Residual information protection", "个人信息保护": "Personal information protection",
}
# Host facts in the order a reader wants them; the pretty OS name stands for its parts.
HOST_FACTS = (("name", "host"), ("os.pretty_name", "OS"), ("root", "root"), ("id", "host id"))
HOST_HIDDEN = {"os.version_id", "os.version_codename", "os.id", "live"}
URGENT_SHOWN = 6  # findings of the worst grade listed at the top


@dataclass(frozen=True)
class Section:
    """One scanner's part of the page: its name, id-safe slug, its findings (most urgent first)
    each with its card's id, and the scanner's summary."""

    name: str
    slug: str
    cards: Sequence[tuple[Finding, str]]
    summary: Mapping[str, Any]

    @property
    def findings(self) -> list[Finding]:
        return [f for f, _ in self.cards]

    def count(self, grade: Grade) -> int:
        return sum(1 for f in self.findings if f.grade is grade)


def _dl(rows: Sequence[tuple[str, Any]], cls: str = "facts") -> str:
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows if not is_empty(v))
    return f'<dl class="{cls}">{items}</dl>'


def urgent_list(sections: Sequence[Section], limit: int = URGENT_SHOWN) -> str:
    """The most urgent findings as links that scroll to their card and open it (the link targets
    an anchor inside the closed card, and the browser opens a <details> to show its target)."""
    cards = sorted((c for s in sections for c in s.cards), key=lambda c: c[0].grade.rank)
    if not cards:
        return ""
    worst = cards[0][0].grade
    top = [c for c in cards if c[0].grade is worst]
    items = "".join(f'<li><a href="#open-{cid}"><span class="badge {f.grade.value}">{f.grade.value}</span> '
                    f'<span class="tag">{esc(f.scanner)}</span>{esc(f.message, keep_newlines=False)}</a></li>'
                    for f, cid in top[:limit])
    more = f'<li class="muted small">and {len(top) - limit} more below</li>' if len(top) > limit else ""
    return f'<h3>Most urgent</h3><ul class="urgent">{items}{more}</ul>'


def grade_panel(report: ScanReport, sections: Sequence[Section]) -> str:
    counts = report.counts()
    tiles = "".join(
        f'<div class="tally {g.value}"><span class="n" id="count-{g.value}">{counts[g.value]}</span>'
        f'<span class="g">{g.value}</span><span class="m">{g.meaning}</span></div>'
        for g in Grade
    )
    total = sum(counts.values())
    return (f'<section class="panel grades"><h2>Findings <span class="muted">'
            f'<span id="count-total">{total}</span> in all</span></h2><div class="tallies">{tiles}</div>'
            f"{comparison_line(report)}{urgent_list(sections)}</section>")


def comparison_line(report: ScanReport) -> str:
    c = report.comparison
    if c is None:
        return ""
    return (f'<p class="delta"><span class="st new">{int(c.get("new", 0))} new</span> '
            f'<span class="st open">{int(c.get("open", 0))} still open</span> '
            f'<span class="st fixed">{len(c.get("fixed", []))} fixed</span> '
            f'<span class="muted small">since scan {esc(c.get("previous"))}</span></p>')


def host_panel(report: ScanReport) -> str:
    host = report.host
    rows: list[tuple[str, Any]] = [(label, host.get(key)) for key, label in HOST_FACTS]
    rows.append(("target", "live host" if host.get("live") else "offline root (files only)"))
    shown = {k for k, _ in HOST_FACTS} | HOST_HIDDEN
    rows += [(k, v) for k, v in host.items() if k not in shown and not isinstance(v, Mapping | list)]
    timings = report.summary.get("timings_seconds") or {}
    took = sum(v for v in timings.values() if isinstance(v, int | float))
    rows += [("scan id", report.scan_id), ("started", report.started),
             ("took", f"{took:.1f} s" if timings else None),
             ("hostwarden", report.summary.get("hostwarden.version"))]
    return f'<section class="panel host"><h2>Host</h2>{_dl(rows)}</section>'


def sections_panel(sections: Sequence[Section]) -> str:
    scale = max((len(s.findings) for s in sections), default=0)
    rows = []
    for s in sections:
        parts = [(s.count(g), g.value) for g in Grade]
        tip = ", ".join(f"{n} {g}" for n, g in parts if n) or "no findings"
        rows.append(
            f'<a class="row" href="#sec-{s.slug}"><span class="k">{esc(s.name)}</span>'
            f"{stacked_bar(parts, scale, f'{s.name}: {tip}')}"
            f'<span class="v" id="count-sec-{s.slug}">{len(s.findings)}</span></a>'
        )
    legend = "".join(f'<span class="key {g.value}">{g.value}</span>' for g in Grade)
    return (f'<section class="panel bysection"><h2>By section <span class="legend">{legend}</span></h2>'
            f'<div class="rows">{"".join(rows)}</div></section>')


def mlps_label(clause: str) -> str:
    english = MLPS_ENGLISH.get(clause)
    return f'{esc(english)} <span class="zh">{esc(clause)}</span>' if english else esc(clause)


def _score_row(title_html: str, rate: Mapping[str, Any], plain: str) -> str:
    score = rate.get("score")
    value = f"{fmt_number(score)} %" if score is not None else "n/a"
    detail = f'{int(rate.get("pass", 0))} pass · {int(rate.get("fail", 0))} fail'
    if rate.get("not_applicable"):
        detail += f' · {int(rate["not_applicable"])} n/a'
    return (f'<div class="row"><span class="k">{title_html}<span class="sub">{detail}</span></span>'
            f"{score_bar(score, f'{plain}: {value}')}"
            f'<span class="v {score_class(score)}">{esc(value)}</span></div>')


def policy_scores(sections: Sequence[Section]) -> list[tuple[str, Mapping[str, Any]]]:
    """(policy id, score document) of every section summary that carries baseline policies."""
    out = []
    for s in sections:
        policies = s.summary.get("policies")
        if isinstance(policies, Mapping):
            out += [(str(pid), doc) for pid, doc in policies.items() if isinstance(doc, Mapping)]
    return out


def mlps_panel(sections: Sequence[Section]) -> str:
    blocks = []
    for pid, doc in policy_scores(sections):
        clauses = doc.get("mlps") or {}
        rows = "".join(_score_row(mlps_label(str(c)), rate, str(c)) for c, rate in clauses.items()
                       if isinstance(rate, Mapping))
        total = doc.get("total") or {}
        blocks.append(f'<h3>{esc(pid)}</h3><div class="rows">'
                      f'{_score_row("<b>all checks</b>", total, "all checks") if total else ""}{rows}</div>')
    if not blocks:
        return ""
    return ('<section class="panel mlps"><h2>MLPS 2.0 clause scores <span class="muted small">'
            'passed ÷ assessed checks</span></h2>' + "".join(blocks) + "</section>")


def notices_panel(notices: Sequence[Mapping[str, Any]]) -> str:
    if not notices:
        return ""
    items = "".join(notice_item(n) for n in notices)
    return f'<section class="panel notices"><h2>Notices <span class="muted small">{len(notices)}</span></h2>' \
           f'<ul class="notes">{items}</ul></section>'


def notice_item(n: Mapping[str, Any]) -> str:
    scanner = f'<span class="tag">{esc(n["scanner"])}</span> ' if n.get("scanner") else ""
    return f'<li><code>{esc(n.get("code"))}</code> {scanner}{esc(n.get("message"))}</li>'


def fixed_panel(report: ScanReport) -> str:
    fixed: Sequence[Finding] = (report.comparison or {}).get("fixed") or []
    if not fixed:
        return ""
    items = "".join(f'<li><span class="badge {f.grade.value}">{f.grade.value}</span> <span class="tag">'
                    f'{esc(f.scanner)}</span> {esc(f.message)}</li>' for f in fixed)
    return (f'<section class="panel fixedlist"><h2>Fixed since the previous scan <span class="muted small">'
            f'{len(fixed)}</span></h2><ul class="notes">{items}</ul></section>')


def summary_html(report: ScanReport, sections: Sequence[Section]) -> str:
    return ('<div class="summary">' + grade_panel(report, sections) + host_panel(report) + sections_panel(sections)
            + mlps_panel(sections) + fixed_panel(report) + notices_panel(report.notices) + "</div>")


def headline(report: ScanReport) -> str:
    """One sentence for the top bar: how bad, in words."""
    counts = report.counts()
    worst = report.worst()
    if worst is None:
        return "No findings."
    n = counts[worst.value]
    return text(f"{n} {worst.meaning} finding{'s' if n != 1 else ''} ({worst.value}) among {sum(counts.values())}.")
