"""Alerts → incidents: join by shared entities within a window, fold background noise into
campaigns, link a login to what its session did next, and grade by the policy.

Entities are keyed so that sharing one means the same actor or object: a source address (across
hosts: one attacker), an account *on a host* (root on two hosts is not one person), a process or
a file on a host, and a log event two alerts both cite. A host alone is not a key: two unrelated
attacks on one server stay apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from hostwarden.core.records import Alert, Grade
from hostwarden.incidents.model import AlertRef, Incident
from hostwarden.incidents.policy import IncidentPolicy

# Fields of a correlation's group key (the alert's `detail.key`) that name an entity.
PER_SOURCE_KEPT = 20  # campaign alerts remembered per source, for a later intrusion to take along
_KEY_ENTITIES = {"process.pid": "proc", "process.executable": "exe", "file.path": "file", "user.name": "user",
                 "user.target.name": "user", "source.ip": "ip"}


def entity_keys(alert: Alert) -> set[str]:
    host = alert.host_name or "-"
    keys = set()
    if alert.source_ip:
        keys.add(f"ip:{alert.source_ip}")
    if alert.user_name:
        keys.add(f"user:{host}/{alert.user_name}")
    for name, kind in _KEY_ENTITIES.items():
        value = (alert.detail.get("key") or {}).get(name) or alert.fields.get(name)
        if value:
            keys.add(f"ip:{value}" if kind == "ip" else f"{kind}:{host}/{value}")
    for ev in alert.follow_up:  # accounts the session created or switched to are the intruder's too
        for name in ("user.target.name", "user.effective.name"):
            if ev.get(name):
                keys.add(f"user:{host}/{ev[name]}")
    # Two alerts that cite the same log event are about the same thing (the login alert's
    # follow-up names the useradd line that the new-account alert fired on).
    for ev in [*(alert.detail.get("events") or []), *alert.follow_up]:
        if isinstance(ev, dict) and ev.get("id"):
            keys.add(f"event:{ev['id']}")
    return keys


class IncidentBook:
    """The open incidents of one tenant; `add(alerts)` returns the incidents they changed."""

    def __init__(self, policy: IncidentPolicy, tenant: str = "default", clock: Any = None) -> None:
        self.policy = policy
        self.tenant = tenant
        self.clock = clock or (lambda: datetime.now(UTC))
        self.incidents: dict[str, Incident] = {}
        self._by_entity: dict[str, str] = {}  # entity key → intrusion incident id
        self._campaigns: dict[tuple[str, str], str] = {}  # (campaign, host) → incident id
        # source address → its latest campaign alerts (an incident keeps at most max_alerts_kept,
        # so the brute force that comes before a login must be found here, not in the campaign)
        self._campaign_refs: dict[str, list[AlertRef]] = {}
        self._home: dict[str, set[str]] = {}  # alert id → incidents holding it

    # -- feeding -------------------------------------------------------------------------------
    def add(self, alerts: Iterable[Alert]) -> list[Incident]:
        changed: dict[str, Incident] = {}
        for alert in sorted(alerts, key=lambda a: a.time):
            for inc in self._add(alert):
                changed[inc.id] = inc
        for inc in changed.values():
            self.grade(inc)
        return list(changed.values())

    def update(self, alerts: Iterable[Alert]) -> list[Incident]:
        """Alerts that grew (count, follow-up activity) update the incidents holding them."""
        changed = {}
        for alert in alerts:
            for inc_id in self._home.get(alert.id, ()):
                inc = self.incidents[inc_id]
                inc.update(AlertRef.of(alert))
                inc.add_activity(_actions(alert), alert.host_name)
                self._index(inc, entity_keys(alert))
                changed[inc.id] = inc
        for inc in changed.values():
            self.grade(inc)
        return list(changed.values())

    def _add(self, alert: Alert) -> list[Incident]:
        if alert.id in self._home:
            return self.update([alert])
        keys = entity_keys(alert)
        ref = AlertRef.of(alert)
        joined = self._joinable(keys, alert.time)
        if joined:
            inc = self._merge(joined)
            self._join(inc, ref, alert, keys)
            return [inc]
        campaign = self.policy.campaign_for(alert)
        if campaign is not None:
            return [self._fold(campaign.name, ref, alert)]
        inc = self._open("intrusion", alert)
        self._join(inc, ref, alert, keys)
        self._pull_campaign_members(inc, alert)
        return [inc]

    def _joinable(self, keys: set[str], time: datetime) -> list[Incident]:
        found = {self._by_entity[k] for k in keys if k in self._by_entity}
        window = self.policy.window
        return sorted((i for i in (self.incidents[f] for f in found) if i.status == "open" and time - i.last <= window),
                      key=lambda i: i.opened)

    def _merge(self, incidents: list[Incident]) -> Incident:
        """One alert links several incidents: they are one story; the oldest keeps its id."""
        keep, *others = incidents
        for other in others:
            for ref in other.alerts:
                if ref.id not in keep.alert_ids:
                    keep.add(ref, self.policy.max_alerts_kept)
                    self._home.setdefault(ref.id, set()).add(keep.id)
                self._home.get(ref.id, set()).discard(other.id)
            keep.add_activity(other.activity, None)
            for key, inc_id in list(self._by_entity.items()):
                if inc_id == other.id:
                    self._by_entity[key] = keep.id
            other.status = f"merged into {keep.id}"
        return keep

    def _open(self, kind: str, alert: Alert, campaign: str | None = None) -> Incident:
        seed = f"{kind}\x1f{campaign or ''}\x1f{alert.host_name or ''}\x1f{alert.id}"
        inc = Incident(id=Incident.new_id(self.tenant, seed), kind=kind, tenant=self.tenant, opened=self.clock(),
                       first=alert.time, last=alert.time, campaign=campaign)
        self.incidents[inc.id] = inc
        return inc

    def _join(self, inc: Incident, ref: AlertRef, alert: Alert, keys: set[str]) -> None:
        inc.add(ref, self.policy.max_alerts_kept)
        inc.add_activity(_actions(alert), alert.host_name)
        self._home.setdefault(alert.id, set()).add(inc.id)
        self._index(inc, keys)

    def _index(self, inc: Incident, keys: set[str]) -> None:
        for key in keys:
            self._by_entity.setdefault(key, inc.id)

    def _fold(self, campaign: str, ref: AlertRef, alert: Alert) -> Incident:
        host = alert.host_name or "-"
        inc_id = self._campaigns.get((campaign, host))
        inc = self.incidents.get(inc_id) if inc_id else None
        if inc is None or inc.status != "open" or alert.time - inc.last > self.policy.window:
            inc = self._open("campaign", alert, campaign)
            self._campaigns[(campaign, host)] = inc.id
        ref.via_campaign = inc.id
        inc.add(ref, self.policy.max_alerts_kept)
        self._home.setdefault(alert.id, set()).add(inc.id)
        if alert.source_ip:
            self._remember(alert.source_ip, ref)
        return inc

    def _remember(self, ip: str, ref: AlertRef) -> None:
        refs = self._campaign_refs.setdefault(ip, [])
        refs.append(ref)
        del refs[:-PER_SOURCE_KEPT]

    def _pull_campaign_members(self, inc: Incident, alert: Alert) -> None:
        """An intrusion from a campaign's source takes that source's campaign alerts along (the
        brute force before the login), within the window; the campaign keeps counting them."""
        if not alert.source_ip:
            return
        for ref in self._campaign_refs.get(alert.source_ip, ()):
            if abs(alert.time - ref.last) <= self.policy.window and ref.id not in inc.alert_ids:
                inc.add(ref, self.policy.max_alerts_kept)
                self._home.setdefault(ref.id, set()).add(inc.id)

    # -- grading -------------------------------------------------------------------------------
    def grade(self, inc: Incident) -> bool:
        for rule in self.policy.grading:
            evidence = _holds(rule.when, inc)
            if evidence is None:
                continue
            grade, priority = Grade(rule.grade), rule.priority
            if inc.kind != "campaign" and inc.worst.rank < grade.rank:  # never below its worst alert
                grade = inc.worst
                priority = min(priority, "P0" if grade is Grade.L1 else "P2")
            reason = f"{rule.reason} — {evidence}"
            return inc.set_grade(grade, priority, reason, rule.id, self.clock(), self.policy.service_levels[priority])
        return False

    # -- restart -------------------------------------------------------------------------------
    def restore(self, incidents: Iterable[Incident]) -> None:
        """Reopen stored incidents (a restarted `watch` goes on adding to them)."""
        for inc in incidents:
            if inc.status != "open":
                continue
            self.incidents[inc.id] = inc
            for ref in inc.alerts:
                self._home.setdefault(ref.id, set()).add(inc.id)
                if inc.kind == "campaign":
                    if ref.source_ip:
                        self._remember(ref.source_ip, ref)
                else:
                    host = ref.host or "-"
                    keys = {f"ip:{ref.source_ip}"} if ref.source_ip else set()
                    if ref.user:
                        keys.add(f"user:{host}/{ref.user}")
                    self._index(inc, keys)
            if inc.kind == "campaign" and inc.campaign:
                for host in inc.hosts or {"-"}:
                    self._campaigns[(inc.campaign, host)] = inc.id


def _actions(alert: Alert) -> list[dict[str, Any]]:
    """An alert's follow-up events, each with the account whose session did it."""
    return [{**ev, "user": ev.get("user") or alert.user_name} for ev in alert.follow_up if isinstance(ev, dict)]


