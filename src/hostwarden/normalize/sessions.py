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
  line after the run's first one. Every other failure line is labelled `auth.same_attempt`, so
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

from hostwarden.normalize.state import SESSIONS_SCHEMA, ParseState, Session

SESSION_DATASETS = ("sshd",)
ATTEMPT_GAP_SECONDS = 120
SAME_ATTEMPT = "auth.same_attempt"  # label on a failure line that reports an attempt already counted
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
        ev[SAME_ATTEMPT] = "true"
    if failed:
        session.failures += 1
    session.last_failure = t


def carry_table(con: duckdb.DuckDBPyConnection, table: str, state: ParseState) -> None:
    """Apply both rules to a parsed chunk in DuckDB table `table` (the columnar plan's output:
    `log.offset` orders its lines), updating `state`. Nothing runs for a chunk without sshd
    process lines but the one count that finds it out."""
    rows = con.execute(  # `table` is a stage-table name of ours, never input
        f'SELECT count(*) FROM {table} WHERE "process.pid" IS NOT NULL AND list_contains($1, "event.dataset")',  # noqa: S608
        [list(SESSION_DATASETS)],
    ).fetchall()[0][0]
    if not rows:
        return
    con.register("hw_sessions_in", state.sessions_table())
    try:
        con.execute(_ROWS_SQL.format(table=table), [list(SESSION_DATASETS), FAILED_ACTION]).fetchall()
        con.execute(_ATTEMPTS_SQL, [_GAP_US]).fetchall()
        con.execute(_FILL_SQL.format(table=table)).fetchall()
        con.execute(_MARK_SQL.format(table=table), [SAME_ATTEMPT]).fetchall()
        updated = con.sql(_STATE_SQL).to_arrow_table()
    finally:
        con.unregister("hw_sessions_in")
        con.execute("DROP TABLE IF EXISTS hw_sess_rows").fetchall()
        con.execute("DROP TABLE IF EXISTS hw_sess_attempts").fetchall()
    state.set_sessions_table(updated.select(SESSIONS_SCHEMA.names))


# The chunk's sshd process lines, with the session the state brings for each, if any.
_ROWS_SQL = """
CREATE OR REPLACE TEMP TABLE hw_sess_rows AS
SELECT r.*, s.ip AS s_ip, s.port AS s_port, s.last_failure AS s_last, s.failures AS s_failures,
       s.pid IS NOT NULL AS s_known
FROM (SELECT "log.offset" AS off, "host.name" AS host, "process.pid" AS pid, "source.ip" AS ip,
             "source.port" AS port, "source.domain" AS domain,
             COALESCE("event.outcome" = 'failure', FALSE) AS fail,
             COALESCE("event.action" = $2, FALSE) AS failed_line, epoch_us("@timestamp") AS t
      FROM {table} WHERE "process.pid" IS NOT NULL AND list_contains($1, "event.dataset")) r
LEFT JOIN hw_sessions_in s ON s.host IS NOT DISTINCT FROM r.host AND s.pid = r.pid
"""

# Per failure line: does it start a run (its previous failure line of the process, in this
# chunk or in the state, is missing, untimed or more than the gap back), and how many `Failed`
# lines of its run came before it.
_ATTEMPTS_SQL = """
CREATE OR REPLACE TEMP TABLE hw_sess_attempts AS
SELECT off, host, pid, t, failed_line, new_run, run,
       before + CASE WHEN failed_line THEN 1 ELSE 0 END AS after,
       NOT (new_run OR (failed_line AND before >= 1)) AS same
FROM (
  SELECT *, COALESCE(sum(CASE WHEN failed_line THEN 1 ELSE 0 END) OVER (
              PARTITION BY host, pid, run ORDER BY off ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
            + CASE WHEN run = 0 THEN COALESCE(s_failures, 0) ELSE 0 END AS before
  FROM (
    SELECT *, sum(CASE WHEN new_run THEN 1 ELSE 0 END) OVER (
                PARTITION BY host, pid ORDER BY off ROWS UNBOUNDED PRECEDING) AS run
    FROM (
      SELECT *, (prev IS NULL OR t IS NULL OR t - prev > $1) AS new_run
      FROM (
        SELECT *, CASE WHEN row_number() OVER w = 1 THEN s_last ELSE lag(t) OVER w END AS prev
        FROM hw_sess_rows WHERE fail
        WINDOW w AS (PARTITION BY host, pid ORDER BY off)))))
"""

# A line without an address or host name takes the last address named before it by its process
# (in this chunk, else the state's).
_FILL_SQL = """
UPDATE {table} AS t SET "source.ip" = f.ip, "source.port" = COALESCE(t."source.port", f.port)
FROM (
  SELECT off, COALESCE(c.ip, s_ip) AS ip, CASE WHEN c IS NULL THEN s_port ELSE c.port END AS port
  FROM (SELECT off, ip AS own_ip, domain, s_ip, s_port,
          last_value(CASE WHEN ip IS NOT NULL THEN {{'ip': ip, 'port': port}} END IGNORE NULLS) OVER (
            PARTITION BY host, pid ORDER BY off ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS c
        FROM hw_sess_rows)
  WHERE own_ip IS NULL AND domain IS NULL AND COALESCE(c.ip, s_ip) IS NOT NULL
) f WHERE t."log.offset" = f.off
"""

_MARK_SQL = """
UPDATE {table} AS t SET labels = map_concat(COALESCE(t.labels, MAP {{}}::MAP(VARCHAR, VARCHAR)), MAP {{$1: 'true'}})
FROM hw_sess_attempts a WHERE a.same AND t."log.offset" = a.off
"""

# The sessions after this chunk: those it did not touch keep their place, those it touched
# (a line naming an address, or a failure line) follow in order of their last such line.
_STATE_SQL = """
WITH touched AS (
  SELECT host, pid, max(off) AS last_off,
         arg_max({'ip': ip, 'port': port}, off) FILTER (WHERE ip IS NOT NULL) AS named
  FROM hw_sess_rows WHERE ip IS NOT NULL OR fail GROUP BY host, pid
), runs AS (
  SELECT host, pid, arg_max({'t': t, 'after': after}, off) AS last FROM hw_sess_attempts GROUP BY host, pid
), merged AS (
  SELECT s.host, s.pid, s.ip, s.port, s.last_failure, s.failures, s.ord AS rank, 0 AS part
  FROM hw_sessions_in s ANTI JOIN touched u ON u.host IS NOT DISTINCT FROM s.host AND u.pid = s.pid
  UNION ALL
  SELECT u.host, u.pid,
         CASE WHEN u.named IS NOT NULL THEN u.named.ip ELSE s.ip END,
         CASE WHEN u.named IS NOT NULL THEN u.named.port ELSE s.port END,
         CASE WHEN r.last IS NOT NULL THEN r.last.t ELSE s.last_failure END,
         CASE WHEN r.last IS NOT NULL THEN r.last.after ELSE COALESCE(s.failures, 0) END,
         u.last_off, 1
  FROM touched u
  LEFT JOIN runs r ON r.host IS NOT DISTINCT FROM u.host AND r.pid = u.pid
  LEFT JOIN hw_sessions_in s ON s.host IS NOT DISTINCT FROM u.host AND s.pid = u.pid
)
SELECT host, pid, ip, port, last_failure, failures, row_number() OVER (ORDER BY part, rank) - 1 AS ord
FROM merged ORDER BY ord
"""
