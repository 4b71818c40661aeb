"""What happened to one action: the value `handle`, `approve`, `undo` and `dry_run` return."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any


@dataclass
class Outcome:
    id: str  # the action id in the state ("" when nothing was recorded)
    playbook: str
    action: str
    target: str  # kind:value
    status: str  # submitted|applied|refreshed|active|pending|refused|failed|skipped|dry_run|undone|expired|rejected
    code: str | None = None  # RESP-… when refused, failed, capped or suspended
    message: str = ""
    plan: dict[str, Any] | None = None
    seconds: float | None = None
    future: Future[Outcome] | None = dataclasses.field(default=None, repr=False, compare=False)

    def but(self, **changes: Any) -> Outcome:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("future")
        return {k: v for k, v in d.items() if v not in (None, "")}


def public_undo(action: str, undo: dict[str, Any] | None) -> dict[str, Any] | None:
    """Undo data as the audit log may show it: password hashes are masked (the state file,
    readable by root only, keeps them for the undo)."""
    if not undo or action != "disable_user":
        return undo
    masked = dict(undo)
    for key in ("before", "after"):
        fields = str(undo.get(key, "")).split(":")
        if len(fields) > 1:
            fields[1] = "<hash>" if fields[1] not in ("", "*", "!", "!!") else fields[1]
        masked[key] = ":".join(fields)
    return masked