def _holds(when: Any, inc: Incident) -> str | None:
    """Why `when` holds for the incident (the alert and value that make it hold), or None."""
    if when.kind and when.kind != inc.kind:
        return None
    if when.min_alerts and inc.alert_count < when.min_alerts:
        return None
    reasons = []
    if when.rules:
        hit = next((a for a in inc.alerts if a.rule_id in when.rules), None)
        if hit is None:
            return None
        reasons.append(_cite(hit))
    if when.min_grade:
        floor = Grade(when.min_grade)
        hit = next((a for a in sorted(inc.alerts, key=lambda a: a.grade.rank) if a.grade.at_least(floor)), None)
        if hit is None:
            return None
        reasons.append(_cite(hit))
    if when.tactics:
        wanted = {t.replace("_", "-") for t in when.tactics}
        hit = next((a for a in inc.alerts if wanted & {t.replace("_", "-").lower() for t in a.tactics}), None)
        if hit is None:
            return None
        reasons.append(_cite(hit))
    if when.min_alerts:
        reasons.append(f"{inc.alert_count} alerts ≥ {when.min_alerts}")
    if inc.kind == "campaign":
        reasons.append(f"{inc.alert_count} alerts from {len(inc.sources)} sources")
    return "; ".join(dict.fromkeys(reasons)) or "default"


def _cite(a: AlertRef) -> str:
    count = f", {a.count} matching events" if a.count > 1 else ""
    return f"{a.grade.value} alert '{a.rule_name}' ({a.rule_id}) at {a.time.isoformat()}{count}"
