"""An incident: the alerts that belong together, what they say about which entities, and its grade.

An incident is a working object while alerts arrive (it grows); `to_ecs()` is its stored row
(`event.kind=incident`, one row per incident, replaced as it grows) and `from_ecs()` reads it
back, so `incidents show` and a restarted `watch` see the incident that was written.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hostwarden.core.records import Alert, Grade

INCIDENT_SOURCE = "hostwarden:incidents"
TOP_SOURCES = 20  # in related.ip
MAX_SOURCES = 5000  # kept with their counts in the detail
MAX_ACTIVITY = 100


def _ts(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass
class AlertRef:
    """What an incident keeps of one member alert."""

    id: str
    rule_id: str
    rule_name: str
    grade: Grade
    time: datetime
    last: datetime
    count: int
    host: str | None = None
    source_ip: str | None = None
    user: str | None = None
    techniques: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    message: str = ""
    via_campaign: str | None = None  # the campaign this alert was first folded into

    @classmethod
    def of(cls, alert: Alert) -> AlertRef:
        last = alert.detail.get("last")
        return cls(alert.id, alert.rule_id, alert.rule_name, alert.grade, alert.time,
                   _ts(last) if last else alert.time, alert.count, alert.host_name, alert.source_ip,
                   alert.user_name, alert.techniques, alert.tactics, alert.message)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule_id": self.rule_id, "rule_name": self.rule_name, "grade": self.grade.value,
                "time": self.time.isoformat(), "last": self.last.isoformat(), "count": self.count, "host": self.host,
                "source_ip": self.source_ip, "user": self.user, "techniques": list(self.techniques),
                "tactics": list(self.tactics), "message": self.message, "via_campaign": self.via_campaign}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlertRef:
        return cls(d["id"], d["rule_id"], d["rule_name"], Grade(d["grade"]), _ts(d["time"]), _ts(d["last"]),
                   int(d["count"]), d.get("host"), d.get("source_ip"), d.get("user"), tuple(d.get("techniques") or ()),
                   tuple(d.get("tactics") or ()), d.get("message", ""), d.get("via_campaign"))


@dataclass
class Incident:
    id: str
    kind: str  # intrusion or campaign
    tenant: str
    opened: datetime  # wall clock: when hostwarden opened it (service levels count from here)
    first: datetime  # event time of its first alert
    last: datetime  # event time of its latest alert or activity
    campaign: str | None = None
    alerts: list[AlertRef] = field(default_factory=list)
    alert_count: int = 0  # every alert that joined, also those past max_alerts_kept
    sources: Counter[str] = field(default_factory=Counter)
    hosts: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    activity: list[dict[str, Any]] = field(default_factory=list)  # what a session did next (follow-up events)
    grade: Grade = Grade.L3
    priority: str = "P3"
    reason: str = ""
    grading_rule: str = ""
    deadline: datetime | None = None
    status: str = "open"
    regraded: list[dict[str, Any]] = field(default_factory=list)  # earlier grades, for the record

    @staticmethod
    def new_id(tenant: str, seed: str) -> str:
        return hashlib.md5(f"incident\x1f{tenant}\x1f{seed}".encode("utf-8", "surrogatepass"),
                           usedforsecurity=False).hexdigest()[:16]

    @property
    def alert_ids(self) -> set[str]:
        return {a.id for a in self.alerts}

    @property
    def worst(self) -> Grade:
        return min((a.grade for a in self.alerts), key=lambda g: g.rank, default=Grade.L3)

    @property
    def techniques(self) -> list[str]:
        return sorted({t for a in self.alerts for t in a.techniques})

    def title(self) -> str:
        host = ", ".join(sorted(self.hosts)) or "unknown host"
        if self.kind == "campaign":
            return (f"{self.campaign} on {host}: {self.alert_count} alerts from {len(self.sources)} "
                    f"source{'s' if len(self.sources) != 1 else ''}")
        lead = min(self.alerts, key=lambda a: (a.grade.rank, a.time)) if self.alerts else None
        who = " → ".join(x for x in (lead.source_ip if lead else None, lead.user if lead else None) if x)
        return f"{lead.rule_name if lead else 'incident'} on {host}" + (f" ({who})" if who else "")

    def add(self, ref: AlertRef, keep: int) -> None:
        self.alert_count += 1
        self.first = min(self.first, ref.time)
        self.last = max(self.last, ref.last)
        if ref.source_ip:
            self.sources[ref.source_ip] += ref.count
        if ref.host:
            self.hosts.add(ref.host)
        if ref.user:
            self.users.add(ref.user)
        if len(self.alerts) < keep:
            self.alerts.append(ref)
            self.alerts.sort(key=lambda a: a.time)

    def update(self, ref: AlertRef) -> bool:
        """A member alert grew (its count or last time moved): True when it was a member."""
        for i, old in enumerate(self.alerts):
            if old.id == ref.id:
                if old.source_ip:
                    self.sources[old.source_ip] += max(0, ref.count - old.count)
                ref.via_campaign = old.via_campaign
                self.alerts[i] = ref
                self.last = max(self.last, ref.last)
                return True
        return False

    def add_activity(self, events: list[dict[str, Any]], host: str | None) -> bool:
        known = {a.get("id") for a in self.activity}
        added = False
        for ev in events:
            if ev.get("id") in known or len(self.activity) >= MAX_ACTIVITY:
                continue
            self.activity.append({**ev, "host": ev.get("host") or host})
            known.add(ev.get("id"))
            added = True
        if added:
            self.activity.sort(key=lambda e: str(e.get("time")))
            times = [_ts(e["time"]) for e in self.activity if _parsable(e.get("time"))]
            if times:
                self.last = max(self.last, max(times))
        return added

    def set_grade(self, grade: Grade, priority: str, reason: str, rule: str, now: datetime, sla: timedelta) -> bool:
        if (grade, priority, reason, rule) == (self.grade, self.priority, self.reason, self.grading_rule):
            return False
        if self.grading_rule:
            self.regraded.append({"from": self.grade.value, "to": grade.value, "priority": priority,
                                  "rule": rule, "at": now.isoformat()})
        more_urgent = priority < self.priority or not self.grading_rule
        self.grade, self.priority, self.reason, self.grading_rule = grade, priority, reason, rule
        if more_urgent:
            due = now + sla
            self.deadline = due if self.deadline is None else min(self.deadline, due)
        return True

    # -- the stored row ----------------------------------------------------------------------
    def to_ecs(self) -> dict[str, Any]:
        from hostwarden.incidents.attack import tactic_rank

        tactics = sorted({t for a in self.alerts for t in a.tactics}, key=tactic_rank)
        lead = min(self.alerts, key=lambda a: (a.grade.rank, a.time)) if self.alerts else None
        detail = {
            "kind": self.kind, "campaign": self.campaign, "opened": self.opened.isoformat(),
            "first": self.first.isoformat(), "last": self.last.isoformat(), "alerts": [a.to_dict() for a in self.alerts],
            "alert_count": self.alert_count, "sources": self.sources.most_common(MAX_SOURCES),
            "source_count": len(self.sources), "hosts": sorted(self.hosts), "users": sorted(self.users),
            "activity": self.activity, "grading": {"rule": self.grading_rule, "reason": self.reason,
                                                   "priority": self.priority, "history": self.regraded},
        }
        return {
            "event.id": self.id, "event.kind": "incident", "event.module": "incidents", "event.dataset": "incidents",
            "@timestamp": self.first, "event.created": self.opened, "message": self.title(),
            "event.severity": self.grade.rank, "hostwarden.grade": self.grade.value,
            "hostwarden.incident.kind": self.kind, "hostwarden.incident.status": self.status,
            "hostwarden.incident.priority": self.priority, "hostwarden.incident.deadline": self.deadline,
            "hostwarden.incident.alerts": self.alert_count, "hostwarden.incident.reason": self.reason,
            "host.name": lead.host if lead else None, "source.ip": lead.source_ip if lead and self.kind != "campaign" else None,
            "user.name": lead.user if lead and self.kind != "campaign" else None,
            "related.ip": [ip for ip, _ in self.sources.most_common(TOP_SOURCES)] or None,
            "related.user": sorted(self.users) or None,
            "threat.technique.id": self.techniques or None, "threat.tactic.name": tactics or None,
            "organization.id": self.tenant, "log.file.path": INCIDENT_SOURCE, "log.offset": 0,
            "hostwarden.detail": json.dumps(detail, default=str),
        }

    @classmethod
    def from_ecs(cls, row: dict[str, Any]) -> Incident:
        d = row.get("hostwarden.detail") or "{}"
        detail = json.loads(d) if isinstance(d, str) else d
        grading = detail.get("grading") or {}
        inc = cls(
            id=row["event.id"], kind=detail.get("kind", "intrusion"), tenant=row.get("organization.id") or "default",
            opened=_ts(detail["opened"]), first=_ts(detail["first"]), last=_ts(detail["last"]),
            campaign=detail.get("campaign"), alerts=[AlertRef.from_dict(a) for a in detail.get("alerts", [])],
            alert_count=int(detail.get("alert_count") or 0), sources=Counter(dict(detail.get("sources") or [])),
            hosts=set(detail.get("hosts") or ()), users=set(detail.get("users") or ()),
            activity=list(detail.get("activity") or []), grade=Grade(row.get("hostwarden.grade") or "L3"),
            priority=row.get("hostwarden.incident.priority") or grading.get("priority") or "P3",
            reason=grading.get("reason", ""), grading_rule=grading.get("rule", ""),
            deadline=row.get("hostwarden.incident.deadline"), status=row.get("hostwarden.incident.status") or "open",
            regraded=list(grading.get("history") or []),
        )
        return inc


def _parsable(value: Any) -> bool:
    try:
        _ts(value)
    except (TypeError, ValueError):
        return False
    return True
