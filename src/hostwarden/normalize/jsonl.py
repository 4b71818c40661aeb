"""JSON lines: ECS passthrough (flat dotted keys or nested objects), hostile input tolerated."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hostwarden.normalize.base import LineParser, ParseContext
from hostwarden.schema import FIELD_BY_NAME

MAX_DEPTH = 32
MAX_KEYS = 2000


def flatten(obj: dict[str, Any], prefix: str = "", depth: int = 0, out: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {} if out is None else out
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in FIELD_BY_NAME:
            flatten(value, name + ".", depth + 1, out)
        else:
            out[name] = value
        if len(out) > MAX_KEYS:
            raise ValueError("too many keys")
    return out


def _typed(name: str, value: Any) -> Any:
    spec = FIELD_BY_NAME.get(name)
    if value is None:
        return None
    if spec is None:
        return value if isinstance(value, str) else json.dumps(value, default=str)
    if spec.sql in ("INTEGER", "BIGINT"):
        if isinstance(value, bool):
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            return None
        return number if abs(number) < 2**31 or spec.sql == "BIGINT" and abs(number) < 2**63 else None
    if spec.sql == "TIMESTAMPTZ":
        return _time(value)
    if spec.sql.endswith("[]"):
        items = value if isinstance(value, list) else [value]
        return [i if isinstance(i, str) else json.dumps(i, default=str) for i in items]
    if spec.sql.startswith("MAP"):
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _time(value: Any) -> datetime | None:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


class JsonLinesParser(LineParser):
    dataset = "json"

    def parse_line(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        if not text.lstrip().startswith("{"):
            return None
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(obj, dict):
            return None
        try:
            flat = flatten(obj)
        except (ValueError, RecursionError):
            return None
        ev: dict[str, Any] = {}
        for name, value in flat.items():
            if name in ("event.original", "log.offset", "log.file.path", "event.ingested"):
                continue  # identity fields are ours: a record cannot claim another line's place
            typed = _typed(name, value)
            if typed is not None:
                ev[name] = typed
        ev.setdefault("event.kind", "event")
        ev.setdefault("event.dataset", "json")
        if "@timestamp" not in ev and "timestamp" in flat:
            ts = _time(flat["timestamp"])
            if ts is not None:
                ev["@timestamp"] = ts
        return ev
