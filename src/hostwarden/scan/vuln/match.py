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
from hostwarden.scan.vuln.db import AdvisoryDB, Brief, Candidate, decode_json
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


def _status(words: list[str], hit: osv.Hit) -> str:
    """`status_of` on the status words stored with a compiled entry."""
    for word in words:
        if word in _STATUS_WORDS:
            return _STATUS_WORDS[word]
    return "fixed" if hit.fixed else "unfixed"


@dataclass(slots=True)
class _Hit:
    package: Package
    row: Candidate
    hit: osv.Hit
    status: str
    malicious: bool
    score: severity.Score | None


def match_packages(db: AdvisoryDB, packages: list[Package]) -> MatchResult:
    """Every (package, advisory) pair whose affected entry covers the installed version.

    One joined query fetches the candidate entries of all packages. Entries compiled at import
    are evaluated on stored key texts (no version parsing, no record decoding); the others
    (ecosystems without key texts, odd shapes) go through `osv.evaluate_affected` on the stored
    record. Either way the answer is the one the OSV reference algorithm gives. The advisory
    fields a finding shows are then read for the matched advisories only.
    """
    by_key: dict[tuple[str, str], list[Package]] = defaultdict(list)
    for pkg in packages:
        by_key[lookup_key(pkg)].append(pkg)
    result = MatchResult()
    ctx = _Context(db)
    seen: set[tuple[str, str, str, str]] = set()
    hits: list[_Hit] = []
    for row in db.candidates(by_key):
        facts = decode_json(row.compiled) if row.compiled is not None else None
        for pkg in by_key.get((osv.ecosystem_key(row.ecosystem), row.name), ()):
            hit, status, score = ctx.evaluate(row, facts, pkg)
            if hit.verdict is osv.Verdict.UNKNOWN:
                result.unknown.append({"package": pkg.to_dict(), "advisory": row.advisory_id, "reason": hit.reason})
                continue
            if hit.verdict is not osv.Verdict.AFFECTED:
                continue
            dedupe = (pkg.name, pkg.version, pkg.location, row.advisory_id)
            if status == "not-affected" or dedupe in seen:
                continue
            seen.add(dedupe)
            hits.append(_Hit(pkg, row, hit, status, bool(row.malicious), score))
    ctx.briefs = db.briefs({h.row.advisory_id for h in hits})
    ctx.borrow_scores(hits)
    result.matches = [ctx.build(h) for h in hits]
    return result


_EVERY_VERSION = osv.Hit(osv.Verdict.AFFECTED, reason="malicious package: every version")


class _Context:
    """Per-run caches: records, alias severities and the KEV table are read once per scan."""

    def __init__(self, db: AdvisoryDB) -> None:
        self.db = db
        self.records: dict[str, dict[str, Any]] = {}
        self.briefs: dict[str, Brief] = {}
        self.related: dict[tuple[str, ...], severity.Score | None] = {}
        self.kev = db.kev_all()

    def record(self, advisory_id: str) -> dict[str, Any]:
        if advisory_id not in self.records:
            self.records[advisory_id] = self.db.advisory(advisory_id) or {"id": advisory_id}
        return self.records[advisory_id]

    def evaluate(self, row: Candidate, facts: list[Any] | None,
                 pkg: Package) -> tuple[osv.Hit, str, severity.Score | None]:
        """Verdict, status and the entry's own score (status and score only matter when affected)."""
        if facts is None:
            return self._evaluate_raw(row, pkg)
        words, score_row, bare = facts[4], facts[5], facts[6]
        if row.malicious and bare:
            hit = _EVERY_VERSION
        else:
            try:
                hit = osv.evaluate_compiled(facts, row.ecosystem, pkg.match_version)
            except osv.Unindexed:
                return self._evaluate_raw(row, pkg)
        if hit.verdict is not osv.Verdict.AFFECTED:
            return hit, "", None
        return hit, _status(words, hit), severity.Score(*score_row) if score_row is not None else None

    def _evaluate_raw(self, row: Candidate, pkg: Package) -> tuple[osv.Hit, str, severity.Score | None]:
        record = self.record(row.advisory_id)
        entry = record["affected"][row.idx]
        if row.malicious and not entry.get("ranges") and not entry.get("versions"):
            hit = _EVERY_VERSION
        else:
            hit = osv.evaluate_affected(entry, row.ecosystem, pkg.match_version)
        if hit.verdict is not osv.Verdict.AFFECTED:
            return hit, "", None
        return hit, status_of(entry, hit), severity.record_score(record, entry)

    def _alias_group(self, advisory_id: str) -> tuple[str, ...]:
        brief = self.briefs[advisory_id]
        return (*brief.aliases, *brief.upstream)

    def borrow_scores(self, hits: list[_Hit]) -> None:
        """Records without a CVSS vector borrow one through their aliases: one look-up for all."""
        groups = {self._alias_group(h.row.advisory_id) for h in hits if h.score is None or h.score.base is None}
        missing = [g for g in groups if g not in self.related]
        for group, found in self.db.related_severities(missing).items():
            self.related[group] = severity.best_score(found[1], found[0]) if found else None

    def build(self, h: _Hit) -> Match:
        pkg, hit, score, rid = h.package, h.hit, h.score, h.row.advisory_id
        brief = self.briefs[rid]
        if score is None or score.base is None:
            score = self.related[self._alias_group(rid)] or score
        # Debian's records name their CVE as `upstream`, not as an alias: KEV must look there too.
        related = [rid, *brief.aliases, *brief.upstream]
        kev = next((self.kev[i] for i in related if i in self.kev), None) if self.kev else None
        prio = severity.priority(score, kev=kev is not None, malicious=h.malicious, status=h.status)
        binary = pkg.name if pkg.source_name else None
        return Match(
            package=pkg, advisory_id=rid, aliases=list(dict.fromkeys([*brief.aliases, *brief.upstream])),
            summary=brief.summary[:300],
            status=h.status, fixed=hit.fixed, last_affected=hit.last_affected, malicious=h.malicious, score=score,
            kev=kev, priority=prio, fix=severity.fix_command(pkg.ecosystem, pkg.match_name, binary, hit.fixed),
            reason=hit.reason, references=list(brief.refs),
        )
