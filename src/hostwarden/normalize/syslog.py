"""Syslog framing (RFC 3164 with and without year, RFC 5424, rsyslog ISO) and program dispatch.

The framing regexes and the program→family table are module constants because the bulk
path (normalize/bulk.py) compiles exactly these into DuckDB; the per-line parser here is
the reference the bulk path is tested against.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from hostwarden.normalize.base import LineParser, ParseContext, RawLine
from hostwarden.normalize.localtime import to_utc
from hostwarden.normalize.patterns import PatternSet
from hostwarden.normalize.sessions import carry_events
from hostwarden.normalize.state import ParseState

_MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
_TS3164 = (
    r"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(?P<day>\d{1,2})(?: (?P<y1>\d{4}))?"
    r" (?P<hms>\d{1,2}:\d\d:\d\d)(?:\.(?P<frac>\d{1,9}))?(?: (?P<y2>\d{4}))?"
)
_ISO = r"(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)"
_TAG = r"(?P<prog>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?:"
# Prefixes some systems insert before the message: Solaris message ids, kernel time stamps.
_SOLARIS = r"(?: ?\[ID \d+ [^\]]*\]| ?kernel: ?\[ *\d+\.\d+\]:?)?"


@dataclass(frozen=True)
class Framing:
    name: str
    regex: str  # anchored; the whole match is the header, the rest of the line is the message

    @property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.regex, re.ASCII)  # as RE2 reads \d and \s


# Order matters: the first framing that matches wins (same in both executors).
FRAMINGS: tuple[Framing, ...] = (
    Framing(
        "rfc5424",
        r"^<(?P<pri>\d{1,3})>1 " + _ISO + r" (?P<host>\S+) (?P<prog>\S+) (?P<pid>\S+) \S+ "
        r"(?:-|(?:\[(?:[^\]\"]|\"(?:[^\"\\]|\\.)*\")*\])+) ?",
    ),
    # The common case first: a host is present. Equivalent to `rfc3164` whenever it matches (the
    # host cannot contain ':' so it can never be a tag), and much cheaper for RE2 to extract.
    Framing(
        "rfc3164_host",
        r"^(?:<(?P<pri>\d{1,3})>)?" + _TS3164 + r" (?P<host>[^\s\[\]:]+) " + _TAG + r" ?" + _SOLARIS + " ?",
    ),
    Framing("iso", r"^(?:<(?P<pri>\d{1,3})>)?" + _ISO + r" (?P<host>[^\s\[\]:]+) " + _TAG + r" ?" + _SOLARIS + " ?"),
    Framing(
        "rfc3164",
        r"^(?:<(?P<pri>\d{1,3})>)?" + _TS3164 + r" (?:(?P<host>[^\s\[\]]+) )??" + _TAG + r" ?" + _SOLARIS + " ?",
    ),
    Framing("rfc3164_bracket", r"^(?:<(?P<pri>\d{1,3})>)?" + _TS3164 + r" \[(?P<prog>[^\]\s]+)\]:? ?"),
    Framing("rfc3164_notag", r"^(?:<(?P<pri>\d{1,3})>)?" + _TS3164 + r" (?P<host>\S+) ?"),
    Framing("bare", r"^(?P<host>[^\s\[\]:]+) (?P<prog>[^\s\[\]:]+)\[(?P<pid>\d+)\]: ?" + _SOLARIS + " ?"),
)

# Bulk-only shortcut for the common `Mon DD HH:MM:SS host prog[pid]: msg` line: where it matches
# and the message does not begin with what the full framings would also strip, it yields exactly
# what `rfc3164_host` yields (a host cannot contain ':', so it is never a tag) but RE2 extracts it
# several times faster. The bulk/per-line agreement tests hold it to that.
FAST_3164 = (
    r"^(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(?P<day>[0-9]{1,2}) "
    r"(?P<hms>[0-9]{1,2}:[0-9][0-9]:[0-9][0-9]) (?P<host>[^\s\[\]:]+) (?P<prog>[^\s\[\]:]+)(?:\[(?P<pid>[0-9]+)\])?: "
)
FAST_3164_UNSAFE = FAST_3164 + r"(?: |\[ID \d+ [^\]]*\]|kernel: ?\[ *\d+\.\d+\])"

# Program name → module of normalize/ that holds its patterns. Generic PAM runs after any.
FAMILY_MODULES: tuple[str, ...] = ("sshd", "sudo", "su", "accounts", "cron", "logind")
GENERIC_MODULES: tuple[str, ...] = ("pam",)


def _load(name: str) -> tuple[tuple[str, ...], PatternSet] | None:
    module = importlib.import_module(f"hostwarden.normalize.{name}")  # a broken pattern module must fail loudly
    return tuple(p.lower() for p in module.PROGRAMS) if hasattr(module, "PROGRAMS") else (), module.PATTERNS


def _families() -> tuple[dict[str, PatternSet], list[PatternSet]]:
    by_program: dict[str, PatternSet] = {}
    for name in FAMILY_MODULES:
        loaded = _load(name)
        if loaded:
            for program in loaded[0]:
                by_program[program] = loaded[1]
    generic = [loaded[1] for name in GENERIC_MODULES if (loaded := _load(name))]
    return by_program, generic


PROGRAM_PATTERNS, GENERIC_PATTERNS = _families()


@lru_cache(maxsize=1024)
def program_key(prog: str | None) -> str:
    """`sshd(pam_unix)` → `sshd`; `CRON` → `cron`. Same rule as the SQL in bulk.py. Cached: a
    log has a handful of programs."""
    if not prog:
        return ""
    return re.sub(r"\(.*\)$", "", prog).lower()


def parse_message(program: str, message: str) -> dict[str, Any]:
    """ECS fields for one program's message, or {} if no pattern knows it."""
    key = program_key(program)
    family = PROGRAM_PATTERNS.get(key)
    if family is not None:
        ev = family.match(message)
        if ev is not None:
            return finish_fields(ev)
    for generic in GENERIC_PATTERNS:
        ev = generic.match(message)
        if ev is not None:
            if family is not None:  # sshd's PAM lines stay sshd events
                ev["event.dataset"] = family.dataset
            return finish_fields(ev)
    if family is not None:
        return {"event.dataset": family.dataset}
    return {}


