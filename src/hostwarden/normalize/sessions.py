"""sshd sessions across lines: the client address carried, and one attempt counted once.

Two rules, applied in file order to the lines of one sshd process (same `host.name` and
`process.pid`, `event.dataset` sshd), with what earlier chunks left in the source's
`ParseState`:

* **Address carry.** sshd names the client once per connection; a later line of the same
  process without an address or host name (`Disconnecting: Too many authentication failures`)
  gets the address (and port, if it has none) of the last line that named one.
* **One attempt, one count.** A password attempt is logged twice — pam_unix's `authentication
  failure; … rhost= user=` and sshd's `Failed password for …`, seconds apart — and a connection
  adds lines that are no attempt of their own (`Invalid user`, `check pass; user unknown`,
  `PAM 2 more authentication failures`, `Connection closed by authenticating user … [preauth]`,
  `Disconnecting: Too many authentication failures`). A process's failure lines form a run
  while each follows the previous one within ATTEMPT_GAP_SECONDS; a run is max(1, number of its
  `Failed …` lines) attempts: its first failure line is an attempt, and so is every `Failed …`
  line after the run's first one. Every other failure line is tagged `same_attempt`, so
  thresholds that count attempts (rules/detect/ssh.yml) count each attempt once. The gap is
  sshd's default LoginGraceTime: a connection cannot spend longer before authenticating, so a
  reused pid starts a new run.

`carry_events` is the per-line executor (streaming, small chunks) and `carry_table` the
columnar one (DuckDB, big chunks); tests/unit/normalize/test_state_agrees.py holds them to the
same result for any split of the same lines into chunks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hostwarden.normalize.state import ParseState, Session

SESSION_DATASETS = ("sshd",)
ATTEMPT_GAP_SECONDS = 120
SAME_ATTEMPT = "same_attempt"  # tag of a failure line that reports an attempt already counted
FAILED_ACTION = "ssh_login_failed"  # sshd's own line per attempt: `Failed <method> for …`
_GAP_US = ATTEMPT_GAP_SECONDS * 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(value: Any) -> int | None:
    """An event time as integer µs since the epoch (exact, as DuckDB's epoch_us)."""
    if not isinstance(value, datetime):
        return None
    return ((value if value.tzinfo else value.replace(tzinfo=UTC)) - _EPOCH) // _MICRO


def carry_events(events: list[dict[str, Any]], state: ParseState) -> None:
    """Apply both rules to parsed events (in file order), updating `state`."""
    sessions = state.sessions
    for ev in events:
        pid = ev.get("process.pid")
        if pid is None or ev.get("event.dataset") not in SESSION_DATASETS:
            continue
        key = (ev.get("host.name"), pid)
        session = sessions.get(key)
        ip = ev.get("source.ip")
        failure = ev.get("event.outcome") == "failure"
        if ip is None and session is not None and session.ip is not None and "source.domain" not in ev:
            ev["source.ip"] = session.ip
            if session.port is not None and ev.get("source.port") is None:
                ev["source.port"] = session.port
        if ip is None and not failure:
            continue
        if session is None:
            session = Session()
        else:
            del sessions[key]  # re-inserted last: the dict is kept in order of activity
        sessions[key] = session
        if ip is not None:
            session.ip, session.port = ip, ev.get("source.port")
        if failure:
            _count_attempt(ev, session)
    state.trim()


def _count_attempt(ev: dict[str, Any], session: Session) -> None:
    t = micros(ev.get("@timestamp"))
    failed = ev.get("event.action") == FAILED_ACTION
    last = session.last_failure
    if last is None or t is None or t - last > _GAP_US:
        session.failures = 0  # a new run: this line is its first attempt
    elif not (failed and session.failures >= 1):
        ev["tags"] = sorted({*(ev.get("tags") or ()), SAME_ATTEMPT})
    if failed:
        session.failures += 1
    session.last_failure = t


# The columnar plan's attempt tables of a chunk (`attempts_table`), registered on its connection.
ATTEMPT_ROWS, ATTEMPT_PROCESSES = "hw_attempt_rows", "hw_attempt_processes"


def attempts_table(failures: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The attempt rule over one chunk as if it stood alone, in array operations: `failures`
    holds the chunk's sshd failure lines (off, host, pid, t µs, failed_line). Returns them with
    each line's run (1 for each process's first), the `Failed` lines before it in the run
    (`before`) and whether it repeats an attempt (`same`), and a summary per process (first and
    last time, `Failed` lines of its last run, whether that run is its first); `carry_table`
    corrects a process whose first run continues the one the state left open. (A few array
    passes over the failure lines: the same windows in SQL cost a tenth of the whole parse.)"""
    n = failures.num_rows
    off = np.asarray(failures.column("off").to_numpy(zero_copy_only=False), dtype=np.int64)
    host = np.asarray(pc.fill_null(pc.dictionary_encode(failures.column("host")).combine_chunks().indices, -1)
                      .to_numpy(zero_copy_only=False), dtype=np.int64) if n else np.zeros(0, np.int64)
    pid = np.asarray(failures.column("pid").to_numpy(zero_copy_only=False), dtype=np.int64)
    t_col = failures.column("t")
    untimed = np.asarray(t_col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    t = np.asarray(pc.fill_null(t_col, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    failed = np.asarray(failures.column("failed_line").to_numpy(zero_copy_only=False), dtype=bool)
    order = np.lexsort((off, pid, host))
    off, host, pid, t, untimed, failed = off[order], host[order], pid[order], t[order], untimed[order], failed[order]
    index = np.arange(n)
    first = np.ones(n, dtype=bool)
    first[1:] = (host[1:] != host[:-1]) | (pid[1:] != pid[:-1])
    no_prev = first.copy()
    no_prev[1:] |= untimed[:-1]
    gap = np.zeros(n, dtype=np.int64)
    gap[1:] = t[1:] - t[:-1]
    new_run = no_prev | untimed | (gap > _GAP_US)
    failed_before = np.cumsum(failed) - failed  # over the whole sorted list; made per process below
    process_start = np.maximum.accumulate(np.where(first, index, 0))
    failed_before = failed_before - failed_before[process_start]
    run_start = np.maximum.accumulate(np.where(new_run, index, 0))  # a process's first line starts a run
    before = failed_before - failed_before[run_start]
    runs = np.cumsum(new_run)
    run = runs - runs[process_start] + 1
    same = ~(new_run | (failed & (before >= 1)))
    taken = failures.take(pa.array(order, pa.int64()))
    rows = taken.append_column("run", pa.array(run, pa.int64())).append_column(
        "before", pa.array(before, pa.int64())).append_column("same", pa.array(same, pa.bool_()))
    # per process: its first line's time (does it continue the state's run?), and its last
    # line's time and `Failed` count so far in its run (what the state keeps)
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:] - 1, n - 1] if n else starts
    keys = taken.select(["host", "pid"]).take(pa.array(starts, pa.int64()))
    summary = keys.append_column("t0", pa.array(t[starts], pa.int64(), mask=untimed[starts])).append_column(
        "t_last", pa.array(t[ends], pa.int64(), mask=untimed[ends])).append_column(
        "after", pa.array(before[ends] + failed[ends], pa.int64())).append_column(
        "last_in_first_run", pa.array(run[ends] == 1, pa.bool_()))
    return rows, summary


def carry_table(con: duckdb.DuckDBPyConnection, table: str, state: ParseState) -> None:
    """Apply both rules to a parsed chunk in DuckDB table `table` (the columnar plan's output,
    `log.offset` ordering its lines; with the plan's ATTEMPT_ROWS, the attempt rule as if the
    chunk stood alone), updating `state`. Every step reads a narrow projection and rewrites only
    the few lines the state changes: updating the `tags` of many rows costs more than parsing
    them (hence the plan tags repeats while it makes `tags`)."""
    datasets = {"datasets": list(SESSION_DATASETS)}
    try:
        sessions = con.execute(  # `table` is a stage-table name of ours, never input
            f'SELECT count(*) FROM {table} WHERE "process.pid" IS NOT NULL AND list_contains($datasets, "event.dataset")',  # noqa: S608
            datasets).fetchall()[0][0]
        if not sessions:
            return
        sessions_in = state.sessions_table()
        con.register("hw_sessions_in", sessions_in)
        gap = {"gap": _GAP_US}
        con.execute(_CONTINUED_SQL, gap).fetchall()
        newest = pc.max(sessions_in.column("ord")).as_py()
        updated = con.sql(_STATE_SQL.format(table=table), params={
            **datasets, **gap, "next": 0 if newest is None else newest + 1}).to_arrow_table()
        con.execute(_FILL_SQL.format(table=table), datasets).fetchall()
        con.execute(_REMARK_SQL.format(table=table), {"tag": SAME_ATTEMPT}).fetchall()
        state.merge_sessions_table(updated)
    finally:
        for name in ("hw_sessions_in", ATTEMPT_ROWS, ATTEMPT_PROCESSES):
            con.unregister(name)
        con.execute("DROP TABLE IF EXISTS hw_continued").fetchall()


# Processes whose first failure line in this chunk continues the run the state left open, with
# each of that run's lines and what it should be: an attempt iff a `Failed` line after the run's
# first one (the state's count included).
_CONTINUED_SQL = f"""
CREATE OR REPLACE TEMP TABLE hw_continued AS
SELECT a.off, s.failures AS s_failures, a.same AS was, NOT (a.failed_line AND s.failures + a.before >= 1) AS same
FROM {ATTEMPT_PROCESSES} p
JOIN hw_sessions_in s ON s.host IS NOT DISTINCT FROM p.host AND s.pid = p.pid
JOIN {ATTEMPT_ROWS} a ON a.host IS NOT DISTINCT FROM p.host AND a.pid = p.pid AND a.run = 1
WHERE s.last_failure IS NOT NULL AND p.t0 IS NOT NULL AND p.t0 - s.last_failure <= $gap
"""  # noqa: S608 - constant table names

# A line without an address or host name takes the last address its process named before it
# (in this chunk, else the state's).
_FILL_SQL = """
UPDATE {table} AS t SET "source.ip" = f.ip, "source.port" = COALESCE(t."source.port", f.port)
FROM (
  SELECT r.off, COALESCE(r.c.ip, s.ip) AS ip, CASE WHEN r.c IS NULL THEN s.port ELSE r.c.port END AS port
  FROM (SELECT "log.offset" AS off, "host.name" AS host, "process.pid" AS pid, "source.ip" AS own_ip,
          "source.domain" AS domain,
          last_value(CASE WHEN "source.ip" IS NOT NULL THEN {{'ip': "source.ip", 'port': "source.port"}} END IGNORE NULLS)
            OVER (PARTITION BY "host.name", "process.pid" ORDER BY "log.offset"
                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS c
        FROM {table} WHERE "process.pid" IS NOT NULL AND list_contains($datasets, "event.dataset")) r
  LEFT JOIN hw_sessions_in s ON r.c IS NULL AND s.host IS NOT DISTINCT FROM r.host AND s.pid = r.pid
  WHERE r.own_ip IS NULL AND r.domain IS NULL AND COALESCE(r.c.ip, s.ip) IS NOT NULL
) f WHERE t."log.offset" = f.off
"""

# The continued runs' lines whose mark the state changes.
_REMARK_SQL = """
UPDATE {table} AS t SET tags = CASE
  WHEN c.same THEN list_sort(list_distinct(list_append(COALESCE(t.tags, []), $tag)))
  WHEN len(list_filter(t.tags, lambda x: x <> $tag)) > 0 THEN list_filter(t.tags, lambda x: x <> $tag) END
FROM hw_continued c WHERE c.same <> c.was AND t."log.offset" = c.off
"""

# The sessions this chunk touched (a line naming an address, or a failure line), as they are
# after it, in order of their last such line after every session it did not touch
# (`ParseState.merge_sessions_table` keeps those). Read before the address fill, so a session's
# address is the one its lines named.
_STATE_SQL = f"""
WITH touched AS (
  SELECT "host.name" AS host, "process.pid" AS pid, max("log.offset") AS last_off,
         arg_max({{{{'ip': "source.ip", 'port': "source.port"}}}}, "log.offset") FILTER (WHERE "source.ip" IS NOT NULL) AS named
  FROM {{table}}
  WHERE "process.pid" IS NOT NULL AND list_contains($datasets, "event.dataset")
    AND ("source.ip" IS NOT NULL OR "event.outcome" = 'failure')
  GROUP BY 1, 2
)
SELECT u.host, u.pid,
       CASE WHEN u.named IS NOT NULL THEN u.named.ip ELSE s.ip END AS ip,
       CASE WHEN u.named IS NOT NULL THEN u.named.port ELSE s.port END AS port,
       CASE WHEN p.pid IS NOT NULL THEN p.t_last ELSE s.last_failure END AS last_failure,
       CASE WHEN p.pid IS NULL THEN COALESCE(s.failures, 0)
            WHEN p.last_in_first_run AND s.last_failure IS NOT NULL AND p.t0 IS NOT NULL
                 AND p.t0 - s.last_failure <= $gap THEN p.after + s.failures
            ELSE p.after END AS failures,
       $next + row_number() OVER (ORDER BY u.last_off) AS ord
FROM touched u
LEFT JOIN {ATTEMPT_PROCESSES} p ON p.host IS NOT DISTINCT FROM u.host AND p.pid = u.pid
LEFT JOIN hw_sessions_in s ON s.host IS NOT DISTINCT FROM u.host AND s.pid = u.pid
"""  # noqa: S608 - constant table names; `table` is a stage-table name of ours
