"""Which parser reads a source: the built-in parsers, and sniffing a source's first lines.

Each source is sniffed once on its first lines (the best-scoring parser wins, falling back to
syslog framing with per-line parse_failure records); a name-based hint only breaks ties.
"""

from __future__ import annotations

import importlib
from typing import Any

from hostwarden.normalize.base import ParseContext

SNIFF_LINES = 50
# (dataset hint, "module:Class"), in sniffing priority order.
PARSERS: tuple[tuple[str, str], ...] = (
    ("syslog", "hostwarden.normalize.syslog:SyslogParser"),
    ("auditd", "hostwarden.normalize.auditd:AuditdParser"),
    ("web.access", "hostwarden.normalize.web:AccessLogParser"),
    ("web.error", "hostwarden.normalize.web:ErrorLogParser"),
    ("journald", "hostwarden.normalize.journald:JournaldParser"),  # before json: its records are JSON too
    ("json", "hostwarden.normalize.jsonl:JsonLinesParser"),
)


def available_parsers() -> dict[str, type]:
    """Every built-in parser. A parser that fails to import is a bug, so it is not skipped."""
    found: dict[str, type] = {}
    for name, target in PARSERS:
        module_name, _, cls = target.partition(":")
        found[name] = getattr(importlib.import_module(module_name), cls)
    return found


def hint_for_path(path: str) -> str | None:
    """A likely parser from the file name; sniffing still has to agree."""
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith((".json", ".jsonl", ".ndjson")) or ".json." in name:
        return "json"
    if "audit" in name:
        return "auditd"
    if "access" in name:
        return "web.access"
    if "error" in name and any(w in path.lower() for w in ("nginx", "apache", "httpd")):
        return "web.error"
    return None


def sniff(sample: list[str], hint: str | None = None) -> str:
    """Name of the parser that understands most of the sample.

    Ties go to the earlier entry of PARSERS (the more specific format: journald before json) and
    a name-based hint wins only when it is among the best and nothing more specific ties with it.
    """
    parsers = available_parsers()
    lines = [s for s in sample if s.strip()][:SNIFF_LINES]
    if not lines:
        return hint if hint in parsers else "syslog"  # type: ignore[return-value]
    scores = {name: _score(cls, lines) for name, cls in parsers.items()}
    best = max(scores.values())
    if best <= 0:
        return hint if hint in parsers else "syslog"  # type: ignore[return-value]
    leaders = [name for name, score in scores.items() if score >= best - 1e-9]
    if hint in leaders and leaders[0] in (hint, "syslog"):
        return hint  # type: ignore[return-value]
    return leaders[0]


def _score(cls: type, lines: list[str]) -> float:
    try:
        return float(cls().sniff(lines))
    except Exception:  # a parser's sniff must not break ingest of a file it doesn't own
        return 0.0


def reparse_failures(events: list[dict[str, Any]], lines: dict[int, Any], ctx: ParseContext, tried: str) -> list[dict[str, Any]]:
    """Give lines the chosen parser did not understand to the other line parsers (mixed files)."""
    others = [cls() for name, cls in available_parsers().items() if name != tried and hasattr(cls, "parse_line")]
    out = []
    for ev in events:
        if "parse_failure" in (ev.get("tags") or []) and ev.get("log.offset") in lines:
            line = lines[ev["log.offset"]]
            for parser in others:
                parsed = parser.parse_batch([line], ctx)[0]
                if "parse_failure" not in (parsed.get("tags") or []):
                    ev = parsed
                    break
        out.append(ev)
    return out