IP_SHAPE = r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\S+)?|[0-9A-Fa-f:]+:\d{1,3}(?:\.\d{1,3}){3})$"
_IP_SHAPE = re.compile(IP_SHAPE, re.ASCII)


def finish_fields(ev: dict[str, Any]) -> dict[str, Any]:
    """Rules applied after any pattern: a `source.ip` that is a host name becomes `source.domain`."""
    ip = ev.get("source.ip")
    if ip is not None and not _IP_SHAPE.match(ip):
        del ev["source.ip"]
        ev.setdefault("source.domain", ip)
    return ev


def _timestamp(groups: dict[str, str | None], ctx: ParseContext) -> tuple[datetime | None, bool]:
    """Returns (UTC time, year_inferred). A time without a zone is the wall clock of `ctx.tz`
    (normalize.localtime: the rule both executors follow across daylight-saving changes)."""
    iso = groups.get("iso")
    if iso:
        return parse_iso(iso, ctx), False
    mon = groups.get("mon")
    if not mon:
        return None, False
    return _rfc3164_time(mon, groups["day"], groups["hms"], groups.get("frac") or "",
                         groups.get("y1") or groups.get("y2"), _local_reference(ctx.reference_time, ctx.tz), ctx.tz)


@lru_cache(maxsize=64)
def _local_reference(reference_time: datetime, tz: tzinfo) -> datetime:
    """The reference time on the zone's wall clock: the same for every line of a source, so
    worked out once instead of per line."""
    return reference_time.astimezone(tz).replace(tzinfo=None)


@lru_cache(maxsize=4096)
def _rfc3164_time(mon: str, day: str | None, hms: str | None, frac: str, explicit: str | None, ref: datetime,
                  tz: tzinfo) -> tuple[datetime | None, bool]:
    """Cached: a busy log repeats each second's stamp on many lines."""
    hh, mm, ss = (int(x) for x in (hms or "0:0:0").split(":"))
    micro = int((frac + "000000")[:6]) if frac else 0
    year = int(explicit) if explicit else ref.year
    try:
        local = datetime(year, _MONTHS[mon], int(day or 1), hh, mm, ss, micro)
        if not explicit and local > ref + timedelta(days=1):
            local = local.replace(year=year - 1)  # a December line in a January file
    except ValueError:  # e.g. Feb 29 in a year without one: keep the line, drop the time
        return None, not explicit
    return to_utc(local, tz), not explicit


def parse_iso(text: str, ctx: ParseContext) -> datetime | None:
    m = re.match(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$", text)
    if not m:
        return None
    date, hms, frac, zone = m.groups()
    stamp = f"{date}T{hms}" + (f".{(frac + '000000')[:6]}" if frac else "")
    try:
        dt = datetime.fromisoformat(stamp)
        if zone and zone != "Z":
            zone = zone if ":" in zone else zone[:3] + ":" + zone[3:]
            dt = datetime.fromisoformat(stamp + zone)
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC) if zone == "Z" else to_utc(dt, ctx.tz)
        return dt.astimezone(UTC)
    except (ValueError, OverflowError):  # a day that does not exist, or a UTC time past year 1..9999
        return None


def frame(text: str) -> tuple[Framing, re.Match[str]] | None:
    for framing in FRAMINGS:
        m = _COMPILED[framing.name].match(text)
        if m is not None:
            return framing, m
    return None


_COMPILED = {f.name: f.compiled for f in FRAMINGS}


class SyslogParser(LineParser):
    dataset = "syslog"

    def parse_line(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        framed = frame(text)
        if framed is None:
            return None
        framing, m = framed
        groups = m.groupdict()
        message = text[m.end():]
        ev: dict[str, Any] = {"event.kind": "event", "event.dataset": "syslog", "message": message}
        ts, inferred = _timestamp(groups, ctx)
        if ts is not None:
            ev["@timestamp"] = ts
        if inferred:
            ev["tags"] = ["year_inferred"]
        pri = groups.get("pri")
        if pri is not None and int(pri) < 192:
            ev["log.syslog.priority"] = int(pri)
            ev["log.syslog.facility.code"] = int(pri) // 8
            ev["log.syslog.severity.code"] = int(pri) % 8
        host = groups.get("host")
        if host and host != "-":
            ev["host.name"] = host
        prog = groups.get("prog")
        if prog and prog != "-":
            ev["process.name"] = prog
            pid = groups.get("pid")
            if pid and pid.isdigit() and len(pid) < 19:
                ev["process.pid"] = int(pid)
            ev.update(parse_message(prog, message))
        ev.setdefault("event.kind", "event")
        return ev

    def parse_batch(self, lines: list[RawLine], ctx: ParseContext, state: ParseState | None = None) -> list[dict[str, Any]]:
        """Events of these lines; sshd lines carry session facts from `state` (the source's
        state from earlier chunks, updated here) — without one, from this batch only."""
        events = super().parse_batch(lines, ctx)
        carry_events(events, state if state is not None else ParseState())
        return events
