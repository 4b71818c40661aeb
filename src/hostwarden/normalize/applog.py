"""Application logs with a time stamp and a level, the kind a stock Debian/Ubuntu /var/log holds
beside syslog: unattended-upgrades, cloud-init, fail2ban, certbot, PostgreSQL, MySQL/MariaDB,
php-fpm, Redis, the kernel ring buffer (dmesg, Xorg) — and free text known by file name.

Each layout is one anchored regex with named groups (`ts`, `level`, `logger`, `pid`, `msg`) and
the function that reads its time stamp; the first that matches a line wins. A multi-line message
(a Python traceback, a config dump) continues on lines that match no layout: after a framed line
they are `log_continuation` events carrying that record's time, not parse failures. A few
messages with a security meaning are read further: unattended-upgrades' runs, fail2ban's bans,
database logins refused (`db_auth_failed` with `user.name`, and `source.ip` where logged).

`TextParser` is for files whose whole content is free text (fc-cache's fontconfig.log,
cloud-init-output.log, installer notes): content sniffing can never claim those, so the registry
chooses it by file name only (`claims_by_name`); each line is kept as a plain message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hostwarden.core.chunks import RawLine
from hostwarden.normalize.base import ParseContext, parse_failure
from hostwarden.normalize.state import ParseState
from hostwarden.normalize.syslog import parse_iso

_PY_TS = r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})"
_LEVELS = r"(?P<level>DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|CRITICAL|FATAL)"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _iso(text: str, ctx: ParseContext) -> datetime | None:
    return parse_iso(text.replace(",", "."), ctx)


def _mariadb(text: str, ctx: ParseContext) -> datetime | None:
    date, _, hms = text.partition(" ")
    hms = hms.strip()
    return parse_iso(f"{date} {hms:0>8}", ctx)


def _postgres(text: str, ctx: ParseContext) -> datetime | None:
    stamp, _, zone = text.rpartition(" ")
    if zone in ("UTC", "GMT"):
        return parse_iso(stamp + "Z", ctx)
    if zone[:1] in "+-":
        return parse_iso(stamp + zone, ctx)
    return parse_iso(stamp, ctx)  # a zone name we cannot resolve: the context's zone


def _day_month_year(text: str, ctx: ParseContext) -> datetime | None:
    """`15-Jan-2024 06:25:12` (php-fpm) or `15 Jan 2024 06:25:12.345` (Redis)."""
    m = re.match(r"^(\d\d?)[- ]([A-Z][a-z]{2})[- ](\d{4}) (\d\d:\d\d:\d\d(?:\.\d+)?)$", text)
    if m is None or m[2] not in _MONTHS:
        return None
    return parse_iso(f"{m[3]}-{_MONTHS.index(m[2]) + 1:02d}-{int(m[1]):02d} {m[4]}", ctx)


@dataclass(frozen=True)
class Layout:
    dataset: str
    regex: re.Pattern[str]
    time: Callable[[str, ParseContext], datetime | None] | None


LAYOUTS: tuple[Layout, ...] = (
    # cloud-init: `%(asctime)s - %(filename)s[%(levelname)s]: %(message)s`
    Layout("cloud_init", re.compile(r"^" + _PY_TS + r" - (?P<logger>[\w.-]+)\[" + _LEVELS + r"\]: ?(?P<msg>.*)$"), _iso),
    # fail2ban: `%(asctime)s %(name)-24s[%(process)d]: %(levelname)-7s %(message)s`
    Layout("fail2ban", re.compile(r"^" + _PY_TS + r" (?P<logger>fail2ban[\w.]*) *\[(?P<pid>\d+)\]: " + _LEVELS
                                  + r" +(?P<msg>.*)$"), _iso),
    # certbot (letsencrypt.log): `%(asctime)s:%(levelname)s:%(name)s:%(message)s`
    Layout("certbot", re.compile(r"^" + _PY_TS + r":" + _LEVELS + r":(?P<logger>[\w.]+):(?P<msg>.*)$"), _iso),
    # Python's logging with a level after the time: unattended-upgrades, landscape, subiquity …
    Layout("applog", re.compile(r"^" + _PY_TS + r" " + _LEVELS + r"(?: +- | +|$)(?P<msg>.*)$"), _iso),
    # PostgreSQL, Debian's log_line_prefix `%m [%p] %q%u@%d `
    Layout("postgresql", re.compile(
        r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? (?:[A-Z]{2,5}|[+-]\d\d(?::?\d\d)?)) \[(?P<pid>\d+)\] "
        r"(?:(?P<user>[^\s@]*)@(?P<db>\S*) )?(?P<level>LOG|ERROR|FATAL|PANIC|WARNING|NOTICE|INFO|DEBUG\d?|DETAIL|HINT|"
        r"STATEMENT|CONTEXT|QUERY|LOCATION): +(?P<msg>.*)$"), _postgres),
    # MySQL 8: `2024-01-15T06:25:12.123456Z 8 [Warning] [MY-010055] [Server] …`
    Layout("mysql", re.compile(r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (?P<pid>\d+) "
                               r"\[(?P<level>System|Note|Warning|Error|ERROR)\] (?P<msg>.*)$"), parse_iso),
    # MariaDB: `2024-01-15  6:25:12 0 [Note] …`
    Layout("mysql", re.compile(r"^(?P<ts>\d{4}-\d\d-\d\d +\d?\d:\d\d:\d\d) (?P<pid>\d+) "
                               r"\[(?P<level>Note|Warning|ERROR|Error)\] (?P<msg>.*)$"), _mariadb),
    # php-fpm: `[15-Jan-2024 06:25:12] NOTICE: fpm is running, pid 812`
    Layout("php_fpm", re.compile(r"^\[(?P<ts>\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d)\] (?P<level>DEBUG|NOTICE|WARNING|"
                                 r"ERROR|ALERT): +(?P<msg>.*)$"), _day_month_year),
    # Redis: `812:M 15 Jan 2024 06:25:12.345 * Ready to accept connections tcp`
    Layout("redis", re.compile(r"^(?P<pid>\d+):[XCSM] (?P<ts>\d\d? [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3}) "
                               r"(?P<level>[.*#-]) (?P<msg>.*)$"), _day_month_year),
    # The kernel ring buffer (dmesg, Xorg.0.log): seconds since boot, no wall-clock time.
    Layout("kernel", re.compile(r"^\[ *(?P<uptime>\d+\.\d+)\] (?P<msg>.*)$"), None),
)
_REDIS_LEVELS = {".": "debug", "-": "verbose", "*": "notice", "#": "warning"}
_CONTINUATION = re.compile(r"^(?:\s|Traceback |Caused by|During handling|\w+(?:\.\w+)*(?:Error|Exception)\b)")
_UU_ACTIONS: tuple[tuple[re.Pattern[str], str, str | None], ...] = (
    (re.compile(r"^Starting unattended upgrades script"), "unattended_upgrade_started", None),
    (re.compile(r"^Packages that will be upgraded: (?P<packages>.*)$"), "unattended_upgrade_planned", None),
    (re.compile(r"^All upgrades installed"), "unattended_upgrade_completed", "success"),
    (re.compile(r"^No packages found that can be upgraded"), "unattended_upgrade_nothing_to_do", "success"),
    (re.compile(r"^Packages that (?:were successfully auto-removed|are auto removed): (?P<packages>.*)$"),
     "package_autoremoved", "success"),
    (re.compile(r"^Installing the upgrades failed"), "unattended_upgrade_failed", "failure"),
)
_F2B = re.compile(r"^\[(?P<jail>[^\]]+)\] (?P<verb>Ban|Unban|Found|Restore Ban|Ignore) (?P<ip>[0-9A-Fa-f:.]+)")
_DB_DENIED = (
    re.compile(r'password authentication failed for user "(?P<user>[^"]*)"'),  # PostgreSQL
    re.compile(r'no pg_hba\.conf entry for host "(?P<ip>[^"]*)", user "(?P<user>[^"]*)"'),
    re.compile(r"Access denied for user '(?P<user>[^']*)'@'(?P<ip>[^']*)'"),  # MySQL/MariaDB
)


class AppLogParser:
    dataset = "applog"

    def __init__(self) -> None:
        self._last: dict[str, Any] | None = None  # the record continuation lines belong to
        self._layout: Layout | None = None

    def _match(self, text: str) -> tuple[Layout, re.Match[str]] | None:
        if self._layout is not None:
            m = self._layout.regex.match(text)
            if m is not None:
                return self._layout, m
        for layout in LAYOUTS:
            m = layout.regex.match(text)
            if m is not None:
                self._layout = layout
                return layout, m
        return None

    def sniff(self, lines: list[str]) -> float:
        if not lines:
            return 0.0
        framed = hits = 0
        for text in lines:
            if any(layout.regex.match(text) for layout in LAYOUTS):
                framed += 1
                hits += 1
            elif framed and _CONTINUATION.match(text):
                hits += 1
        return hits / len(lines)

    def parse_batch(self, lines: list[RawLine], ctx: ParseContext, state: ParseState | None = None) -> list[dict[str, Any]]:
        out = []
        for line in lines:
            try:
                ev = self._line(line.text, ctx)
            except Exception:  # a bug on hostile input must not lose the line
                ev = None
            if ev is None:
                out.append(parse_failure(line, self.dataset))
                continue
            ev.update({"event.original": line.text, "log.offset": line.offset})
            if line.tags:
                ev["tags"] = sorted(line.tags)
            out.append(ev)
        return out

    def _line(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        found = self._match(text)
        if found is None:
            if self._last is None:
                return None
            return {**self._last, "event.action": "log_continuation", "message": text}
        layout, m = found
        groups = m.groupdict()
        dataset = _dataset(layout.dataset, ctx.source)
        ev: dict[str, Any] = {"event.kind": "event", "event.dataset": dataset, "event.module": dataset,
                              "message": groups["msg"]}
        level = groups.get("level")
        if level:
            ev["log.level"] = _REDIS_LEVELS.get(level, level.lower())
        ts = layout.time(groups["ts"], ctx) if layout.time is not None else None
        if ts is not None:
            ev["@timestamp"] = ts
        if groups.get("uptime"):
            ev["kernel.uptime"] = groups["uptime"]
        if groups.get("pid"):
            ev["process.pid"] = int(groups["pid"])
        if groups.get("logger"):
            ev["log.logger"] = groups["logger"]
        self._last = {k: ev[k] for k in ("event.kind", "event.dataset", "event.module", "@timestamp") if k in ev}
        _meaning(ev, dataset, groups)
        return ev


def _dataset(layout_dataset: str, source: str) -> str:
    if layout_dataset == "applog" and "unattended-upgrades" in source.rsplit("/", 1)[-1]:
        return "unattended_upgrades"
    return layout_dataset


def _meaning(ev: dict[str, Any], dataset: str, groups: dict[str, str | None]) -> None:
    """The few messages that are security events: upgrade runs, bans, refused database logins."""
    msg = groups["msg"] or ""
    if dataset == "unattended_upgrades":
        for regex, action, outcome in _UU_ACTIONS:
            m = regex.match(msg)
            if m is not None:
                ev.update({"event.action": action, "event.category": ["package"], "event.type": ["info"]})
                if outcome:
                    ev["event.outcome"] = outcome
                if m.groupdict().get("packages"):
                    ev["package.names"] = m["packages"].strip()
                return
        return
    if dataset == "fail2ban":
        m = _F2B.match(msg)
        if m is not None:
            verb = m["verb"].lower().replace(" ", "_")
            ev.update({"event.action": {"ban": "ip_banned", "unban": "ip_unbanned", "found": "ip_found",
                                        "restore_ban": "ip_banned", "ignore": "ip_ignored"}[verb],
                       "event.category": ["intrusion_detection"], "event.type": ["info"],
                       "source.ip": m["ip"], "fail2ban.jail": m["jail"]})
        return
    if dataset in ("postgresql", "mysql"):
        for regex in _DB_DENIED:
            m = regex.search(msg)
            if m is None:
                continue
            ev.update({"event.action": "db_auth_failed", "event.outcome": "failure",
                       "event.category": ["authentication", "database"], "event.type": ["start"],
                       "user.name": m["user"]})
            ip = m.groupdict().get("ip")
            if ip and re.fullmatch(r"[0-9A-Fa-f:.]+", ip) and any(c in ip for c in ".:"):
                ev["source.ip"] = ip
            elif ip:
                ev["source.domain"] = ip
            return


class TextParser:
    """Free text known by file name: every line is a message, none is a parse failure."""

    dataset = "text"
    claims_by_name = True

    def sniff(self, lines: list[str]) -> float:
        return 0.0  # never chosen by content: any text would match

    def parse_batch(self, lines: list[RawLine], ctx: ParseContext, state: ParseState | None = None) -> list[dict[str, Any]]:
        out = []
        for line in lines:
            ev: dict[str, Any] = {"event.kind": "event", "event.dataset": self.dataset, "event.module": "text",
                                  "event.original": line.text, "log.offset": line.offset, "message": line.text}
            if line.tags:
                ev["tags"] = sorted(line.tags)
            out.append(ev)
        return out
