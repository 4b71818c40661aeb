"""One section per scanner, one card per finding: what is wrong, where, the fix, the evidence.

A card is a `<details>`: closed, its summary line says the grade, what is wrong and where (file:line,
package and version, source address); open, it shows the fix as a command to copy, the evidence
items and fields as labelled values, and the raw JSON of the evidence behind a second disclosure.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from hostwarden.core.records import EvidenceItem, Finding, Grade
from hostwarden.report.html.summary import Section, mlps_label, notice_item
from hostwarden.report.html.text import MAX_FIELDS, esc, is_empty, label, slug
from hostwarden.report.html.values import labelled, scalars_in, value_html

# What each built-in scanner looks at, for its section heading; other scanners show their name.
SCANNER_TITLES = {
    "logs": ("Logs", "the log files read: kinds, lines, what was not understood"),
    "detect": ("Detections", "detection rules matched in the logs"),
    "vuln": ("Vulnerabilities", "installed packages against the advisory database"),
    "baseline": ("Baseline", "configuration checks (CIS benchmark, MLPS 2.0)"),
    "persistence": ("Persistence", "cron, systemd units, shell profiles, sudoers, PAM, SSH keys"),
    "integrity": ("File integrity", "files against their packages' checksums and the last baseline"),
    "malware": ("Malware", "webshells and malicious files (YARA rules)"),
    "runtime": ("Runtime", "processes and sockets of the running host"),
    "firewall": ("Firewall", "rule sets: shadowed, redundant and exposed rules"),
}
# Fields every finding of one scan shares (shown once, in the host panel).
SHARED_FIELDS = {"host.name", "host.id", "organization.id", "hostwarden.scan.target"}
# Section summary keys that are the scanner's own bookkeeping, not facts about the host.
INTERNAL_KEYS = {"cpu_cap", "cpu_share", "slept_s", "throttled_s", "parts_s", "seconds"}
_COMMAND_START = re.compile(r"[a-z][a-z0-9._+-]*(\s|$)")  # `apt-get install …`, `chmod 0600 …`
_SPACES = re.compile(r"(\s+)")


def where_parts(f: Finding) -> list[str]:
    """Where the finding is, most specific first: file:line, package and version, address, user."""
    parts: list[str] = []
    located = [i.where for i in f.evidence.items if i.where]
    if located:
        parts.append(located[0] + (f" (+{len(located) - 1} more)" if len(located) > 1 else ""))
    timed = [i.time for i in f.evidence.items if i.time]
    if not located and timed:
        parts.append(f"{len(f.evidence.items)} log line{'s' if len(f.evidence.items) != 1 else ''}, "
                     f"first {min(timed)}")
    fields = f.fields
    if fields.get("package.name"):
        parts.append(" ".join(str(fields[k]) for k in ("package.name", "package.version") if fields.get(k)))
    if fields.get("file.path") and not located:
        parts.append(str(fields["file.path"]))
    for key in ("source.ip", "user.name", "process.executable"):
        if fields.get(key) and f"{key}={fields[key]}" not in f.message:
            parts.append(f"{label(key.split('.')[0])} {fields[key]}")
    return parts[:3]


def command_html(command: str) -> str:
    """A command whose lines break only between words (`libc-bin=2.36` is never split at its
    hyphen on a narrow screen); the words are spans, the copied text is the command as written."""
    return "".join(esc(p) if not p or p.isspace() else f'<span class="w">{esc(p)}</span>'
                   for p in _SPACES.split(command))


def fix_html(fix: str | None) -> str:
    """A fix written as prose keeps its `commands` as inline code; a bare command is a block.
    Both select whole on one click (CSS `user-select: all`), ready to copy."""
    if not fix:
        return ""
    if "`" in fix:
        pieces = fix.split("`")
        body = "".join(f'<code class="cmd">{command_html(p)}</code>' if i % 2 else esc(p) for i, p in enumerate(pieces))
        return f'<div class="fix"><h4>Fix</h4><p>{body}</p></div>'
    if _COMMAND_START.match(fix):
        return f'<div class="fix"><h4>Fix</h4><pre class="cmd">{command_html(fix)}</pre></div>'
    return f'<div class="fix"><h4>Fix</h4><p>{esc(fix)}</p></div>'


def _item_html(item: EvidenceItem) -> str:
    head = [f'<span class="loc">{esc(item.where)}</span>' if item.where else "",
            f'<span class="tag">{esc(item.advisory)}</span>' if item.advisory else "",
            f'<time>{esc(item.time)}</time>' if item.time else "",
            f'<span class="note">{esc(item.note)}</span>' if item.note else ""]
    ids = ""
    if item.event_ids:
        shown = ", ".join(i[:12] for i in item.event_ids[:3])
        more = f" +{len(item.event_ids) - 3}" if len(item.event_ids) > 3 else ""
        ids = f'<span class="ids">event {esc(shown)}{more}</span>'
    value = f'<pre class="val">{esc(item.value)}</pre>' if item.value else ""
    return f'<li><div class="ih">{"".join(head)}{ids}</div>{value}</li>'


def evidence_html(f: Finding) -> str:
    """Evidence items, the producer's details by shape, then the finding's fields that the card
    does not already show (ECS names, as `hostwarden search` queries them), then the raw JSON."""
    items = f.evidence.items
    out = ""
    if items:
        out += f'<h4>Evidence <span class="muted small">{len(items)}</span></h4><ul class="items">' \
               + "".join(_item_html(i) for i in items[:MAX_FIELDS]) + "</ul>"
    skip = {"items"} | ({"events"} if items else set())
    details = {k: v for k, v in f.evidence.details.items()
               if k not in skip and not (k == "fix" and v == f.fix) and not is_empty(v)}
    if details:
        out += "<h4>Details</h4>" + labelled(list(details.items()))
    seen = {f.title, f.rule_id, f.fix or ""} | set(scalars_in(details))
    seen |= {v for i in items for v in (i.file, i.value, i.advisory, i.where) if v}

    def shown(v: str) -> bool:
        return v in seen or (len(v) > 3 and v in f.message)

    fields = [(k, v) for k, v in f.fields.items()
              if k not in SHARED_FIELDS and not is_empty(v) and not all(shown(x) for x in scalars_in([v]))]
    if fields:
        out += '<h4>Fields <span class="muted small">as searched</span></h4>' + labelled(fields)
    raw = json.dumps(f.evidence.to_dict(), default=str, indent=2, ensure_ascii=False)
    return out + f'<details class="raw"><summary>Raw evidence (JSON)</summary><pre>{esc(raw)}</pre></details>'


def _clauses(f: Finding) -> str:
    """The compliance clauses a failed check maps to (MLPS 2.0 families, CIS sections)."""
    mlps = f.fields.get("hostwarden.mlps") or []
    cis = f.fields.get("hostwarden.cis") or []
    tags = [f'<span class="tag">{mlps_label(str(c))}</span>' for c in (mlps if isinstance(mlps, list) else [mlps])]
    tags += [f'<span class="tag">CIS {esc(c)}</span>' for c in (cis if isinstance(cis, list) else [cis])]
    return f'<p class="clauses">{"".join(tags)}</p>' if tags else ""


def card_html(f: Finding, card_id: str) -> str:
    status = f' <span class="st {slug(f.status)}">{esc(f.status)}</span>' if f.status else ""
    where = " · ".join(esc(p) for p in where_parts(f))
    title = (f'<p class="title">{esc(f.title)}</p>' if f.title and f.title != f.rule_id and f.title not in f.message
             else "")
    return (
        f'<article class="card {f.grade.value}{" " + slug(f.status) if f.status else ""}" id="{card_id}" '
        f'data-grade="{f.grade.value}"><details><summary>'
        f'<span class="badge {f.grade.value}">{f.grade.value}</span>{status}'
        f'<span class="what"><span class="msg">{esc(f.message, keep_newlines=False)}</span>'
        f'<span class="where">{where}</span></span><span class="rid">{esc(f.rule_id)}</span></summary>'
        f'<div class="body"><span class="anchor" id="open-{card_id}"></span>{title}{fix_html(f.fix)}{_clauses(f)}{evidence_html(f)}</div>'
        f"</details></article>"
    )


def _facts(summary: Mapping[str, Any]) -> str:
    """A section summary's plain facts (counts, names, flags) as labelled values."""
    pairs: list[tuple[str, Any]] = []
    for k, v in summary.items():
        if k in INTERNAL_KEYS or k in ("policies", "sources") or is_empty(v):
            continue
        if isinstance(v, Mapping):
            v = ", ".join(f"{a}={b}" for a, b in v.items() if not isinstance(b, Mapping | list))
        elif isinstance(v, list) and any(isinstance(x, Mapping) for x in v):
            v = f"{len(v)} entries"
        pairs.append((label(str(k)), v))
    if not pairs:
        return ""
    return '<dl class="facts inline">' + "".join(f"<dt>{esc(k)}</dt><dd>{value_html(v)}</dd>" for k, v in pairs) + "</dl>"


