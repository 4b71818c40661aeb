"""The results every stage hands on: grades, evidence, alerts and findings.

Typed, frozen records at the boundary between a producer (detection, a scanner) and the alert
path's sinks (store, printers, incidents, response). A producer may keep its own mutable working
form inside a hot loop (detection updates an open alert's count in place); what crosses the
boundary is one of these, and `to_ecs()` is the one mapping to the stored event shape, with
`from_ecs()` its inverse, so a stored row reads back as the record that was written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from hostwarden.core.schema import FIELD_BY_NAME, event_id

FINDING_SOURCE = "hostwarden:scan"  # log.file.path of stored findings, as ALERT_SOURCE is for alerts


class Grade(StrEnum):
    """L1 urgent, L2 important, L3 routine (DESIGN.md's grading); `rank` 1 is the most urgent."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"

    @property
    def rank(self) -> int:
        return int(self.value[1])

    @property
    def meaning(self) -> str:
        return {"L1": "urgent", "L2": "important", "L3": "routine"}[self.value]

    @classmethod
    def from_rank(cls, rank: Any, default: Grade | None = None) -> Grade:
        """From `event.severity` (1..3); anything else is `default` (L3 when not given)."""
        try:
            return cls(f"L{int(rank)}")
        except (TypeError, ValueError):
            return default or cls.L3

    @classmethod
    def parse(cls, text: str) -> Grade:
        """Strict: `l1`, `L2` … only. A CI gate given a word it cannot honour must say so."""
        try:
            return cls(text.strip().upper())
        except ValueError:
            raise ValueError(f"not a grade: {text!r} (use L1, L2 or L3)") from None

    def at_least(self, other: Grade) -> bool:
        """As urgent as `other` or more."""
        return self.rank <= other.rank


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One thing looked at: where (file and line), what was there (value), and what proves it
    (event ids of the log lines, an advisory id)."""

    file: str | None = None
    line: int | None = None
    value: str | None = None
    note: str | None = None
    event_ids: tuple[str, ...] = ()
    advisory: str | None = None
    time: str | None = None

    @property
    def where(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if value not in (None, ()):
                out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EvidenceItem:
        line = d.get("line")
        ids = d.get("event_ids") or ([d["id"]] if d.get("id") else [])
        value = d.get("value", d.get("excerpt"))
        return cls(
            file=_text(d.get("file") or d.get("path")),
            line=line if isinstance(line, int) else None,
            value=_text(value),
            note=_text(d.get("note")),
            event_ids=tuple(str(i) for i in ids),
            advisory=_text(d.get("advisory")),
            time=_text(d.get("time")),
        )


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Evidence:
    """The proof behind a result: typed `items`, plus the producer's own structured `details`
    (JSON-ready; a vulnerability's ranges, a firewall rule pair, an alert's counts)."""

    items: tuple[EvidenceItem, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.details, "items": [i.to_dict() for i in self.items]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Evidence:
        """Items from `items` when the producer gave them, else from the keys producers use
        (`file`/`path` + `line`, `advisory`, an alert's `events`); the rest stays in details."""
        d = dict(d or {})
        raw_items = d.pop("items", None)
        if isinstance(raw_items, list):
            items = [EvidenceItem.from_dict(i) for i in raw_items if isinstance(i, Mapping)]
        else:
            items = [EvidenceItem.from_dict(e) for e in d.get("events") or [] if isinstance(e, Mapping)]
            if not items and any(d.get(k) for k in ("file", "path", "advisory")):
                items = [EvidenceItem.from_dict(d)]
        return cls(tuple(items), d)

    @property
    def where(self) -> str:
        return next((i.where for i in self.items if i.where), "")


def _check_fields(fields: Mapping[str, Any]) -> None:
    unknown = sorted(k for k in fields if k not in FIELD_BY_NAME)
    if unknown:
        raise KeyError(f"not schema fields (add them to core/schema.py and docs/schema.md): {unknown}")


# What a finding is about, for recognising it again in the next scan of the same host: the
# same scanner, rule and subject is the same finding even when its wording or version moved.
SUBJECT_FIELDS = ("package.name", "package.type", "package.path", "file.path", "user.name", "source.ip",
                  "process.executable", "event.action")


@dataclass(frozen=True)
class Finding:
    """One scanner result (`event.kind=finding`)."""

    scanner: str  # event.module
    rule_id: str  # check id, advisory id, or the scanner's name for the kind of problem
    title: str  # the rule's own title (rule.name)
    message: str  # what is wrong and where, as one line for a person
    grade: Grade
    kind: str = "configuration"  # event.category
    evidence: Evidence = field(default_factory=Evidence)
    fix: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # further ECS fields, each in the schema
    scan_id: str | None = None
    time: datetime | None = None
    status: str | None = None  # against the previous scan of the host: new, open or fixed

    def __post_init__(self) -> None:
        _check_fields(self.fields)

    @property
    def fingerprint(self) -> str:
        subject = [self.scanner, self.rule_id] + [str(self.fields.get(k) or "") for k in SUBJECT_FIELDS]
        subject += sorted(f"{i.file}:{i.value}" for i in self.evidence.items if i.file or i.value)
        if not any(self.fields.get(k) for k in SUBJECT_FIELDS) and not self.evidence.items:
            subject.append(self.message)  # nothing else tells two results of one rule apart
        return hashlib.md5("\x1f".join(subject).encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()

    @property
    def id(self) -> str:
        return event_id(FINDING_SOURCE, 0, f"{self.scan_id or ''}\x1f{self.fingerprint}")

    def with_scan(self, scan_id: str, time: datetime, **fields: Any) -> Finding:
        return replace(self, scan_id=scan_id, time=time, fields={**fields, **self.fields})

    def to_ecs(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            **self.fields,
            "event.id": self.id,
            "event.kind": "finding",
            "event.module": self.scanner,
            "event.dataset": f"scan.{self.scanner}",
            "event.category": [self.kind],
            "event.severity": self.grade.rank,
            "hostwarden.grade": self.grade.value,
            "rule.id": self.rule_id,
            "rule.name": self.title,
            "message": self.message,
            "hostwarden.evidence": self.evidence.to_dict(),
            "hostwarden.finding.fingerprint": self.fingerprint,
            "log.file.path": FINDING_SOURCE,
            "log.offset": 0,
        }
        optional = {"hostwarden.fix": self.fix, "hostwarden.scan.id": self.scan_id, "@timestamp": self.time,
                    "hostwarden.finding.status": self.status}
        doc.update({k: v for k, v in optional.items() if v is not None})
        return doc

    @classmethod
    def from_ecs(cls, d: Mapping[str, Any]) -> Finding:
        evidence = d.get("hostwarden.evidence")
        if isinstance(evidence, str):
            evidence = json.loads(evidence or "{}")
        own = {"event.id", "event.kind", "event.module", "event.dataset", "event.category", "event.severity",
               "hostwarden.grade", "rule.id", "rule.name", "message", "hostwarden.evidence", "hostwarden.fix",
               "hostwarden.scan.id", "@timestamp", "hostwarden.finding.fingerprint", "log.file.path", "log.offset",
               "hostwarden.finding.status", "organization.id", "event.ingested"}
        category = d.get("event.category") or ["configuration"]
        return cls(
            scanner=str(d.get("event.module") or ""),
            rule_id=str(d.get("rule.id") or ""),
            title=str(d.get("rule.name") or ""),
            message=str(d.get("message") or ""),
            grade=Grade(d.get("hostwarden.grade") or Grade.from_rank(d.get("event.severity"))),
            kind=str(category[0]),
            evidence=Evidence.from_dict(evidence if isinstance(evidence, Mapping) else {}),
            fix=d.get("hostwarden.fix"),
            fields={k: v for k, v in d.items() if k not in own and v is not None and k in FIELD_BY_NAME},
            scan_id=d.get("hostwarden.scan.id"),
            time=d.get("@timestamp"),
            status=d.get("hostwarden.finding.status"),
        )


# Alert fields with a typed attribute; every other key of the record rides along in `fields`.
_ALERT_OWN = ("event.id", "rule.id", "rule.name", "message", "event.severity", "@timestamp", "hostwarden.detail",
              "host.name", "source.ip", "user.name", "threat.technique.id", "threat.tactic.name",
              "organization.id", "hostwarden.grade", "hostwarden.fix")


@dataclass(frozen=True)
class Alert:
    """One detection (`event.kind=alert`): a rule matched, with the events that prove it.

    `detail` is the alert's working document (count, first/last, evidence excerpts, follow-up);
    `trigger` names the log line that raised it in a streaming run (not stored)."""

    id: str
    rule_id: str
    rule_name: str
    message: str
    grade: Grade
    time: datetime  # first matching event
    detail: Mapping[str, Any] = field(default_factory=dict)
    host_name: str | None = None
    source_ip: str | None = None
    user_name: str | None = None
    techniques: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    tenant: str = "default"
    fields: Mapping[str, Any] = field(default_factory=dict)
    trigger: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_fields(self.fields)

    @property
    def count(self) -> int:
        return int(self.detail.get("count") or 1)

    @property
    def fix(self) -> str | None:
        return self.detail.get("fix") or None

    @property
    def evidence(self) -> Evidence:
        return Evidence.from_dict(dict(self.detail))

    @property
    def follow_up(self) -> list[Mapping[str, Any]]:
        return list(self.detail.get("follow_up") or [])

    def to_ecs(self) -> dict[str, Any]:
        doc = dict(self.fields)
        doc.update({
            "event.id": self.id, "event.kind": "alert", "rule.id": self.rule_id, "rule.name": self.rule_name,
            "message": self.message, "event.severity": self.grade.rank, "hostwarden.grade": self.grade.value,
            "@timestamp": self.time, "hostwarden.detail": json.dumps(dict(self.detail), default=str),
            "host.name": self.host_name, "source.ip": self.source_ip, "user.name": self.user_name,
            "threat.technique.id": list(self.techniques) or None, "threat.tactic.name": list(self.tactics) or None,
            "organization.id": self.tenant,
        })
        if self.fix:
            doc["hostwarden.fix"] = self.fix
        return doc

    @classmethod
    def from_ecs(cls, d: Mapping[str, Any], trigger: Mapping[str, Any] | None = None) -> Alert:
        detail = d.get("hostwarden.detail") or {}
        if isinstance(detail, str):
            detail = json.loads(detail or "{}")
        grade = d.get("hostwarden.grade")
        return cls(
            id=str(d["event.id"]),
            rule_id=str(d.get("rule.id") or ""),
            rule_name=str(d.get("rule.name") or ""),
            message=str(d.get("message") or ""),
            grade=Grade(grade) if grade else Grade.from_rank(d.get("event.severity"), Grade.L2),
            time=d["@timestamp"],
            detail=detail,
            host_name=d.get("host.name"),
            source_ip=d.get("source.ip"),
            user_name=d.get("user.name"),
            techniques=tuple(d.get("threat.technique.id") or ()),
            tactics=tuple(d.get("threat.tactic.name") or ()),
            tenant=str(d.get("organization.id") or "default"),
            fields={k: v for k, v in d.items() if k not in _ALERT_OWN and k in FIELD_BY_NAME and v is not None},
            trigger=trigger,
        )


Result = Alert | Finding


def alerts_of(results: Iterable[Result]) -> list[Alert]:
    return [r for r in results if isinstance(r, Alert)]


def findings_of(results: Iterable[Result]) -> list[Finding]:
    return [r for r in results if isinstance(r, Finding)]


@dataclass
class ScanReport:
    """One `hostwarden scan`: the host's facts, its findings (most urgent first), per-scanner
    summaries, notices, and — when an earlier scan of the same target is stored — what changed."""

    host: dict[str, Any]
    findings: list[Finding]
    summary: dict[str, Any]
    notices: list[dict[str, Any]] = field(default_factory=list)
    scan_id: str | None = None
    started: datetime | None = None
    # {"previous": scan id, "new": n, "open": n, "fixed": [Finding, …]} against the last stored scan
    comparison: dict[str, Any] | None = None

    def counts(self) -> dict[str, int]:
        return {g.value: sum(1 for f in self.findings if f.grade is g) for g in Grade}

    def worst(self) -> Grade | None:
        return min((f.grade for f in self.findings), key=lambda g: g.rank, default=None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report's shape: findings as their ECS records."""
        doc: dict[str, Any] = {
            "host": self.host,
            "findings": [f.to_ecs() for f in self.findings],
            "summary": {**self.summary, "counts": self.counts()},
            "notices": self.notices,
        }
        if self.scan_id:
            doc["scan"] = {"id": self.scan_id, "started": self.started}
        if self.comparison is not None:
            doc["comparison"] = {**self.comparison, "fixed": [f.to_ecs() for f in self.comparison.get("fixed", [])]}
        return doc


def ecs_records(results: Iterable[Result]) -> list[dict[str, Any]]:
    """Each result's ECS record, in order (JSON output, tests, the store)."""
    return [r.to_ecs() for r in results]
