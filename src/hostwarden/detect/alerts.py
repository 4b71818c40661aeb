"""Matches → alert records (`event.kind=alert`), with suppression.

An alert carries the rule (id, title, author: the Detection Rule License asks for the author),
ATT&CK technique and tactic, a severity from the rule level (critical → L1, high/medium → L2,
low/informational → L3), and in `hostwarden.detail` the ids and excerpts of the events that
triggered it. The same rule and key (a correlation's group, or a base rule's host/source/user)
within `window` seconds of the last update updates the open alert's count instead of raising a
new one, so a 10,000-line brute force is one alert with count 10,000, not 10,000 alerts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hostwarden.core.schema import DEFAULT_TENANT, event_id, now_utc
from hostwarden.detect.correlate import Match
from hostwarden.detect.ir import LEVEL_SEVERITY

ALERT_SOURCE = "hostwarden:detect"
KEY_FIELDS = ("host.name", "source.ip", "user.name")
MAX_EVIDENCE = 10
EXCERPT = 300
# What an intruder does first after getting in; an L1 login alert lists these from the same
# account (and host, when known) within FOLLOW_UP_SECONDS, so the responder sees the session.
FOLLOW_UP_ACTIONS = ("sudo_command", "user_created", "user_changed", "user_deleted", "password_changed",
                     "group_created", "group_changed", "crontab_edit", "crontab_replaced", "crontab_deleted",
                     "su_session", "executed")
FOLLOW_UP_SECONDS = 3600
FOLLOW_UP_MAX = 20


def follow_up_entry(event_id: Any, when: Any, action: Any, original: str | None) -> dict[str, Any]:
    """One entry of an L1 alert's `follow_up`, made the same whether the streaming book gathered
    the event as it arrived or batch detection queried it from the store (detect.batch): times
    in UTC, whatever zone a store connection hands them back in. Both take the events of
    FOLLOW_UP_ACTIONS by the alert's account (name, effective or target) on its host within
    FOLLOW_UP_SECONDS of its first time, in stream order (time, file, offset), FOLLOW_UP_MAX at
    most; tests/unit/detect/test_executors_agree.py holds them to the same lists."""
    if isinstance(when, datetime):
        when = when.astimezone(UTC)
    return {"id": event_id, "time": str(when), "action": action, "excerpt": (original or "")[:EXCERPT]}


@dataclass
class _Open:
    alert: dict[str, Any]
    detail: dict[str, Any]
    last: float
    ids: list[str] = field(default_factory=list)

    def serialized(self) -> str:
        """The detail as JSON, its `last` brought up to date first (an update only moves the
        float: formatting a time on every match of a long brute force is wasted work)."""
        self.detail["last"] = _ts(self.last).isoformat()
        return json.dumps(self.detail, default=str)


def _ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class AlertBook:
    """Open alerts by (rule, key); `record` raises or updates one and returns it."""

    def __init__(self, window: float = 3600.0, tenant: str = DEFAULT_TENANT, *, eager: bool = True,
                 streaming: bool = False) -> None:
        self.window = window
        self.tenant = tenant
        # eager: keep each alert's JSON detail current on every update (streaming shows it at
        # once); batch mode turns this off and serializes once in `finalize`.
        self.eager = eager
        # streaming (`watch`): no history is kept; new alerts wait in `new` and updated ones in
        # `dirty` until the caller drains them, and `prune` forgets alerts past suppression.
        self.streaming = streaming
        self.open: dict[tuple[str, tuple[Any, ...]], _Open] = {}
        self.all: list[dict[str, Any]] = []
        self._details: list[_Open] = []
        self.new: list[dict[str, Any]] = []
        self.dirty: dict[tuple[str, tuple[Any, ...]], _Open] = {}
        self.raised = 0  # alerts raised (not updates), counted for `status`
        self._attack: dict[int, tuple[list[str], list[str], Any]] = {}  # by rule object (kept alive here)

    def finalize(self) -> list[dict[str, Any]]:
        """Every alert with its detail serialized (needed after updates with eager=False)."""
        for current in self._details:
            current.alert["hostwarden.detail"] = current.serialized()
        return self.all

    def _key(self, m: Match) -> tuple[Any, ...]:
        if m.key is not None:  # worked out once per correlation group
            return m.key
        if m.group:
            return tuple(sorted((k, str(v)) for k, v in m.group.items()))
        return tuple((k, str(m.event.get(k))) for k in KEY_FIELDS if m.event.get(k) is not None)

    def record_run(self, m: Match, count: int, last: float) -> dict[str, Any]:
        """Open the alert of a whole suppression run at once (batch): `m` is its first match
        or firing, carrying in `events` the run's evidence; `count` and `last` are the run's
        totals. Equal to recording the run's items one by one, which batch detection computes
        per column (`detect.bulkcorrelate`) instead of per item."""
        alert = self.record(m)
        current = self.open[(m.rule.id, self._key(m))]
        current.last = last
        current.detail["count"] = count
        return alert

    def bump(self, rule_id: str, key: tuple[Any, ...], time: float, count: int) -> dict[str, Any] | None:
        """What `record` does with a firing that only updates an open alert whose evidence is
        already full — without the firing (streaming: a long brute force fires on every line).
        None when `record` has more to do (no open alert, past suppression, evidence to add)."""
        book_key = (rule_id, key)
        current = self.open.get(book_key)
        if current is None or time - current.last > self.window or len(current.detail["events"]) < MAX_EVIDENCE:
            return None
        return self._update(book_key, current, time, count)

    def record(self, m: Match) -> dict[str, Any]:
        key = (m.rule.id, self._key(m))
        current = self.open.get(key)
        if current is not None and m.time - current.last <= self.window:
            if len(current.detail["events"]) < MAX_EVIDENCE:  # full evidence: skip gathering
                self._evidence(current, m.evidence())
            return self._update(key, current, m.time, m.count)
        alert, detail = self._new(m, key)
        current = _Open(alert, detail, m.time)
        self._evidence(current, m.evidence())
        if self.eager or self.streaming:  # otherwise `finalize` serializes it, once
            alert["hostwarden.detail"] = json.dumps(detail, default=str)
        self.open[key] = current
        self.raised += 1
        if self.streaming:
            self.new.append(alert)
            self.dirty.pop(key, None)
        else:
            self._details.append(current)
            self.all.append(alert)
        return alert

    def _update(self, key: tuple[str, tuple[Any, ...]], current: _Open, time: float, count: int) -> dict[str, Any]:
        """An open alert matched again within suppression: its count and last time move."""
        current.last = time
        current.detail["count"] += count
        if self.eager:
            current.alert["hostwarden.detail"] = current.serialized()
        if self.streaming:
            self.dirty[key] = current
        return current.alert

    # -- streaming -------------------------------------------------------------------------
    def drain_new(self) -> list[dict[str, Any]]:
        """Alerts raised since the last call (streaming), each with its detail serialized."""
        out, self.new = self.new, []
        return out

    def drain_dirty(self) -> list[dict[str, Any]]:
        """Open alerts updated since the last call, with their detail re-serialized (to update
        the stored copy: the count and evidence grow while an alert stays open)."""
        out = []
        for current in self.dirty.values():
            current.alert["hostwarden.detail"] = current.serialized()
            out.append(current.alert)
        self.dirty.clear()
        return out

    def prune(self, now: float) -> int:
        """Forget open alerts not updated within the suppression window before `now` (event
        time): a later match raises a new alert anyway. Returns how many were forgotten."""
        stale = [k for k, c in self.open.items() if now - c.last > self.window]
        for k in stale:
            del self.open[k]
            self.dirty.pop(k, None)
        return len(stale)

    def snapshot(self) -> list[dict[str, Any]]:
        """Open alerts as JSON-ready data (what suppression needs to survive a restart)."""
        return self.capture()()

    def capture(self) -> Callable[[], list[dict[str, Any]]]:
        """The open alerts as they are now; the returned function makes them `snapshot` data
        later (on another thread). Details are taken as JSON text: one C call each, and a copy
        the alerts' later updates cannot reach."""
        taken = []
        for k, c in self.open.items():
            c.detail["last"] = _ts(c.last).isoformat()
            taken.append((k, dict(c.alert), json.dumps(c.detail, default=str), c.last, list(c.ids)))
        return lambda: [{"rule": k[0], "key": [list(p) for p in k[1]], "alert": alert, "detail": json.loads(detail),
                         "last": last, "ids": ids} for k, alert, detail, last, ids in taken]

    def restore(self, saved: list[dict[str, Any]], keep_rules: set[str] | None = None) -> None:
        """Reopen alerts saved by `snapshot` (only those of `keep_rules`, when given)."""
        for item in saved:
            if keep_rules is not None and item["rule"] not in keep_rules:
                continue
            alert = dict(item["alert"])
            for name in ("@timestamp", "event.created"):
                if isinstance(alert.get(name), str):
                    alert[name] = datetime.fromisoformat(alert[name])
            key = (item["rule"], tuple(tuple(p) for p in item["key"]))
            self.open[key] = _Open(alert, item["detail"], float(item["last"]), list(item.get("ids") or []))

    def follow_up(self, event: dict[str, Any], time: float) -> None:
        """Streaming: add an event to the `follow_up` of open L1 alerts of the same account/host."""
        if event.get("event.action") not in FOLLOW_UP_ACTIONS:
            return
        users = {event.get(k) for k in ("user.name", "user.effective.name", "user.target.name")} - {None}
        for book_key, current in self.open.items():
            alert = current.alert
            if alert.get("event.severity") != 1 or alert.get("user.name") not in users:
                continue
            if alert.get("host.name") and event.get("host.name") != alert["host.name"]:
                continue
            started = datetime.fromisoformat(current.detail["first"]).timestamp()
            follow = current.detail.setdefault("follow_up", [])
            if started <= time <= started + FOLLOW_UP_SECONDS and len(follow) < FOLLOW_UP_MAX:
                follow.append(follow_up_entry(event.get("event.id"), event.get("@timestamp"), event.get("event.action"),
                                              event.get("event.original")))
                alert["hostwarden.detail"] = current.serialized()
                if self.streaming:  # the stored detail and the alert path's sinks follow it
                    self.dirty[book_key] = current

    def _evidence(self, current: _Open, events: list[dict[str, Any]]) -> None:
        for ev in events:
            if len(current.detail["events"]) >= MAX_EVIDENCE:
                return
            ev_id = ev.get("event.id")
            if ev_id in current.ids:
                continue
            current.ids.append(ev_id)
            item = {"id": ev_id, "time": str(ev.get("@timestamp")), "excerpt": (ev.get("event.original") or "")[:EXCERPT]}
            if ev.get("log.file.path"):  # where to look: the responder opens the log, not the store
                item["file"] = ev["log.file.path"]
            current.detail["events"].append(item)

    def _new(self, m: Match, key: tuple[str, tuple[Any, ...]]) -> tuple[dict[str, Any], dict[str, Any]]:
        rule = m.rule
        attack = self._attack.get(id(rule))
        if attack is None:  # parsed from the tags once per rule, not once per alert
            attack = self._attack[id(rule)] = (rule.techniques, rule.tactics, rule)
        severity = LEVEL_SEVERITY.get(rule.level, 2)
        first = _ts(m.time)
        key_text = ", ".join(f"{k}={v}" for k, v in key[1])
        detail: dict[str, Any] = {
            "count": m.count,
            "first": first.isoformat(),
            "last": first.isoformat(),
            "key": dict(key[1]),
            "level": rule.level,
            "author": rule.author,
            "falsepositives": list(rule.falsepositives),
            "rule_source": rule.source,
            "fix": rule.fix,
            "events": [],
        }
        values = {**m.group, **{k: m.event.get(k) for k in KEY_FIELDS if m.event.get(k) is not None}}
        alert: dict[str, Any] = {
            "@timestamp": first,
            "event.id": event_id(ALERT_SOURCE, 0, f"{rule.id}\x1f{key_text}\x1f{first.isoformat()}"),
            "event.kind": "alert",
            "event.module": "detect",
            "event.dataset": "detect",
            "event.category": ["intrusion_detection"],
            "event.type": ["indicator"],
            "event.severity": severity,
            "event.created": now_utc(),
            "message": f"{rule.title}" + (f" ({key_text})" if key_text else ""),
            "organization.id": self.tenant,
            "log.file.path": ALERT_SOURCE,
            "rule.id": rule.id,
            "rule.name": rule.title,
            "rule.author": rule.author or None,
            "threat.technique.id": list(attack[0]) or None,
            "threat.tactic.name": list(attack[1]) or None,
            "host.name": values.get("host.name"),
            "source.ip": values.get("source.ip"),
            "user.name": values.get("user.name"),
            "related.ip": [values["source.ip"]] if values.get("source.ip") else None,
            "related.user": [values["user.name"]] if values.get("user.name") else None,
        }
        return alert, detail
