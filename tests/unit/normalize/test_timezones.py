"""Zone-less log times are the wall clock of the host that wrote them: read in its zone, the same
way by the per-line parsers and the columnar plan, across daylight-saving changes; a line that
names its zone keeps it."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.core.chunks import Chunk, RawLine
from hostwarden.core.config import load_config
from hostwarden.core.errors import HostwardenError
from hostwarden.core.schema import to_arrow
from hostwarden.normalize.auditd import AuditdParser
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.bulk import BulkSyslog
from hostwarden.normalize.localtime import CASE_LIMIT, to_utc, utc_sql
from hostwarden.normalize.state import ParseState
from hostwarden.normalize.syslog import SyslogParser
from hostwarden.normalize.timezones import TzifZone, ZonePolicy, host_zone
from hostwarden.normalize.web import AccessLogParser, ErrorLogParser

BULK = BulkSyslog()
REF = datetime(2026, 12, 1, tzinfo=UTC)
ZONEINFO = Path("/usr/share/zoneinfo")


def both(text: str, tz: str) -> tuple[list[datetime | None], list[datetime | None]]:
    """@timestamp of each line: (per-line parser, columnar plan), the plan on a session whose
    TimeZone setting is not UTC (the conversion must not read it)."""
    ctx = ParseContext(reference_time=REF, tz=ZoneInfo(tz))
    chunk = Chunk("/var/log/syslog", 0, text.encode())
    line = [ev.get("@timestamp") for ev in SyslogParser().parse_batch(chunk.lines(), ctx, ParseState())]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/Sao_Paulo'")
    name = BULK.parse(con, chunk.to_arrow(), ctx)
    columnar = [r[0] for r in con.execute(f'SELECT "@timestamp" FROM {name} ORDER BY "log.offset"').fetchall()]
    return line, columnar


def test_asia_shanghai_puts_every_event_eight_hours_earlier_than_utc_as_local():
    text = "".join(f"{m} {d:>2} {h:02d}:15:00 web1 sshd[9]: Accepted publickey for a from 192.0.2.1 port 1 ssh2\n"
                   for m, d, h in [("Jan", 1, 0), ("Jun", 30, 7), ("Nov", 28, 23)])
    as_utc, _ = both(text, "UTC")
    line, columnar = both(text, "Asia/Shanghai")
    assert line == columnar
    assert [u - s for u, s in zip(as_utc, line, strict=True)] == [timedelta(hours=8)] * 3


# Europe/Berlin, 2026: clocks go 02:00 → 03:00 on 29 March and 03:00 → 02:00 on 25 October.
BERLIN = [
    ("Mar 29 01:59:59", "2026-03-29T00:59:59"),
    ("Mar 29 02:00:00", "2026-03-29T01:00:00"),  # does not exist: read with the winter offset (fold=0)
    ("Mar 29 02:30:00", "2026-03-29T01:30:00"),
    ("Mar 29 03:00:00", "2026-03-29T01:00:00"),  # summer time from here
    ("Oct 25 01:59:59", "2026-10-24T23:59:59"),
    ("Oct 25 02:00:00", "2026-10-25T00:00:00"),  # happens twice: the first time (summer) is taken
    ("Oct 25 02:59:59", "2026-10-25T00:59:59"),
    ("Oct 25 03:00:00", "2026-10-25T02:00:00"),  # winter time from here
]


def test_europe_berlin_across_both_changes_of_the_year_follows_fold_zero_in_both_executors():
    text = "".join(f"{local} h CRON[1]: (root) CMD (true)\n" for local, _ in BERLIN)
    line, columnar = both(text, "Europe/Berlin")
    assert line == columnar == [datetime.fromisoformat(utc).replace(tzinfo=UTC) for _, utc in BERLIN]


def test_utc_leaves_wall_clock_times_as_they_are():
    line, columnar = both("Jul  4 12:00:00 h CRON[1]: (root) CMD (true)\n", "UTC")
    assert line == columnar == [datetime(2026, 7, 4, 12, tzinfo=UTC)]


def test_a_line_that_names_its_zone_keeps_it_whatever_the_source_zone():
    text = ("<13>1 2026-07-04T12:00:00Z h app 1 - - hello\n"
            "<13>1 2026-07-04T12:00:00+02:00 h app 1 - - hello\n"
            "2026-07-04T12:00:00-0700 h app[1]: hello\n"
            "2026-07-04T12:00:00 h app[1]: wall clock\n")
    line, columnar = both(text, "Asia/Shanghai")
    assert line == columnar
    assert line[:3] == [datetime(2026, 7, 4, 12, tzinfo=UTC), datetime(2026, 7, 4, 10, tzinfo=UTC),
                        datetime(2026, 7, 4, 19, tzinfo=UTC)]
    assert line[3] == datetime(2026, 7, 4, 4, tzinfo=UTC)  # no zone: Shanghai's wall clock
    access = AccessLogParser().parse_batch(
        [RawLine(0, '192.0.2.1 - - [10/Oct/2026:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "x"')],
        ParseContext(tz=ZoneInfo("Asia/Shanghai")))
    assert access[0]["@timestamp"] == datetime(2026, 10, 10, 20, 55, 36, tzinfo=UTC)


def test_web_error_logs_and_ausearch_dates_are_read_in_the_source_zone():
    ctx = ParseContext(tz=ZoneInfo("Asia/Shanghai"))
    nginx = ErrorLogParser().parse_batch(
        [RawLine(0, "2026/07/04 12:00:00 [error] 7#7: *1 open() \"/x\" failed (2: No such file or directory), "
                    "client: 192.0.2.1, server: _, request: \"GET /x HTTP/1.1\"")], ctx)
    audit = AuditdParser().parse_batch(
        [RawLine(0, "type=USER_LOGIN msg=audit(07/04/2026 12:00:00.250:7) : pid=1 uid=root auid=root "
                    "msg='op=login acct=root exe=/usr/sbin/sshd hostname=? addr=192.0.2.1 terminal=ssh res=success'")],
        ctx)
    assert nginx[0]["@timestamp"] == datetime(2026, 7, 4, 4, tzinfo=UTC)
    assert audit[0]["@timestamp"] == datetime(2026, 7, 4, 4, 0, 0, 250000, tzinfo=UTC)


ZONES = ["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Europe/Dublin",
         "America/St_Johns", "Africa/Casablanca", "Pacific/Chatham", "America/Sao_Paulo"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ZONES), st.datetimes(datetime(1965, 1, 1), datetime(2040, 12, 31)),
       st.integers(-3 * 3600, 3 * 3600))
def test_the_sql_function_is_zoneinfos_wall_clock_rule_near_every_change(zone, when, jitter):
    """Near (within 3 h of) a zone change, or anywhere: DuckDB's offset equals zoneinfo's."""
    tz = ZoneInfo(zone)
    changes = [c for c in _nearby_change(tz, when)]
    local = (changes[0] if changes else when) + timedelta(seconds=jitter)
    expected = to_utc(local, tz)
    conversion = utc_sql(tz, {local.year})
    params: list[object] = []

    def param(value: object) -> str:
        params.append(value)
        return f"${len(params)}"

    placeholder = param(local)
    got = duckdb.sql(f"SELECT {conversion.utc_sql(f'CAST({placeholder} AS TIMESTAMP)', param)}", params=params)
    assert got.fetchall()[0][0] == expected


def _nearby_change(tz: ZoneInfo, when: datetime) -> list[datetime]:
    """The wall-clock time of a zone change within a year after `when`, if any."""
    from hostwarden.normalize.localtime import _changes

    for instant, before, after in _changes(tz, when.year):
        if instant.replace(tzinfo=None) >= when:
            return [(instant + timedelta(microseconds=max(before, after))).replace(tzinfo=None)]
    return []


def test_a_chunk_spanning_many_years_uses_a_joined_table_and_agrees():
    years = range(1990, 1990 + CASE_LIMIT)
    text = "".join(f"Mar 29 {y} 02:30:00 h CRON[1]: (root) CMD (true)\nOct 25 {y} 02:30:00 h CRON[1]: x\n"
                   for y in years)
    assert utc_sql(ZoneInfo("Europe/Berlin"), set(years)).needs_join
    line, columnar = both(text, "Europe/Berlin")
    assert line == columnar and None not in line


def test_years_outside_what_a_utc_time_can_hold_drop_the_time_in_both_executors():
    text = "Jan  1 0001 00:30:00 h CRON[1]: x\n<13>1 0001-01-01T00:00:00+08:00 h app 1 - - y\nDec 31 9999 23:00:00 h CRON[1]: z\n"
    line, columnar = both(text, "Asia/Shanghai")
    assert line == columnar == [None, None, None]


# -- which zone a source is in -----------------------------------------------------------------
def _root(tmp_path: Path, **files: str | bytes) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name, content in files.items():
        path = root / "etc" / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content.startswith("->"):
            path.symlink_to(content[2:])
        else:
            path.write_text(content)
    host_zone.cache_clear()
    return root


def test_a_roots_localtime_link_names_its_zone(tmp_path):
    root = _root(tmp_path, localtime="->/usr/share/zoneinfo/Asia/Shanghai")
    assert host_zone(root) == ZoneInfo("Asia/Shanghai")  # the link's text: nothing outside the root is read


@pytest.mark.skipif(not (ZONEINFO / "Asia" / "Shanghai").exists(), reason="no system zoneinfo")
def test_a_copied_zone_file_is_matched_by_its_bytes(tmp_path):
    root = _root(tmp_path, localtime=(ZONEINFO / "Asia" / "Shanghai").read_bytes())
    assert str(host_zone(root)) in ("Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "PRC", "Asia/Harbin")


def test_etc_timezone_is_read_when_localtime_is_absent(tmp_path):
    assert host_zone(_root(tmp_path, timezone="Europe/Berlin\n")) == ZoneInfo("Europe/Berlin")


def test_nothing_known_or_an_escaping_link_means_utc(tmp_path):
    assert host_zone(_root(tmp_path)) == UTC
    root = tmp_path / "escape"
    root.mkdir()
    (root / "etc").symlink_to("/etc")  # the scanned image's /etc points at this machine's
    host_zone.cache_clear()
    assert host_zone(root) == UTC
    assert host_zone(_root(tmp_path / "t", timezone="../../etc/passwd\n")) == UTC


@pytest.mark.skipif(not (ZONEINFO / "Europe" / "Berlin").exists(), reason="no system zoneinfo")
def test_a_zone_read_from_bytes_pickles_for_the_parse_worker():
    zone = TzifZone((ZONEINFO / "Europe" / "Berlin").read_bytes())
    again = pickle.loads(pickle.dumps(zone))
    for local in (datetime(2026, 3, 29, 2, 30), datetime(2026, 10, 25, 2, 30), datetime(2026, 7, 1)):
        assert to_utc(local, again) == to_utc(local, ZoneInfo("Europe/Berlin"))


def test_command_line_then_source_glob_then_default_then_the_host(tmp_path):
    config = tmp_path / "hw.toml"
    config.write_text('[ingest]\ntimezone = "America/New_York"\n'
                      '[ingest.sources."/var/log/app/*.log"]\ntimezone = "Asia/Shanghai"\n'
                      '[ingest.sources."*/nginx/*"]\ntimezone = "Europe/Berlin"\n')
    ingest = load_config(config).ingest
    policy = ZonePolicy.from_config(ingest)
    assert policy.for_source("/var/log/app/x.log") == ZoneInfo("Asia/Shanghai")
    assert policy.for_source("/var/log/nginx/error.log") == ZoneInfo("Europe/Berlin")
    assert policy.for_source("/var/log/syslog") == ZoneInfo("America/New_York")
    assert ZonePolicy.from_config(ingest, "UTC").for_source("/var/log/app/x.log") == ZoneInfo("UTC")
    root = _root(tmp_path, localtime="->../usr/share/zoneinfo/Europe/Dublin")
    scanned = ZonePolicy.from_config(load_config(None).ingest).under(root)
    assert scanned.for_source(str(root / "var/log/syslog")) == ZoneInfo("Europe/Dublin")
    assert policy.under(root).for_source(str(root / "var/log/app/x.log")) == ZoneInfo("Asia/Shanghai")  # path in the root


def test_unknown_zones_are_refused_with_a_code(tmp_path):
    config = tmp_path / "hw.toml"
    config.write_text('[ingest.sources."/x"]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(HostwardenError) as err:
        load_config(config)
    assert err.value.code.code == "CSA-5002" and "Mars/Olympus" in err.value.message
    with pytest.raises(HostwardenError):
        ZonePolicy.from_config(load_config(None).ingest, "Mars/Olympus")


def test_to_arrow_keeps_the_converted_times():
    events = SyslogParser().parse_batch([RawLine(0, "Jul  4 12:00:00 h CRON[1]: x")],
                                        ParseContext(reference_time=REF, tz=ZoneInfo("Asia/Shanghai")))
    assert to_arrow(events).column("@timestamp").to_pylist() == [datetime(2026, 7, 4, 4, tzinfo=UTC)]

