"""One alert as one line: text for a person watching a terminal, or one JSON object per line."""

from __future__ import annotations

import json

from hostwarden.core.records import Alert
from hostwarden.report.terminal import inert


def alert_line(alert: Alert, fmt: str = "text") -> str:
    """`L1 2024-05-01T10:00:00+00:00 SSH login success after brute force (…) [rule-id]`, or JSON
    with the triggering line's location (`hostwarden.trigger`) when the alert was raised live."""
    if fmt == "json":
        return json.dumps({**alert.to_ecs(), "hostwarden.trigger": alert.trigger}, default=str)
    when = alert.time.isoformat() if hasattr(alert.time, "isoformat") else str(alert.time)
    return inert(f"{alert.grade.value} {when} {alert.message} [{alert.rule_id}]")
