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
  `Failed …` lines) attempts: its first line with a client address (its own or carried) is an
  attempt, and so is every `Failed …` line after the run's first one. Every other failure line
  is tagged `same_attempt`, so thresholds that count attempts per source (rules/detect/ssh.yml)
  count each attempt once, under its address (an old sshd writes `check pass; user unknown`,
  with no address, before PAM's line with `rhost=`). The gap is sshd's default LoginGraceTime:
  a connection cannot spend longer before authenticating, so a reused pid starts a new run.

`carry_events` is the per-line executor (streaming, small chunks); `attempt_runs` is the attempt
rule in array operations, which the columnar executor (normalize.bulk_sessions, DuckDB) applies
to a chunk's failure lines. tests/unit/normalize/test_state_agrees.py holds them to the same
result for any split of the same lines into chunks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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
    addressed = ev.get("source.ip") is not None or ev.get("source.domain") is not None
    last = session.last_failure
    if last is None or t is None or t - last > _GAP_US:
        session.failures, session.counted = 0, False  # a new run
    if session.counted:
        attempt = failed and session.failures >= 1
    else:
        attempt = session.counted = addressed
    if not attempt:
        ev["tags"] = sorted({*(ev.get("tags") or ()), SAME_ATTEMPT})
    if failed:
        session.failures += 1
    session.last_failure = t


def attempt_runs(lines: pa.Table) -> tuple[np.ndarray, pa.Table]:
    """The attempt rule over failure lines in array operations: `_count_attempt` for a whole
    chunk at once. `lines`: one row per sshd failure line, columns off, host, pid, t (µs, may
    be null), failed_line, addressed, and what the state knows of the line's process (s_last,
    s_failures, s_counted; null when nothing). Returns, in the rows' order, whether each repeats
    an attempt, and per process what the state keeps after them (host, pid, last_failure,
    failures, counted)."""
    n = lines.num_rows

    def column(name: str, fill: Any, dtype: Any) -> np.ndarray:
        if name not in lines.column_names:
            return np.full(n, fill, dtype=dtype)
        return np.asarray(pc.fill_null(lines.column(name), fill).to_numpy(zero_copy_only=False), dtype=dtype)

    def missing(name: str) -> np.ndarray:
        if name not in lines.column_names:
            return np.ones(n, dtype=bool)
        return np.asarray(lines.column(name).is_null().to_numpy(zero_copy_only=False), dtype=bool)

    host = (np.asarray(pc.fill_null(pc.dictionary_encode(lines.column("host")).combine_chunks().indices, -1)
                       .to_numpy(zero_copy_only=False), dtype=np.int64) if n else np.zeros(0, np.int64))
    pid, off = column("pid", 0, np.int64), column("off", 0, np.int64)
    order = np.lexsort((off, pid, host))
    host, pid = host[order], pid[order]
    t, untimed = column("t", 0, np.int64)[order], missing("t")[order]
    failed, addressed = column("failed_line", False, bool)[order], column("addressed", False, bool)[order]
    s_last, s_no_last = column("s_last", 0, np.int64)[order], missing("s_last")[order]
    s_failures, s_counted = column("s_failures", 0, np.int64)[order], column("s_counted", False, bool)[order]
    index = np.arange(n)
    first = np.ones(n, dtype=bool)
    first[1:] = (host[1:] != host[:-1]) | (pid[1:] != pid[:-1])
    prev, prev_missing = np.where(first, s_last, np.roll(t, 1)), np.where(first, s_no_last, np.roll(untimed, 1))
    new_run = prev_missing | untimed | (t - prev > _GAP_US)
    starts = np.maximum.accumulate(np.where(first, index, 0))  # each row's process's first row
    runs = np.cumsum(new_run)
    continuing = (runs - runs[starts] + new_run[starts]) == 0  # the run the state left open
    run_start = np.maximum.accumulate(np.where(new_run | first, index, 0))

    def before_in_run(flags: np.ndarray) -> np.ndarray:
        earlier = np.cumsum(flags) - flags
        return earlier - earlier[run_start]

    failures = before_in_run(failed) + np.where(continuing, s_failures[starts], 0)
    counted = (before_in_run(addressed) > 0) | (continuing & s_counted[starts])
    attempt = np.where(counted, failed & (failures >= 1), addressed)
    same = np.empty(n, dtype=bool)
    same[order] = ~attempt
    ends = np.r_[np.flatnonzero(first)[1:] - 1, n - 1] if n else index
    summary = pa.table({
        "host": lines.column("host").take(pa.array(order[ends], pa.int64())),
        "pid": pa.array(pid[ends], pa.int64()),
        "last_failure": pa.array(t[ends], pa.int64(), mask=untimed[ends]),
        "failures": pa.array(failures[ends] + failed[ends], pa.int32()),
        "counted": pa.array(counted[ends] | addressed[ends], pa.bool_()),
    })
    return same, summary
