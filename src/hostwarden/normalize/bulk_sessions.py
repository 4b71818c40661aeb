"""normalize.sessions' two rules over a chunk the columnar plan parsed into a DuckDB table.

The plan (normalize.bulk) tags the lines that repeat an attempt while it makes the chunk's tags,
from a guess made before the fields are extracted: the rule applied as if the chunk stood alone,
a line counting as addressed when its pattern captures an address (`guess_attempts`).
Rewriting the tags of many rows afterwards would cost more than parsing them. `carry` then,
chunk after chunk in file order, with the source's `ParseState`:

1. reads the sessions the chunk touches (their own addresses, before any is carried);
2. carries addresses from earlier lines of a process, in the chunk or in the state (one UPDATE);
3. applies the attempt rule exactly — actual addresses, the state's open runs — to the failure
   lines (`sessions.attempt_runs`) and re-tags the few where the guess was wrong;
4. hands the state back with the touched sessions replaced.

Every step reads a narrow projection of the chunk table.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hostwarden.normalize.sessions import FAILED_ACTION, SAME_ATTEMPT, SESSION_DATASETS, attempt_runs
from hostwarden.normalize.state import ParseState

GUESSED = "hw_attempt_guess"  # the plan's guess of a chunk (off, same), registered on its connection


def guess_attempts(failures: pa.Table) -> pa.Table:
    """The plan's guess: (off, same) for failure lines given as off, host, pid, t, failed_line,
    addressed (whether the line's pattern captures an address)."""
    same, _ = attempt_runs(failures)
    return pa.table({"off": failures.column("off"), "same": pa.array(same, pa.bool_())})


def carry(con: duckdb.DuckDBPyConnection, table: str, state: ParseState) -> None:
    """Both rules over the parsed chunk in `table` (`log.offset` orders its lines), `state`
    updated in place. `table` is a stage-table name of ours, never input."""
    datasets = {"datasets": list(SESSION_DATASETS)}
    try:
        sessions = con.execute(f'SELECT count(*) FROM {table} WHERE {_SESSION}', datasets).fetchall()[0][0]  # noqa: S608
        if not sessions:
            return
        con.register("hw_sessions_in", state.sessions_table())
        touched = con.sql(_TOUCHED_SQL.format(table=table, session=_SESSION), params=datasets).to_arrow_table()
        con.execute(_FILL_SQL.format(table=table, session=_SESSION), datasets).fetchall()
        lines = con.sql(_FAILURES_SQL.format(table=table, session=_SESSION),
                        params={**datasets, "failed": FAILED_ACTION, "tag": SAME_ATTEMPT}).to_arrow_table()
        same, runs = attempt_runs(lines)
        _retag(con, table, lines, same)
        con.register("hw_touched", touched)
        con.register("hw_runs", runs)
        newest = pc.max(state.sessions_table().column("ord")).as_py()
        state.merge_sessions_table(con.sql(_STATE_SQL, params={"next": 0 if newest is None else newest + 1})
                                   .to_arrow_table())
    finally:
        for name in ("hw_sessions_in", "hw_touched", "hw_runs", "hw_retag", GUESSED):
            con.unregister(name)  # unregistering a name never registered is a no-op


def _retag(con: duckdb.DuckDBPyConnection, table: str, lines: pa.Table, same: np.ndarray) -> None:
    """Set or clear the tag where the exact rule disagrees with the plan's guess (few lines:
    a process whose run the state left open, a line whose address was carried)."""
    was = np.asarray(lines.column("was").to_numpy(zero_copy_only=False), dtype=bool)
    wrong = np.flatnonzero(same != was)
    if not len(wrong):
        return
    picked = pa.array(wrong, pa.int64())
    con.register("hw_retag", pa.table({"off": lines.column("off").take(picked),
                                       "same": pa.array(same[wrong], pa.bool_())}))
    con.execute(_RETAG_SQL.format(table=table), {"tag": SAME_ATTEMPT}).fetchall()


_SESSION = '"process.pid" IS NOT NULL AND list_contains($datasets, "event.dataset")'

# Per session the chunk touches (a line naming an address, or a failure line): its last such
# line and the last address it named itself. Read before addresses are carried.
_TOUCHED_SQL = """
SELECT "host.name" AS host, "process.pid" AS pid, max("log.offset") AS last_off,
       arg_max({{'ip': "source.ip", 'port': "source.port"}}, "log.offset") FILTER (WHERE "source.ip" IS NOT NULL) AS named
FROM {table} WHERE {session} AND ("source.ip" IS NOT NULL OR "event.outcome" = 'failure')
GROUP BY 1, 2
"""

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
        FROM {table} WHERE {session}) r
  LEFT JOIN hw_sessions_in s ON r.c IS NULL AND s.host IS NOT DISTINCT FROM r.host AND s.pid = r.pid
  WHERE r.own_ip IS NULL AND r.domain IS NULL AND COALESCE(r.c.ip, s.ip) IS NOT NULL
) f WHERE t."log.offset" = f.off
"""

# The failure lines as the attempt rule reads them, addresses carried, with the state's
# knowledge of their process and whether the plan tagged them.
_FAILURES_SQL = """
SELECT f.*, s.last_failure AS s_last, s.failures AS s_failures, s.counted AS s_counted
FROM (SELECT "log.offset" AS off, "host.name" AS host, "process.pid" AS pid, epoch_us("@timestamp") AS t,
             COALESCE("event.action" = $failed, FALSE) AS failed_line,
             "source.ip" IS NOT NULL OR "source.domain" IS NOT NULL AS addressed,
             COALESCE(list_contains(tags, $tag), FALSE) AS was
      FROM {table} WHERE {session} AND "event.outcome" = 'failure') f
LEFT JOIN hw_sessions_in s ON s.host IS NOT DISTINCT FROM f.host AND s.pid = f.pid
"""

_RETAG_SQL = """
UPDATE {table} AS t SET tags = CASE
  WHEN r.same THEN list_sort(list_distinct(list_append(COALESCE(t.tags, []), $tag)))
  WHEN len(list_filter(t.tags, lambda x: x <> $tag)) > 0 THEN list_filter(t.tags, lambda x: x <> $tag) END
FROM hw_retag r WHERE t."log.offset" = r.off
"""

# The touched sessions as they are after this chunk, numbered after every session it did not
# touch, in order of their last line (`ParseState.merge_sessions_table` keeps the others).
_STATE_SQL = """
SELECT u.host, u.pid,
       CASE WHEN u.named IS NOT NULL THEN u.named.ip ELSE s.ip END AS ip,
       CASE WHEN u.named IS NOT NULL THEN u.named.port ELSE s.port END AS port,
       CASE WHEN r.pid IS NOT NULL THEN r.last_failure ELSE s.last_failure END AS last_failure,
       CASE WHEN r.pid IS NOT NULL THEN r.failures ELSE COALESCE(s.failures, 0) END AS failures,
       CASE WHEN r.pid IS NOT NULL THEN r.counted ELSE COALESCE(s.counted, FALSE) END AS counted,
       $next + row_number() OVER (ORDER BY u.last_off) AS ord
FROM hw_touched u
LEFT JOIN hw_runs r ON r.host IS NOT DISTINCT FROM u.host AND r.pid = u.pid
LEFT JOIN hw_sessions_in s ON s.host IS NOT DISTINCT FROM u.host AND s.pid = u.pid
"""