def _sources(summary: Mapping[str, Any], root: str) -> str:
    """Per-file lines (the log scanner's `sources`): path under the root, events, failures, time span."""
    sources = [s for s in summary.get("sources") or [] if isinstance(s, Mapping)]
    if not sources:
        return ""
    items = []
    for s in sources:
        path = str(s.get("path") or "")
        if root not in ("", "/") and path.startswith(root.rstrip("/") + "/"):
            path = path[len(root.rstrip("/")):]
        span = f'{s["first"]} → {s["last"]}' if s.get("first") and s.get("last") else ""
        facts = [f'{s.get("events", 0)} events', f'{s.get("parse_failures", 0)} not understood', span]
        items.append(f'<li><span class="path">{esc(path)}</span> <span class="muted">'
                     f'{esc(" · ".join(x for x in facts if x))}</span></li>')
    return f'<ul class="sources">{"".join(items)}</ul>'


def section_html(s: Section, notices: Sequence[Mapping[str, Any]], root: str) -> str:
    title, about = SCANNER_TITLES.get(s.name, (s.name, ""))
    counts = "".join(f'<span class="key {g.value}">{s.count(g)} {g.value}</span>' for g in Grade if s.count(g))
    own = [n for n in notices if n.get("scanner") == s.name]
    notes = f'<ul class="notes">{"".join(notice_item(n) for n in own)}</ul>' if own else ""
    cards = "".join(card_html(f, cid) for f, cid in s.cards)
    empty = '<p class="empty">No findings.</p>' if not s.findings else ""
    return (
        f'<section class="scanner" id="sec-{s.slug}"><header><h2>{esc(title)}'
        f' <span class="count">{len(s.findings)}</span></h2><span class="counts">{counts}</span>'
        f'<p class="about">{esc(about)}</p></header>{_facts(s.summary)}{_sources(s.summary, root)}{notes}'
        f'<div class="cards">{cards}{empty}</div></section>'
    )


def card_key(f: Finding) -> str:
    """A card's id: the same finding gets the same id in the next report (a link stays valid).
    Hashed here rather than `Finding.fingerprint`, which cannot encode a lone surrogate."""
    subject = "\x1f".join([f.scanner, f.rule_id, f.message, f.evidence.where])
    return hashlib.md5(subject.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()[:12]


def sections_of(findings: Sequence[Finding], summaries: Mapping[str, Any]) -> list[Section]:
    """Sections in the scanners' run order (the summary's), then any scanner seen only in findings;
    within a section L1 first, the producer's order otherwise."""
    names = [str(n) for n in summaries] + sorted({f.scanner for f in findings} - {str(n) for n in summaries})
    taken: set[str] = set()
    card_ids: set[str] = set()
    out = []
    for name in names:
        own = sorted((f for f in findings if f.scanner == name), key=lambda f: f.grade.rank)
        cards = [(f, "f-" + slug(card_key(f), card_ids)) for f in own]
        summary = summaries.get(name)
        out.append(Section(name, slug(name, taken), cards, summary if isinstance(summary, Mapping) else {}))
    return out
