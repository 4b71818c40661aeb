"""What a source's parse carries from one line to the next, as one explicit object.

A log line does not always stand alone: sshd names the client address once per connection
and later lines of the same process only carry its pid, and the lines PAM and sshd write about
one password attempt are one attempt, not two. Both parsers of a source — the per-line one and
the columnar plan in DuckDB — take a `ParseState` and hand it back updated, chunk after chunk,
so whether a line gets its `source.ip` (or counts as an attempt) never depends on where a chunk
ended or which command read the file. The rule itself is in `normalize.sessions`, once per
executor, side by side.

Formats of multi-line records (apt's history.log and term.log) keep the header they are in
here too (`record`), not in the parser object: what a source carries is this one object,
whichever parser instance reads the next chunk.

The state is small data: it serializes to JSON (`to_json`/`from_json`) and its sessions travel
to DuckDB as an Arrow table (`sessions_table`) and back (`set_sessions_table`) without a trip
through Python objects, which is what the columnar executor uses; the line executor reads and
writes the same sessions as a dict. Whichever form was written last is the truth, and the other
is made from it only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

SESSION_CAP = 50_000  # sshd sessions remembered per source (the least recently active go first)

SessionKey = tuple[str | None, int]  # (host.name, process.pid)

SESSIONS_SCHEMA = pa.schema([
    pa.field("host", pa.string()),
    pa.field("pid", pa.int64()),
    pa.field("ip", pa.string()),
    pa.field("port", pa.int32()),
    pa.field("last_failure", pa.int64()),  # µs since the epoch of the session's last failure line
    pa.field("failures", pa.int32()),  # `Failed …` lines in the session's current run of failures
    pa.field("counted", pa.bool_()),  # has that run counted its first attempt yet?
    pa.field("ord", pa.int64()),  # recency: higher is more recently active
])


@dataclass(slots=True)
class Session:
    """One sshd process's connection as far as its lines told: the client address (the last
    line that named one) and its current run of authentication failures."""

    ip: str | None = None
    port: int | None = None
    last_failure: int | None = None  # µs since the epoch; None: none yet, or the line had no time
    failures: int = 0
    counted: bool = False


@dataclass(slots=True)
class RecordHeader:
    """The header of a multi-line record as far as read, which the record's later lines carry:
    apt's history.log (`Start-Date`, `Commandline`, `Requested-By`) and term.log (`Log started`).
    A record a chunk boundary splits keeps its user and time."""

    time: datetime | None = None  # the record's start
    fields: dict[str, str] = field(default_factory=dict)  # ECS fields of the header (user.name, …)
    ended: datetime | None = None  # the previous record's end: the time of the blank line after it

    def start(self, time: datetime | None) -> None:
        self.time, self.fields = time, {}


class ParseState:
    """The state one source's parse carries across chunks (see the module doc)."""

    def __init__(self, cap: int = SESSION_CAP) -> None:
        self.cap = cap
        self._sessions: dict[SessionKey, Session] | None = {}
        self._table: pa.Table | None = None
        self._keys: pa.Array | None = None  # `_key_texts(_table)`, kept beside it by merges
        self.record = RecordHeader()  # apt's multi-line records (normalize/apt.py)

    # -- the line executor's view ----------------------------------------------------------
    @property
    def sessions(self) -> dict[SessionKey, Session]:
        """Sessions by (host, pid), least recently active first. The caller may change it."""
        if self._sessions is None:
            assert self._table is not None
            self._sessions = _from_table(self._table)
            self._table = self._keys = None
        return self._sessions

    def trim(self) -> None:
        """Forget the least recently active sessions beyond `cap` (done at the end of a chunk by
        both executors, so the two agree whatever the chunk size while fewer than `cap`
        sessions are alive at once)."""
        if self._sessions is not None:
            excess = len(self._sessions) - self.cap
            if excess > 0:
                for key in list(self._sessions)[:excess]:
                    del self._sessions[key]
        elif self._table is not None and self._table.num_rows > self.cap:
            kept = pc.sort_indices(self._table.column("ord")).slice(self._table.num_rows - self.cap)
            self._table = self._table.take(kept)
            self._keys = self._keys.take(kept) if self._keys is not None else None

    # -- the columnar executor's view ------------------------------------------------------
    def sessions_table(self) -> pa.Table:
        """The sessions as an Arrow table (SESSIONS_SCHEMA); `ord` gives their recency (the rows
        themselves may be in any order)."""
        if self._table is None:
            self._table, self._keys = _to_table(self.sessions), None
            self._sessions = None
        return self._table

    def set_sessions_table(self, table: pa.Table) -> None:
        """Replace the sessions by a table in SESSIONS_SCHEMA's columns (`ord`: recency)."""
        self._table, self._keys = table.select(SESSIONS_SCHEMA.names).cast(SESSIONS_SCHEMA), None
        self._sessions = None
        self.trim()

    def merge_sessions_table(self, touched: pa.Table) -> None:
        """Put sessions a chunk touched (SESSIONS_SCHEMA's columns, `ord` above every present
        one) in place of their old rows: the others keep theirs."""
        touched = touched.select(SESSIONS_SCHEMA.names).cast(SESSIONS_SCHEMA)
        current = self.sessions_table()
        current_keys = self._keys if self._keys is not None and len(self._keys) == current.num_rows else _key_texts(current)
        touched_keys = _key_texts(touched)
        if current.num_rows and touched.num_rows:
            keep = pc.invert(pc.is_in(current_keys, value_set=touched_keys))
            current, current_keys = current.filter(keep), current_keys.filter(keep)
        self._table = pa.concat_tables([current, touched]) if current.num_rows else touched
        self._keys = pa.concat_arrays([current_keys, touched_keys]) if current.num_rows else touched_keys
        self._sessions = None
        self.trim()

    def __len__(self) -> int:
        return len(self._sessions) if self._sessions is not None else self.sessions_table().num_rows

    # -- saving ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        table = self.sessions_table()
        table = table.take(pc.sort_indices(table.column("ord")))
        fields = ("host", "pid", "ip", "port", "last_failure", "failures", "counted")
        rows = [[r[f] for f in fields] for r in table.to_pylist()]
        rec = self.record
        record = {"time": _iso(rec.time), "fields": dict(rec.fields), "ended": _iso(rec.ended)}
        return {"version": 1, "cap": self.cap, "sessions": rows, "record": record}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ParseState:
        state = cls(int(data.get("cap") or SESSION_CAP))
        for host, pid, ip, port, last_failure, failures, counted in data.get("sessions") or ():
            state.sessions[(host, int(pid))] = Session(ip, port, last_failure, int(failures), bool(counted))
        record = data.get("record") or {}
        state.record = RecordHeader(_datetime(record.get("time")), dict(record.get("fields") or {}),
                                    _datetime(record.get("ended")))
        return state


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _datetime(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _key_texts(table: pa.Table) -> pa.Array:
    """One text per (host, pid): what `is_in` can compare (it takes no struct)."""
    host = pc.fill_null(table.column("host"), "\x00")  # a null host is its own value
    joined = pc.binary_join_element_wise(host, pc.cast(table.column("pid"), pa.string()), "\x1f")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _to_table(sessions: dict[SessionKey, Session]) -> pa.Table:
    keys = list(sessions)
    values = list(sessions.values())
    return pa.table({
        "host": pa.array([k[0] for k in keys], pa.string()),
        "pid": pa.array([k[1] for k in keys], pa.int64()),
        "ip": pa.array([s.ip for s in values], pa.string()),
        "port": pa.array([s.port for s in values], pa.int32()),
        "last_failure": pa.array([s.last_failure for s in values], pa.int64()),
        "failures": pa.array([s.failures for s in values], pa.int32()),
        "counted": pa.array([s.counted for s in values], pa.bool_()),
        "ord": pa.array(range(len(keys)), pa.int64()),
    }, schema=SESSIONS_SCHEMA)


def _from_table(table: pa.Table) -> dict[SessionKey, Session]:
    table = table.take(pc.sort_indices(table.column("ord")))
    columns = [table.column(n).to_pylist() for n in ("host", "pid", "ip", "port", "last_failure", "failures", "counted")]
    return {(host, pid): Session(ip, port, last, failures, counted)
            for host, pid, ip, port, last, failures, counted in zip(*columns, strict=True)}
