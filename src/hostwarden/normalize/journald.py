"""`journalctl -o json` records: the journal's own fields, then the program's message parser.

journald already split the syslog framing into fields, so this maps them to ECS and hands
MESSAGE to the same per-program patterns the syslog path uses (`syslog.parse_message`): an sshd
failure reads the same from /var/log/auth.log and from the journal. The record's cursor is its
identity: `event.id` hashes it, so re-sent records never double.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from hostwarden.normalize.base import LineParser, ParseContext, RawLine
from hostwarden.normalize.sessions import carry_events
from hostwarden.normalize.state import ParseState

LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

# journald field → ECS field, for plain string values.
_STRING_FIELDS: tuple[tuple[str, str], ...] = (
    ("_HOSTNAME", "host.name"),
    ("_MACHINE_ID", "host.id"),
    ("_EXE", "process.executable"),
    ("_CMDLINE", "process.command_line"),
    ("_UID", "user.id"),
    ("_GID", "group.id"),
    ("_SYSTEMD_UNIT", "systemd.unit"),
    ("_TRANSPORT", "journald.transport"),
    ("__CURSOR", "journald.cursor"),
)


def _text(value: Any) -> tuple[str | None, bool]:
    """A field's text and whether it had to be repaired.

    journald writes non-UTF-8 values as arrays of byte values, and a field set several times in
    one record as an array of values (the first one is taken).
    """
    if isinstance(value, str):
        return value, False
    if isinstance(value, list) and value:
        if all(isinstance(b, int) and 0 <= b < 256 for b in value):
            raw = bytes(value)
            try:
                return raw.decode("utf-8"), False
            except UnicodeDecodeError:
                return raw.decode("utf-8", "replace"), True
        if isinstance(value[0], (str, list)):
            return _text(value[0])
    return None, False


def _str(rec: dict[str, Any], key: str) -> str | None:
    return _text(rec.get(key))[0]


def _timestamp(rec: dict[str, Any]) -> datetime | None:
    # The sender's own time when it gave one, else when journald received the record.
    for key in ("_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP"):
        value = _str(rec, key)
        if value and value.isdigit():
            with contextlib.suppress(ValueError, OverflowError, OSError):
                return datetime.fromtimestamp(int(value) / 1e6, UTC)
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
        message, repaired = _text(rec.get("MESSAGE"))
        message = message or ""
        program = _str(rec, "SYSLOG_IDENTIFIER") or _str(rec, "_COMM") or (
            "kernel" if _str(rec, "_TRANSPORT") == "kernel" else "")
        ev: dict[str, Any] = {"event.kind": "event", "event.dataset": "journald", "message": message}
        if repaired:
            ev["tags"] = ["invalid_utf8"]
        ts = _timestamp(rec)
        if ts is not None:
            ev["@timestamp"] = ts
        for key, target in _STRING_FIELDS:
            value = _str(rec, key)
            if value:
                ev[target] = value
        if program:
            ev["process.name"] = program
        pid = _str(rec, "_PID") or _str(rec, "SYSLOG_PID")
        if pid and pid.isdigit():
            ev["process.pid"] = int(pid)
        self._priority(rec, ev)
        cursor = _str(rec, "__CURSOR")
        if cursor:
            # The cursor names the record for good; offsets in journalctl's output do not.
            ev["event.id"] = hashlib.md5(f"journald\x1f{cursor}".encode(), usedforsecurity=False).hexdigest()
        if program and message:
            ev.update(_program_fields(program, message))
        return ev

    def parse_batch(self, lines: list[RawLine], ctx: ParseContext, state: ParseState | None = None) -> list[dict[str, Any]]:
        """sshd's records carry what their session's earlier records said, as syslog lines do
        (normalize.sessions): the client address, and one count per authentication attempt."""
        events = super().parse_batch(lines, ctx)
        carry_events(events, state if state is not None else ParseState())
        return events

    @staticmethod
    def _priority(rec: dict[str, Any], ev: dict[str, Any]) -> None:
        severity, facility = _str(rec, "PRIORITY"), _str(rec, "SYSLOG_FACILITY")
        if severity and severity.isdigit() and int(severity) < len(LEVELS):
            ev["log.syslog.severity.code"] = int(severity)
            ev["log.level"] = LEVELS[int(severity)]
        if facility and facility.isdigit() and int(facility) < 24:
            ev["log.syslog.facility.code"] = int(facility)
            if "log.syslog.severity.code" in ev:
                ev["log.syslog.priority"] = int(facility) * 8 + ev["log.syslog.severity.code"]


def _program_fields(program: str, message: str) -> dict[str, Any]:
    """ECS fields the program's patterns find in MESSAGE ({} when none knows it)."""
    try:
        from hostwarden.normalize.syslog import parse_message
    except ImportError:
        return {}
    return parse_message(program, message)
