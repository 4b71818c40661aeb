"""Wall-clock time in a zone → UTC, the same way in the per-line parsers and in DuckDB.

Most syslog lines, web server error logs and `ausearch -i` dates carry no zone: they are the
wall clock of the host that wrote them. Across a daylight-saving change that clock skips an hour
(spring: 02:30 does not exist) and repeats one (autumn: 02:30 happens twice). One rule decides
both, in both executors: **fold=0**, as Python's zoneinfo does by default — a repeated time is
its first occurrence (still summer time), a skipped time is read with the offset in force before
the change (02:30 in a spring-forward gap of +01:00 → +02:00 is 01:30 UTC, i.e. 03:30 local).

The per-line executor asks zoneinfo (`to_utc`). The columnar one cannot call Python per row, so
`utc_sql` turns the zone into the piecewise-constant offset function zoneinfo applies to the wall
clock — boundaries found by probing the very same tzinfo object, so both read one time zone
database — and DuckDB evaluates it: a constant when the zone has no change in the years the chunk
holds, a CASE over a few boundaries usually, an ASOF join when a chunk spans many years. In wall
clock terms a change from offset `a` to `b` at UTC instant T starts at local `T + max(a, b)`:
before it, the old offset holds (covering both the skipped and the repeated hour), from it on the
new one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

import pyarrow as pa

_PROBE = timedelta(days=7)  # zones never change twice within a week (Morocco's Ramadan pauses: ~30 days)
_MICRO = timedelta(microseconds=1)
CASE_LIMIT = 32  # boundaries a CASE holds; beyond, an ASOF join against a table of them
MIN_YEAR, MAX_YEAR = 2, 9998  # years whose neighbours datetime can still represent


def to_utc(local: datetime, tz: tzinfo) -> datetime | None:
    """A naive wall-clock time in `tz` as an aware UTC time, by the fold=0 rule; None for a
    year outside MIN_YEAR..MAX_YEAR (whose UTC time may not be representable), in both executors."""
    if not MIN_YEAR <= local.year <= MAX_YEAR:
        return None
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _offset_us(tz: tzinfo, instant: datetime) -> int:
    return (instant.astimezone(tz).utcoffset() or timedelta(0)) // _MICRO


@lru_cache(maxsize=4096)
def _changes(tz: tzinfo, year: int) -> tuple[tuple[datetime, int, int], ...]:
    """Offset changes of `tz` at UTC instants from Dec 30 of year-1 to Jan 3 of year+1:
    (instant, offset before µs, offset after µs), found by weekly probes and bisection to the
    second (zone changes happen on whole seconds)."""
    start = datetime(year - 1, 12, 30, tzinfo=UTC)
    end = datetime(year + 1, 1, 3, tzinfo=UTC)
    found = []
    t, before = start, _offset_us(tz, start)
    while t < end:
        nxt = min(t + _PROBE, end)
        after = _offset_us(tz, nxt)
        if after != before:
            lo, hi = t, nxt  # offset(lo) == before, offset(hi) != before
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid <= lo:
                    mid = lo + timedelta(seconds=1)
                if _offset_us(tz, mid) == before:
                    lo = mid
                else:
                    hi = mid
            found.append((hi, before, _offset_us(tz, hi)))
            before = _offset_us(tz, hi)
            # a second change within this probe step is caught by probing again from `hi`
            t = hi
            continue
        t, before = nxt, after
    return tuple(found)


@dataclass
class LocalToUtc:
    """How a chunk's wall-clock times become UTC in SQL (`utc_sql`). When `table` is set the
    query must ASOF-join it as `hw_zone` on `local >= hw_zone.start`."""

    initial: int  # offset (µs) before the first boundary
    boundaries: list[tuple[datetime, int]] = field(default_factory=list)  # (local start, offset µs from it)
    table: pa.Table | None = None

    @property
    def needs_join(self) -> bool:
        return self.table is not None

    def offset_sql(self, local: str, param: Callable[[object], str], joined: str = "hw_zone") -> str:
        """SQL of the offset in µs to subtract from `local` (a naive TIMESTAMP expression);
        `param` binds a value and returns its placeholder."""
        if not self.boundaries:
            return f"CAST({param(self.initial)} AS BIGINT)"
        if self.table is not None:
            return f"COALESCE({joined}.off_us, CAST({param(self.initial)} AS BIGINT))"
        whens = " ".join(f"WHEN {local} >= CAST({param(start)} AS TIMESTAMP) THEN CAST({param(offset)} AS BIGINT)"
                         for start, offset in reversed(self.boundaries))
        return f"CASE {whens} ELSE CAST({param(self.initial)} AS BIGINT) END"

    def utc_sql(self, local: str, param: Callable[[object], str], joined: str = "hw_zone") -> str:
        """SQL of the UTC TIMESTAMPTZ of `local`, NULL outside MIN_YEAR..MAX_YEAR (as `to_utc`).
        make_timestamptz of epoch µs: unlike a cast, it does not read the session's TimeZone."""
        offset = self.offset_sql(local, param, joined)
        return (f"CASE WHEN year({local}) BETWEEN {MIN_YEAR} AND {MAX_YEAR} "
                f"THEN make_timestamptz(epoch_us({local}) - {offset}) END")


def utc_sql(tz: tzinfo, years: set[int]) -> LocalToUtc:
    """The wall-clock → UTC function of `tz` over the given local years (see the module doc)."""
    usable = sorted({min(max(y, MIN_YEAR), MAX_YEAR) for y in years})
    if not usable:
        return LocalToUtc(0)
    points: dict[datetime, int] = {}
    for year in usable:
        # a reset point before the year: the offset there, as zoneinfo reads that wall time
        reset = datetime(year - 1, 12, 30)
        points.setdefault(reset, to_utc_offset_us(reset, tz))
        for instant, before, after in _changes(tz, year):
            local_start = (instant + timedelta(microseconds=max(before, after))).replace(tzinfo=None)
            points[local_start] = after
    ordered = sorted(points.items())
    initial = ordered[0][1]
    # drop points that do not change the offset: most zones have none left at all
    boundaries: list[tuple[datetime, int]] = []
    current = initial
    for start, offset in ordered[1:]:
        if offset != current:
            boundaries.append((start, offset))
            current = offset
    result = LocalToUtc(initial, boundaries)
    if len(boundaries) > CASE_LIMIT:
        result.table = pa.table({
            "start": pa.array([b[0] for b in boundaries], pa.timestamp("us")),
            "off_us": pa.array([b[1] for b in boundaries], pa.int64()),
        })
    return result


def to_utc_offset_us(local: datetime, tz: tzinfo) -> int:
    """The offset (µs) the fold=0 rule gives a naive wall-clock time in `tz`."""
    return (local.replace(tzinfo=tz, fold=0).utcoffset() or timedelta(0)) // _MICRO
