"""Playbooks: YAML data that says which alerts get which response.

```yaml
id: ssh-brute-force-block          # unique
title: Block SSH brute-force sources
trigger:                           # each key given must match (any item within a key)
  rules: [6b1f4f6e-…-1003, "SSH brute force*"]   # rule.id or rule.name, globs allowed
  grades: [L1, L2]                 # hostwarden.grade, else event.severity 1..3
  tags: ["attack.t1110*"]          # alert tags (and attack.<technique id>)
conditions:                        # all must hold
  - {field: source.ip, cidr: ["0.0.0.0/0", "::/0"]}
  - {field: user.name, in: [root, admin], negate: true}
actions:
  - block_ip: {field: source.ip, ttl: 1h}
  - notify: {channel: oncall}
    approval: manual               # per action; else the playbook's, else the action's default
approval: auto                     # auto | manual
samples:                           # alerts it must / must not trigger on (checked on load)
  match: [{rule.id: …, hostwarden.grade: L2, source.ip: 203.0.113.5}]
  nomatch: [{rule.id: …, hostwarden.grade: L3, source.ip: 203.0.113.5}]
```

Loading is strict (unknown keys, wrong types, invalid regexes, CIDRs, durations and action
parameters are RESP-6002 naming the file, playbook and key) and one bad playbook does not
stop the others from loading (`load_playbooks` returns the errors beside the playbooks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hostwarden.core.errors import RESP_PLAYBOOK_INVALID, HostwardenError
from hostwarden.respond.actions import ACTION_TYPES, ActionParams
from hostwarden.respond.conditions import (
    GRADES,
    Condition,
    Globs,
    grade_of,
    parse_condition,
    tags_of,
    values_of,
)
from hostwarden.respond.settings import RespondSettings
from hostwarden.respond.yamlsafe import load_file

KEYS = {"id", "title", "description", "enabled", "trigger", "conditions", "actions", "approval", "samples"}
TRIGGER_KEYS = {"rules", "grades", "tags", "kinds"}
APPROVALS = ("auto", "manual")


@dataclass
class ActionSpec:
    name: str
    params: ActionParams
    approval: str


@dataclass
class Playbook:
    id: str
    title: str
    source: str
    rules: Globs
    grades: set[str]
    tags: Globs
    kinds: set[str]
    conditions: list[Condition]
    actions: list[ActionSpec]
    approval: str = "auto"
    description: str = ""
    enabled: bool = True
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def matches(self, alert: Mapping[str, Any]) -> bool:
        """Whether the alert triggers this playbook (trigger keys and all conditions)."""
        if not self.enabled:
            return False
        if self.kinds and str(alert.get("event.kind") or "alert") not in self.kinds:
            return False
        if self.grades and grade_of(alert) not in self.grades:
            return False
        if self.rules.patterns and not self.rules.any(values_of(alert, "rule.id") + values_of(alert, "rule.name")):
            return False
        if self.tags.patterns and not self.tags.any(tags_of(alert)):
            return False
        return all(c.holds(alert) for c in self.conditions)


def _strings(raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    raw = [raw] if isinstance(raw, str) else raw
    if not isinstance(raw, list) or not all(isinstance(x, str | int) and str(x) for x in raw):
        raise ValueError(f"{where}: a list of strings")
    return [str(x) for x in raw]


def _action(raw: Any, where: str, default_approval: str | None, settings: RespondSettings) -> ActionSpec:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: an action is a mapping like {{block_ip: {{ttl: 1h}}}}")
    names = [k for k in raw if k != "approval"]
    if len(names) != 1:
        raise ValueError(f"{where}: name exactly one action (one of {', '.join(sorted(ACTION_TYPES))})")
    name = names[0]
    kind = ACTION_TYPES.get(name)
    if kind is None:
        raise ValueError(f"{where}: unknown action {name!r} (one of {', '.join(sorted(ACTION_TYPES))})")
    # the item's own word wins; a manual playbook holds everything; an auto playbook leaves
    # actions that are manual by default (kill, quarantine, disable, isolate) manual
    approval = raw.get("approval") or ("manual" if default_approval == "manual" else kind.default_approval)
    if approval not in APPROVALS:
        raise ValueError(f"{where}.approval: auto or manual, not {approval!r}")
    params_raw = raw[name] if raw[name] is not None else {}
    if not isinstance(params_raw, dict):
        raise ValueError(f"{where}.{name}: parameters are a mapping")
    try:
        params = kind(settings).params(params_raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{where}.{name}.{key}: {first['msg']}") from None
    return ActionSpec(name, params, approval)


def parse_playbook(doc: Any, source: str, settings: RespondSettings) -> Playbook:
    """One playbook document → Playbook; RESP-6002 naming the key at fault."""
    where = source
    try:
        if not isinstance(doc, dict):
            raise ValueError("a playbook is a mapping")
        pid = doc.get("id")
        if not isinstance(pid, str) or not pid.strip():
            raise ValueError("`id` is required (a unique name)")
        where = f"{source}: playbook {pid}"
        unknown = set(doc) - KEYS
        if unknown:
            raise ValueError(f"unknown key(s) {sorted(unknown)}")
        trigger = doc.get("trigger") or {}
        if not isinstance(trigger, dict) or not trigger or set(trigger) - TRIGGER_KEYS:
            raise ValueError(f"`trigger` needs one or more of {sorted(TRIGGER_KEYS)} and nothing else")
        grades = {g.upper() for g in _strings(trigger.get("grades"), "trigger.grades")}
        if grades - set(GRADES):
            raise ValueError(f"trigger.grades: {sorted(grades - set(GRADES))} are not grades (L1, L2, L3)")
        conditions = doc.get("conditions") or []
        if not isinstance(conditions, list):
            raise ValueError("`conditions` is a list")
        approval = doc.get("approval")
        if approval is not None and approval not in APPROVALS:
            raise ValueError(f"approval: auto or manual, not {approval!r}")
        actions = doc.get("actions")
        if not isinstance(actions, list) or not actions:
            raise ValueError("`actions` is a non-empty list")
        samples = doc.get("samples") or {}
        if not isinstance(samples, dict) or set(samples) - {"match", "nomatch"} or \
                not all(isinstance(v, list) and all(isinstance(a, dict) for a in v) for v in samples.values()):
            raise ValueError("`samples` has `match` and `nomatch` lists of alerts")
        enabled = doc.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ValueError("`enabled` is true or false")
        return Playbook(
            id=pid.strip(), title=str(doc.get("title") or pid), source=source,
            rules=Globs(_strings(trigger.get("rules"), "trigger.rules")), grades=grades,
            tags=Globs(_strings(trigger.get("tags"), "trigger.tags")),
            kinds=set(_strings(trigger.get("kinds"), "trigger.kinds")),
            conditions=[parse_condition(c, f"conditions[{i}]") for i, c in enumerate(conditions)],
            actions=[_action(a, f"actions[{i}]", approval, settings) for i, a in enumerate(actions)],
            approval=approval or "auto", description=str(doc.get("description") or ""), enabled=enabled,
            samples={k: list(v) for k, v in samples.items()},
        )
    except ValueError as exc:
        raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{where}: {exc}") from None


def check_samples(pb: Playbook, settings: RespondSettings) -> None:
    """A `match` sample must trigger the playbook and give every action a valid target;
    a `nomatch` sample must not trigger it. RESP-6002 otherwise."""
    for i, alert in enumerate(pb.samples.get("match", [])):
        if not pb.matches(alert):
            raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{pb.source}: playbook {pb.id}: samples.match[{i}] "
                                  "does not trigger it")
        for spec in pb.actions:
            try:
                ACTION_TYPES[spec.name](settings).targets(alert, spec.params)
            except HostwardenError as exc:
                raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{pb.source}: playbook {pb.id}: samples.match[{i}]: "
                                      f"{spec.name}: {exc.message}") from None
    for i, alert in enumerate(pb.samples.get("nomatch", [])):
        if pb.matches(alert):
            raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{pb.source}: playbook {pb.id}: samples.nomatch[{i}] "
                                  "triggers it")


def playbook_files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in (".yml", ".yaml") and f.is_file())
        elif p.exists():
            out.append(p)
    return out


def load_playbooks(paths: Iterable[Path], settings: RespondSettings | None = None
                   ) -> tuple[list[Playbook], list[HostwardenError]]:
    """Every playbook under `paths` whose file and samples are valid, and the errors of the rest."""
    settings = settings or RespondSettings()
    books: list[Playbook] = []
    errors: list[HostwardenError] = []
    seen: dict[str, str] = {}
    for f in playbook_files(paths):
        try:
            docs = load_file(f)
        except HostwardenError as exc:
            errors.append(exc)
            continue
        for doc in docs:
            try:
                pb = parse_playbook(doc, str(f), settings)
                check_samples(pb, settings)
                if pb.id in seen:
                    raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{f}: playbook {pb.id}: id already used in {seen[pb.id]}")
            except HostwardenError as exc:
                errors.append(exc)
                continue
            seen[pb.id] = str(f)
            books.append(pb)
    return books, errors
