"""Matching an inventory against the advisory database: the right advisories, and only those.

Distro packages are looked up by *source* package name and version in their own release's
ecosystem (`debian:12`), so a binary such as `libssl3` meets the `openssl` advisories and a
Debian 11 advisory never touches a Debian 12 host. Language packages are looked up by their
normalised name in their ecosystem.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from hostwarden.scan.vuln import osv, severity
from hostwarden.scan.vuln.db import AdvisoryDB, AffectedRow
from hostwarden.scan.vuln.inventory.model import Package

_STATUS_WORDS = {
    "will_not_fix": "will-not-fix", "will-not-fix": "will-not-fix", "wontfix": "will-not-fix",
    "ignored": "will-not-fix", "deferred": "will-not-fix", "not_affected": "not-affected",
    "not-affected": "not-affected", "end-of-life": "end-of-life", "eol": "end-of-life",
    "end_of_life": "end-of-life",
}


@dataclass
class Match:
    package: Package
    advisory_id: str
    aliases: list[str]
    summary: str
    status: str
    fixed: str | None
    last_affected: str | None
    malicious: bool
    score: severity.Score | None
    kev: dict[str, Any] | None
    priority: severity.Priority
    fix: str | None
    reason: str
    references: list[str] = field(default_factory=list)


@dataclass
class MatchResult:
    matches: list[Match] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)


def status_of(entry: dict[str, Any], hit: osv.Hit) -> str:
    """Map distro status words (in ecosystem_/database_specific) onto our five-word vocabulary."""
    for bag in (entry.get("ecosystem_specific"), entry.get("database_specific")):
        if isinstance(bag, dict):
            word = str(bag.get("status") or "").strip().lower()
            if word in _STATUS_WORDS:
                return _STATUS_WORDS[word]
    return "fixed" if hit.fixed else "unfixed"


def lookup_key(pkg: Package) -> tuple[str, str]:
    return osv.ecosystem_key(pkg.ecosystem), osv.package_key(pkg.ecosystem, pkg.match_name)


def match_packages(db: AdvisoryDB, packages: list[Package]) -> MatchResult:
    by_key: dict[tuple[str, str], list[Package]] = defaultdict(list)
    for pkg in packages:
        by_key[lookup_key(pkg)].append(pkg)
    result = MatchResult()
    ctx = _Context(db)
    seen: set[tuple[str, str, str, str]] = set()
    hits: list[tuple[Package, AffectedRow, osv.Hit, str, bool]] = []
    for row in db.affected_for(by_key):
        malicious = row.advisory_id.startswith("MAL-") or any(a.startswith("MAL-") for a in row.aliases)
        every_version = malicious and not row.entry.get("ranges") and not row.entry.get("versions")
        for pkg in by_key.get((osv.ecosystem_key(row.ecosystem), row.name), ()):
            if every_version:
                hit = osv.Hit(osv.Verdict.AFFECTED, reason="malicious package: every version")
            else:
                hit = osv.evaluate_affected(row.entry, row.ecosystem, pkg.match_version)
            if hit.verdict is osv.Verdict.UNKNOWN:
                result.unknown.append({"package": pkg.to_dict(), "advisory": row.advisory_id, "reason": hit.reason})
                continue
            if hit.verdict is not osv.Verdict.AFFECTED:
                continue
            status = status_of(row.entry, hit)
            dedupe = (pkg.name, pkg.version, pkg.location, row.advisory_id)
            if status == "not-affected" or dedupe in seen:
                continue
            seen.add(dedupe)
            hits.append((pkg, row, hit, status, malicious))
    ctx.records = db.records({row.advisory_id for _, row, _, _, _ in hits})
    for pkg, row, hit, status, malicious in hits:
        record = ctx.records.get(row.advisory_id) or {"id": row.advisory_id}
        result.matches.append(ctx.build(pkg, record, row.entry, hit, status, malicious))
    return result


class _Context:
    """Per-run caches: each record, alias severity and the KEV table are read once per scan."""

    def __init__(self, db: AdvisoryDB) -> None:
        self.db = db
        self.records: dict[str, dict[str, Any]] = {}
        self.related: dict[tuple[str, ...], severity.Score | None] = {}
        self.kev = db.kev_all()

    def borrowed_score(self, aliases: tuple[str, ...]) -> severity.Score | None:
        if aliases not in self.related:
            found = self.db.related_severity(aliases)
            self.related[aliases] = severity.best_score(found[1], found[0]) if found else None
        return self.related[aliases]

    def build(self, pkg: Package, record: dict[str, Any], entry: dict[str, Any], hit: osv.Hit, status: str,
              malicious: bool) -> Match:
        aliases = [str(a) for a in record.get("aliases") or []]
        score = severity.record_score(record, entry)
        if score is None or score.base is None:
            score = self.borrowed_score(tuple([*aliases, *[str(u) for u in record.get("upstream") or []]])) or score
        kev = next((self.kev[i] for i in [str(record.get("id")), *aliases] if i in self.kev), None)
        prio = severity.priority(score, kev=kev is not None, malicious=malicious, status=status)
        binary = pkg.name if pkg.source_name else None
        refs = [str(r.get("url")) for r in record.get("references") or [] if isinstance(r, dict) and r.get("url")]
        return Match(
            package=pkg, advisory_id=str(record.get("id")), aliases=aliases,
            summary=str(record.get("summary") or record.get("details") or "")[:300], status=status,
            fixed=hit.fixed, last_affected=hit.last_affected, malicious=malicious, score=score, kev=kev,
            priority=prio, fix=severity.fix_command(pkg.ecosystem, pkg.match_name, binary, hit.fixed),
            reason=hit.reason, references=refs[:5],
        )
