"""Which parser reads a source: the built-in parsers, and sniffing a source's first lines.

Each source is sniffed once on its first lines: the best-scoring parser wins when it understands
at least MIN_UNDERSTOOD of them; a name-based hint only breaks ties. Below that share the file
is of no known kind, and the verdict says so with the count, so a caller that walked a folder
can skip it with that reason; a file the user named is still read, its lines stored raw as
parse failures (never lose what was asked for). Free-text files (term.log, fontconfig.log …)
cannot be recognised by content; parsers marked `claims_by_name` read them when the file name
says so and nothing understands the content better.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from hostwarden.core.chunks import Chunk
from hostwarden.normalize.base import ParseContext

SNIFF_LINES = 50
SNIFF_BYTES = 64 * 1024
# Share of the sampled lines the best parser must understand for a file to be of its kind.
MIN_UNDERSTOOD = 0.5
# (dataset hint, "module:Class"), in sniffing priority order.
PARSERS: tuple[tuple[str, str], ...] = (
    ("syslog", "hostwarden.normalize.syslog:SyslogParser"),
    ("auditd", "hostwarden.normalize.auditd:AuditdParser"),
    ("web.access", "hostwarden.normalize.web:AccessLogParser"),
    ("web.error", "hostwarden.normalize.web:ErrorLogParser"),
    ("journald", "hostwarden.normalize.journald:JournaldParser"),  # before json: its records are JSON too
    ("json", "hostwarden.normalize.jsonl:JsonLinesParser"),
    ("dpkg", "hostwarden.normalize.dpkg:DpkgParser"),
    ("alternatives", "hostwarden.normalize.dpkg:AlternativesParser"),
    ("apt.history", "hostwarden.normalize.apt:AptHistoryParser"),
    ("apt.term", "hostwarden.normalize.apt:AptTermParser"),
    ("applog", "hostwarden.normalize.applog:AppLogParser"),
    ("text", "hostwarden.normalize.applog:TextParser"),
)
# Rotation and compression suffixes: dpkg.log.1, history.log.2.gz, syslog-20240101.xz.
_ROTATED = re.compile(r"(?:[.-](?:\d{1,4}|\d{8}))*(?:\.(?:gz|xz|bz2|zst))?(?:[.-](?:\d{1,4}|\d{8}))*$")
# File name (rotation suffix removed) -> parser, for the files a stock Debian/Ubuntu /var/log holds.
NAMED: dict[str, str] = {
    "dpkg.log": "dpkg",
    "alternatives.log": "alternatives",
    "history.log": "apt.history",
    "term.log": "apt.term",
    "apt-term.log": "apt.term",
    "unattended-upgrades-dpkg.log": "apt.term",
    "bootstrap.log": "apt.term",  # debootstrap's dpkg transcript
    "unattended-upgrades.log": "applog",
    "unattended-upgrades-shutdown.log": "applog",
    "cloud-init.log": "applog",
    "fail2ban.log": "applog",
    "letsencrypt.log": "applog",
    "dmesg": "applog",
    "fontconfig.log": "text",
    "cloud-init-output.log": "text",
    "boot.log": "text",
    "gpu-manager.log": "text",
}
# Folders whose files are notes of free text (the installer's hardware summary, its partman log…).
NAMED_FOLDERS: dict[str, str] = {"installer": "text"}


def available_parsers() -> dict[str, type]:
    """Every built-in parser. A parser that fails to import is a bug, so it is not skipped."""
    found: dict[str, type] = {}
    for name, target in PARSERS:
        module_name, _, cls = target.partition(":")
        found[name] = getattr(importlib.import_module(module_name), cls)
    return found


def base_name(path: str) -> str:
    """The file name without rotation or compression suffixes (`dpkg.log.2.gz` → `dpkg.log`)."""
    name = path.rsplit("/", 1)[-1].lower()
    return _ROTATED.sub("", name) or name


def hint_for_path(path: str) -> str | None:
    """A likely parser from the file name; sniffing still has to agree."""
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith((".json", ".jsonl", ".ndjson")) or ".json." in name:
        return "json"
    named = NAMED.get(base_name(path))
    if named is not None:
        return named
    if "audit" in name:
        return "auditd"
    if "access" in name:
        return "web.access"
    if "error" in name and any(w in path.lower() for w in ("nginx", "apache", "httpd")):
        return "web.error"
    folders = path.lower().split("/")[:-1]
    return next((NAMED_FOLDERS[f] for f in reversed(folders) if f in NAMED_FOLDERS), None)


@dataclass(frozen=True)
class Verdict:
    """What sniffing found: the parser (None: no known kind), and why, for reports."""

    parser: str | None
    nearest: str  # the best-scoring parser, even when it understood too little
    understood: int  # sample lines the best parser understood
    sampled: int
    reason: str

    @property
    def known(self) -> bool:
        return self.parser is not None


def sniff_verdict(sample: list[str], hint: str | None = None) -> Verdict:
    """The parser that understands most of the sample, if it understands enough of it.

    Ties go to the earlier entry of PARSERS (the more specific format: journald before json) and
    a name-based hint wins only when it is among the best and nothing more specific ties with it.
    """
    parsers = available_parsers()
    lines = [s for s in sample if s.strip()][:SNIFF_LINES]
    if not lines:
        fallback = hint if hint in parsers else "syslog"
        return Verdict(fallback, fallback, 0, 0, "empty")
    scores = {name: _score(cls, lines) for name, cls in parsers.items()}
    best = max(scores.values())
    leaders = [name for name, score in scores.items() if score >= best - 1e-9]
    chosen = hint if hint in leaders and leaders[0] in (hint, "syslog") else leaders[0]
    understood = round(best * len(lines))
    if best >= MIN_UNDERSTOOD:
        return Verdict(chosen, chosen, understood, len(lines),
                       f"{understood}/{len(lines)} sample lines understood as {chosen}")
    if hint in parsers and getattr(parsers[hint], "claims_by_name", False):
        return Verdict(hint, chosen, understood, len(lines), f"read as {hint} by its file name")
    return Verdict(None, chosen, understood, len(lines),
                   f"no known format: {understood}/{len(lines)} sample lines understood")


def sniff(sample: list[str], hint: str | None = None) -> str:
    """Name of the parser to read a source with: the verdict's; for a file of no known kind (one
    the user named explicitly) the parser that understood the most of it, else the hint or
    syslog framing, whose lines then become parse failures."""
    verdict = sniff_verdict(sample, hint)
    if verdict.parser is not None:
        return verdict.parser
    if verdict.understood:
        return verdict.nearest
    return hint if hint in available_parsers() else "syslog"


def sample_lines(chunk: Chunk) -> list[str]:
    """The lines of a source's first chunk that sniffing looks at."""
    return [ln.text for ln in Chunk(chunk.source, 0, chunk.data[:SNIFF_BYTES]).lines()[:SNIFF_LINES]]


def sniff_chunks(chunks: Iterable[Chunk], hint: str | None = None) -> tuple[Verdict, Iterator[Chunk]]:
    """Sniff one source on its first chunk without losing it: the verdict, and every chunk."""
    it = iter(chunks)
    first = next(it, None)
    if first is None:
        return Verdict(hint or "syslog", hint or "syslog", 0, 0, "empty"), iter(())
    return sniff_verdict(sample_lines(first), hint), chain([first], it)


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
