"""What every response action is: targets from an alert, a plan, apply, undo.

An action never runs on its own. The `Responder` (engine.py) calls `plan` (which only reads:
it gets no runner, so a dry-run cannot change anything), checks every target and address of
the plan against the allowlist, then calls `apply` with an `ActionContext` — the runner and
file operations that carry the timeouts, the program allowlist and the no-delete rule. Actions
never call each other; they return undo data, which the responder persists and hands back to
`undo` (on command or on expiry) and to `reassert` (after a restart).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hostwarden.core.errors import RESP_IRREVERSIBLE, RESP_TARGET_INVALID, HostwardenError
from hostwarden.respond.allowlist import parse_address
from hostwarden.respond.fileops import FileOps
from hostwarden.respond.runner import Command, Result
from hostwarden.respond.settings import RespondSettings
from hostwarden.respond.util import parse_duration

MAX_TTL = 30 * 86400.0  # nft and ipset timeouts top out in weeks; a month is plenty for a block
USER_NAME = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}\$?$")


class ActionParams(BaseModel):
    """Parameters common to every action; each action extends this with its own."""

    model_config = ConfigDict(extra="forbid")
    field: str | None = Field(None, description="alert field the target is read from (default per action)")
    ttl: float | None = Field(None, description="undone automatically after this long (e.g. 1h); none: stays")

    @field_validator("ttl", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float | None:
        if v is None:
            return None
        seconds = parse_duration(v)
        if seconds > MAX_TTL:
            raise ValueError(f"{v!r} is longer than {int(MAX_TTL // 86400)} days")
        return seconds


@dataclass
class Target:
    """What an action acts on: kind (ip, pid, path, user, host, alert) and its value."""

    kind: str
    value: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "detail": self.detail}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Target:
        return cls(str(d["kind"]), str(d["value"]), dict(d.get("detail") or {}))


@dataclass
class Plan:
    """What applying would do: shown by dry-run, checked by safety, then carried out by apply."""

    action: str
    target: Target
    params: dict[str, Any]
    summary: str
    steps: list[str] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)  # every address the action acts against
    ttl: float | None = None
    reversible: bool = True
    facts: dict[str, Any] = field(default_factory=dict)  # what plan read; apply re-checks it

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target.to_dict(), "params": self.params,
                "summary": self.summary, "steps": self.steps, "commands": [c.to_dict() for c in self.commands],
                "addresses": self.addresses, "ttl": self.ttl, "reversible": self.reversible, "facts": self.facts}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        return cls(d["action"], Target.from_dict(d["target"]), dict(d.get("params") or {}), d.get("summary", ""),
                   list(d.get("steps") or []), [Command.from_dict(c) for c in d.get("commands") or []],
                   list(d.get("addresses") or []), d.get("ttl"), bool(d.get("reversible", True)),
                   dict(d.get("facts") or {}))


@dataclass
class ActionContext:
    """The capabilities `apply`, `undo` and `reassert` get: nothing else changes the host."""

    run: Callable[[Command], Result]
    files: FileOps
    settings: RespondSettings
    now: Callable[[], float]


def field_values(alert: Mapping[str, Any], name: str) -> list[Any]:
    """Values of a flat ECS field (a list field gives each element; absent gives none)."""
    value = alert.get(name)
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return [v for v in value if v is not None and v != ""]
    return [] if value == "" else [value]


class Action:
    """Base class: subclasses set the class attributes and implement plan/apply (and undo)."""

    name: ClassVar[str]
    Params: ClassVar[type[ActionParams]] = ActionParams
    target_kind: ClassVar[str]
    default_field: ClassVar[str | None] = None
    changes_host: ClassVar[bool] = True  # False: notify (the breaker and rate caps leave it alone)
    capped: ClassVar[bool] = False  # counts against rate.blocks_per_minute
    default_approval: ClassVar[str] = "auto"

    def __init__(self, settings: RespondSettings) -> None:
        self.settings = settings

    # -- targets ---------------------------------------------------------------------------
    def targets(self, alert: Mapping[str, Any], params: ActionParams) -> list[Target]:
        """The targets an alert names (deduplicated, in order); RESP-6009 when it names none."""
        name = params.field or self.default_field
        if name is None:
            raise HostwardenError(RESP_TARGET_INVALID, f"{self.name}: no `field` given")
        values = field_values(alert, name)
        if not values:
            raise HostwardenError(RESP_TARGET_INVALID, f"{self.name}: the alert has no {name}")
        out: dict[str, Target] = {}
        for v in values:
            t = self.target(v, alert, params)
            out.setdefault(t.key, t)
        return list(out.values())

    def target(self, value: Any, alert: Mapping[str, Any], params: ActionParams) -> Target:
        """One target from one field value, validated for the action's kind."""
        if self.target_kind == "ip":
            return Target("ip", str(parse_address(value)))
        if self.target_kind == "user":
            text = str(value)
            if not USER_NAME.match(text):
                raise HostwardenError(RESP_TARGET_INVALID, f"{text[:64]!r} is not a valid account name")
            return Target("user", text)
        if self.target_kind == "path":
            text = str(value)
            if "\x00" in text or not text.startswith("/"):
                raise HostwardenError(RESP_TARGET_INVALID, f"{text[:200]!r} is not an absolute path")
            return Target("path", os.path.normpath(text))
        return Target(self.target_kind, str(value))

    # -- the life cycle --------------------------------------------------------------------
    def plan(self, target: Target, params: ActionParams) -> Plan:
        raise NotImplementedError

    def apply(self, plan: Plan, ctx: ActionContext) -> dict[str, Any]:
        """Carry the plan out; returns the undo data (persisted by the responder)."""
        raise NotImplementedError

    def undo(self, plan: Plan, undo: dict[str, Any], ctx: ActionContext) -> str | None:
        """Reverse `apply` (idempotently); may return a note for the outcome (a partial restore)."""
        raise HostwardenError(RESP_IRREVERSIBLE, f"{self.name} on {plan.target.value} cannot be undone")

    def reassert(self, plan: Plan, undo: dict[str, Any], ctx: ActionContext, remaining: float | None) -> dict[str, Any]:
        """After a restart: make sure a still-active action is in force (idempotently).
        The default applies the plan again with the remaining time."""
        params = self.Params(**{**plan.params, "ttl": remaining})
        return self.apply(self.plan(plan.target, params), ctx) or undo

    def params(self, raw: Mapping[str, Any] | None) -> ActionParams:
        return self.Params(**(raw or {}))


def run_all(ctx: ActionContext, commands: list[Command]) -> list[Result]:
    return [ctx.run(c) for c in commands]
