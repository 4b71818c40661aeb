"""`journalctl -o json` records: the journal's own fields, then the program's message parser."""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from hostwarden.normalize.base import LineParser, ParseContext


def _text(value: Any) -> str | None:
    """journald writes non-UTF-8 fields as arrays of byte values."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", "replace")
    return None


class JournaldParser(LineParser):
    dataset = "journald"

    def parse_line(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        if not text.startswith("{") or "__REALTIME_TIMESTAMP" not in text:
            return None
        try:
            rec = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(rec, dict) or "__REALTIME_TIMESTAMP" not in rec:
            return None
        message = _text(rec.get("MESSAGE")) or ""
        program = _text(rec.get("SYSLOG_IDENTIFIER")) or _text(rec.get("_COMM")) or ""
        ev: dict[str, Any] = {"event.kind": "event", "event.dataset": "journald", "message": message}
        with contextlib.suppress(TypeError, ValueError, OverflowError, OSError):
            ev["@timestamp"] = datetime.fromtimestamp(int(rec["__REALTIME_TIMESTAMP"]) / 1e6, UTC)
        for key, target in (("_HOSTNAME", "host.name"), ("_EXE", "process.executable"), ("_CMDLINE", "process.command_line"),
                            ("_UID", "user.id"), ("_SYSTEMD_UNIT", "systemd.unit"), ("__CURSOR", "journald.cursor")):
            value = _text(rec.get(key))
            if value:
                ev[target] = value
        if program:
            ev["process.name"] = program
        pid = _text(rec.get("_PID")) or _text(rec.get("SYSLOG_PID"))
        if pid and pid.isdigit():
            ev["process.pid"] = int(pid)
        for key, target in (("PRIORITY", "log.syslog.severity.code"), ("SYSLOG_FACILITY", "log.syslog.facility.code")):
            value = _text(rec.get(key))
            if value and value.isdigit():
                ev[target] = int(value)
        cursor = _text(rec.get("__CURSOR"))
        if cursor:
            # The cursor names the record for good; offsets in journalctl's output do not.
            ev["event.id"] = hashlib.md5(f"journald\x1f{cursor}".encode(), usedforsecurity=False).hexdigest()
        if program:
            from hostwarden.normalize.syslog import parse_message

            ev.update(parse_message(program, message))
        return ev
