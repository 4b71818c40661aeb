"""Time bounds: `--since 24h`, `--from`/`--to` ISO-8601, and timestamp values inside queries.

Timestamps without an offset are UTC (the store keeps UTC). A date-only `--to` means the end of
that day, so `--from 2026-11-01 --to 2026-11-01` is the whole day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hostwarden.core.errors import LOG_SEARCH_TIME, HostwardenError
from hostwarden.store.query.errors import shown

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(?:\d{1,9}[smhdw])+", re.IGNORECASE)
_PART = re.compile(r"(\d+)([smhdw])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Instant:
    at: datetime
    date_only: bool


def parse_duration(text: str) -> timedelta:
    """`15m`, `24h`, `7d`, `1h30m` → timedelta; LOG-4003 otherwise."""
    cleaned = text.strip()
    if not _DURATION.fullmatch(cleaned):
        raise HostwardenError(LOG_SEARCH_TIME, f"--since {shown(text)}: expected a duration such as 15m, 24h, 7d")
    seconds = sum(int(n) * _UNITS[u.lower()] for n, u in _PART.findall(cleaned))
    if seconds <= 0:
        raise HostwardenError(LOG_SEARCH_TIME, f"--since {shown(text)}: the duration must be positive")
    try:
        return timedelta(seconds=seconds)
    except OverflowError as exc:
        raise HostwardenError(LOG_SEARCH_TIME, f"--since {shown(text)}: duration too large") from exc


def parse_instant(text: str) -> Instant | None:
    """An ISO-8601 date or date-time (`Z` or an offset allowed; none means UTC), else None."""
    cleaned = text.strip()
    if not cleaned or not cleaned[0].isdigit():
        return None
    try:
        if len(cleaned) == 10:
            day = date.fromisoformat(cleaned)
            return Instant(datetime(day.year, day.month, day.day, tzinfo=UTC), True)
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Instant(moment.astimezone(UTC), False)


def _instant_option(option: str, text: str) -> Instant:
    instant = parse_instant(text)
    if instant is None:
        raise HostwardenError(LOG_SEARCH_TIME, f"{option} {shown(text)}: expected an ISO-8601 date or timestamp")
    return instant


def time_bounds(
    *, since: str | None, from_: str | None, to: str | None, now: datetime | None = None
) -> tuple[datetime | None, datetime | None, bool]:
    """(lower inclusive, upper, upper_inclusive) for `@timestamp`; None where unbounded."""
    for option, value in (("--since", since), ("--from", from_), ("--to", to)):
        if value is not None and not isinstance(value, str):
            raise HostwardenError(LOG_SEARCH_TIME, f"{option} must be text, not {type(value).__name__}")
    lower: datetime | None = None
    upper: datetime | None = None
    inclusive = True
    if since is not None:
        moment = now or datetime.now(UTC)
        try:
            lower = moment - parse_duration(since)
        except OverflowError as exc:
            raise HostwardenError(LOG_SEARCH_TIME, f"--since {shown(since)} reaches before year 1") from exc
    if from_ is not None:
        start = _instant_option("--from", from_).at
        lower = start if lower is None else max(lower, start)
    if to is not None:
        end = _instant_option("--to", to)
        if end.date_only:
            try:
                upper, inclusive = end.at + timedelta(days=1), False
            except OverflowError:
                upper = end.at.replace(hour=23, minute=59, second=59, microsecond=999999)
        else:
            upper = end.at
    if lower is not None and upper is not None and (lower > upper or (lower == upper and not inclusive)):
        raise HostwardenError(
            LOG_SEARCH_TIME, f"empty time range: start {lower.isoformat()} is after end {upper.isoformat()}"
        )
    return lower, upper, inclusive
