"""JSON lines: ECS passthrough (flat dotted keys or nested objects), hostile input tolerated.

`{"source": {"ip": "1.2.3.4"}}` and `{"source.ip": "1.2.3.4"}` both become `source.ip`; keys
without an ECS column keep their dotted name and end up in `labels` (values that are not strings
as compact JSON). A record names its own `event.dataset`, else it is `json`.

Hostile records never raise. Not JSON, not an object, numbers past Python's digit limit, nesting
past the JSON decoder's recursion limit: a `parse_failure` with the raw text. Nesting deeper than
`MAX_DEPTH` is kept as a JSON string at that depth, more than `MAX_KEYS` fields are cut (tagged
`json_truncated`), lone surrogates (`"\\ud800"`) are replaced so the record can be stored as
UTF-8, a value of the wrong type for its ECS column is dropped (the raw line still has it).
Duplicate keys: the last one wins, as in most JSON readers.

Identity fields are ours, never the record's: a line cannot claim another line's place
(`event.id`, `log.offset`, `log.file.path`, `event.original`, `event.ingested`) or another
tenant (`organization.id`).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from hostwarden.core.schema import FIELD_BY_NAME
from hostwarden.normalize.base import LineParser, ParseContext

MAX_DEPTH = 32
MAX_KEYS = 2000
RESERVED = frozenset({"event.id", "event.original", "event.ingested", "log.offset", "log.file.path", "organization.id"})
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_FRACTION = re.compile(r"(\.\d{6})\d+")


class _Flattener:
    """Nested objects to dotted keys, bounded in depth and width."""

    def __init__(self) -> None:
        self.out: dict[str, Any] = {}
        self.truncated = False

    def add(self, obj: dict[str, Any], prefix: str = "", depth: int = 0) -> None:
        for key, value in obj.items():
            if len(self.out) >= MAX_KEYS:
                self.truncated = True
                return
            name = _clean(f"{prefix}{key}")
            if isinstance(value, dict) and name not in FIELD_BY_NAME:
                if depth >= MAX_DEPTH:
                    self.out[name] = _dumps(value)
                    self.truncated = True
                else:
                    self.add(value, name + ".", depth + 1)
            else:
                self.out[name] = value


def flatten(obj: dict[str, Any]) -> dict[str, Any]:
    flat = _Flattener()
    flat.add(obj)
    return flat.out


def _clean(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def _dumps(value: Any) -> str:
    """Compact JSON for a non-string value; NaN/Infinity kept as JSON5-style words, never raising."""
    return _clean(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


def _text(value: Any) -> str:
    return _clean(value) if isinstance(value, str) else _dumps(value)


def _integer(value: Any, bits: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -(2 ** (bits - 1)) <= number < 2 ** (bits - 1) else None


def _typed(name: str, value: Any) -> Any:
    """The value converted to its ECS column's type; None when it does not fit."""
    spec = FIELD_BY_NAME.get(name)
    if value is None:
        return None
    if spec is None:
        return _text(value)
    if spec.sql == "INTEGER":
        return _integer(value, 32)
    if spec.sql == "BIGINT":
        return _integer(value, 64)
    if spec.sql == "TIMESTAMPTZ":
        return parse_time(value)
    if spec.sql.endswith("[]"):
        items = value if isinstance(value, list) else [value]
        return [_text(i) for i in items if i is not None]
    if spec.sql.startswith("MAP"):
        return {_clean(str(k)): _text(v) for k, v in value.items() if v is not None} if isinstance(value, dict) else None
    return _text(value)


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 text (any fraction length, `Z`), or epoch seconds/milliseconds as a number."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if abs(value) > 1e11 else value
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str) and len(value) <= 64:
            dt = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00"))
            return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
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
        except (ValueError, RecursionError):  # ValueError covers the int digit limit too
            return None
        if not isinstance(obj, dict):
            return None
        flat = _Flattener()
        flat.add(obj)
        ev: dict[str, Any] = {}
        for name, value in flat.out.items():
            if name in RESERVED:
                continue
            typed = _typed(name, value)
            if typed is not None:
                ev[name] = typed
        if not isinstance(ev.get("event.dataset"), str) or not ev["event.dataset"]:
            ev["event.dataset"] = "json"
        ev.setdefault("event.kind", "event")
        if "@timestamp" not in ev:
            for key in ("timestamp", "time", "ts"):
                ts = parse_time(flat.out.get(key))
                if ts is not None:
                    ev["@timestamp"] = ts
                    break
        if flat.truncated:
            ev["tags"] = sorted({*(ev.get("tags") or []), "json_truncated"})
        return ev
