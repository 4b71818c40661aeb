"""The hot store: one DuckDB file in the data dir.

Concurrency (decided here, documented in docs/store.md): DuckDB lets one process write a file,
and a read-only opener fails while a writer holds it. So hostwarden holds the write connection
only for the span of a batch and a reader retries until a lock timeout (LOG-5030 after that);
a long-running server, which writes continuously, serves reads through its API instead.

Dedupe: `event.id` is a content hash of source identity + offset + line, so a repeat can only
come from re-reading the same source. An append therefore anti-joins the batch against the
stored ids of the same source (cheap thanks to zone maps) instead of keeping a global unique
index, which costs more than the whole parse at a million lines. A file's source identity is a
fingerprint of its content (core/checkpoint.py), and its lines keep the path they were read
under in `log.file.path`; `source_names` records every path an identity was stored under, so
the anti-join covers the rows of the same file read under another name (a spelling, a symlink,
`.1`, `.2.gz`).

Segments (v2): appends of SEGMENT_MIN_ROWS rows or more are written as Parquet files (see
segments.py) and `events` is a persistent view over the base table and the registered
segments, re-created by every writer open and after every segment, so every cursor sees it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from hostwarden.core.checkpoint import Checkpoint
from hostwarden.core.errors import (
    LOG_STORE_BUSY,
    LOG_STORE_CORRUPT,
    LOG_STORE_DIR,
    LOG_STORE_MISSING,
    LOG_STORE_SEGMENT,
    HostwardenError,
)
from hostwarden.core.schema import ARROW_SCHEMA, DEFAULT_TENANT, FIELDS, SCHEMA_VERSION, event_id_sql, now_utc
from hostwarden.store import segments as seg

STORE_FILE = "events.duckdb"


STAGE = "hw_stage_db"  # in-memory schema for parsed batches awaiting append


def _one(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    # DuckDB 2 refuses new work on a connection with a half-read result: always drain it.
    rows = result.fetchall()
    return rows[0] if rows else None


def _ddl() -> str:
    cols = ",\n  ".join(f'"{f.name}" {f.sql}' for f in FIELDS)
    return f"CREATE TABLE IF NOT EXISTS events (\n  {cols}\n)"


CHECKPOINT_COLUMNS = 'key, path, inode, device, "offset", fingerprint, fingerprint_len, updated, tail'
SOURCE_NAMES_DDL = ("CREATE TABLE IF NOT EXISTS source_names (identity VARCHAR, path VARCHAR, "
                    "PRIMARY KEY (identity, path))")
# v1-v3 checkpoints were keyed "file:<path>"; from v4 they are keyed by content ("fp:" + the
# fingerprint's first 32 hex digits, which is what a file of up to 1024 bytes, or the first
# 1024 bytes of a longer one, is known by). Two paths of one content become one row, the newer.
_REKEY_CHECKPOINTS = [
    "CREATE TABLE hw_checkpoints_v4 (key VARCHAR PRIMARY KEY, path VARCHAR, inode BIGINT, device BIGINT, "
    '"offset" BIGINT, fingerprint VARCHAR, fingerprint_len INTEGER, updated DOUBLE, tail VARCHAR)',
    "INSERT INTO hw_checkpoints_v4 SELECT k, arg_max(path, updated), arg_max(inode, updated), arg_max(device, updated), "
    'arg_max("offset", updated), arg_max(fingerprint, updated), arg_max(fingerprint_len, updated), max(updated), '
    "NULL FROM (SELECT *, CASE WHEN starts_with(key, 'file:') THEN 'fp:' || left(fingerprint, 32) ELSE key END "
    "AS k FROM checkpoints) GROUP BY k",
    "DROP TABLE checkpoints",
    "ALTER TABLE hw_checkpoints_v4 RENAME TO checkpoints",
]

# Migration n brings a store from version n-1 to n. Version 1 is the initial layout.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        _ddl(),
        "CREATE TABLE IF NOT EXISTS checkpoints (key VARCHAR PRIMARY KEY, path VARCHAR, inode BIGINT, "
        "device BIGINT, \"offset\" BIGINT, fingerprint VARCHAR, fingerprint_len INTEGER, updated DOUBLE)",
        "CREATE TABLE IF NOT EXISTS kv (key VARCHAR PRIMARY KEY, value VARCHAR)",
    ],
    # v2: rows move to the base table; `events` becomes a view over it and the segments.
    2: [f"ALTER TABLE events RENAME TO {seg.BASE}", seg.SEGMENTS_DDL],
    # v3: results are stored too (grade, evidence, fix, scan identity, package.*, vulnerability.*).
    # Every schema column, IF NOT EXISTS: a store made at v1 by this version already has them.
    3: [f'ALTER TABLE {seg.BASE} ADD COLUMN IF NOT EXISTS "{f.name}" {f.sql}' for f in FIELDS],
    # v4: files are known by their content: checkpoints keyed by it, with a hash of the bytes
    # before the offset; `source_names` for the dedupe.
    4: [*_REKEY_CHECKPOINTS, SOURCE_NAMES_DDL],
}
SEGMENT_DIR_KEY = "segments.data_dir"  # the data dir the persistent view's paths point into


def require_store(data_dir: Path) -> None:
    """A query of a data dir that holds no store is a mistake to say, not an empty answer."""
    if Path(data_dir).exists() and not Path(data_dir).is_dir():
        raise HostwardenError(LOG_STORE_DIR, f"{data_dir} is not a folder")
    if not (Path(data_dir) / STORE_FILE).exists():
        raise HostwardenError(LOG_STORE_MISSING, f"no store in {data_dir}")


class EventStore:
    def __init__(
        self, data_dir: Path, *, read_only: bool = False, lock_timeout: float = 10.0, memory_limit_mb: int = 256
    ) -> None:
        self.memory_limit_mb = memory_limit_mb
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / STORE_FILE
        self.read_only = read_only
        self.lock_timeout = lock_timeout
        if not read_only:
            try:
                self.data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, no permission, read-only disk
                raise HostwardenError(LOG_STORE_DIR, f"cannot use {self.data_dir} as the data dir: "
                                                     f"{exc.strerror or exc}") from exc
        elif self.data_dir.exists() and not self.data_dir.is_dir():
            raise HostwardenError(LOG_STORE_DIR, f"{self.data_dir} is not a folder")
        self._con: duckdb.DuckDBPyConnection | None = None
        self._small_waiting: int | None = None  # segments `compact` may merge, once it has counted them

    # -- connection ------------------------------------------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = self._open()
        return self._con

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self.read_only and not self.path.exists():
            con = duckdb.connect()  # an empty store reads as empty, with the same schema
            for stmt in [*MIGRATIONS[1], *_REKEY_CHECKPOINTS, SOURCE_NAMES_DDL]:
                con.execute(stmt).fetchall()
            return con
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=self.read_only)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    code = LOG_STORE_BUSY if "lock" in str(exc).lower() else LOG_STORE_CORRUPT
                    raise HostwardenError(code, f"cannot open {self.path}: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except duckdb.Error as exc:
                raise HostwardenError(LOG_STORE_CORRUPT, f"cannot open {self.path}: {exc}") from exc
        # Bound DuckDB's cache so a million-line ingest stays a small process (it spills if needed).
        con.execute(f"SET memory_limit='{self.memory_limit_mb}MB'").fetchall()
        # Parsed batches wait here between the parser thread and the writer: unlike TEMP
        # tables, an attached in-memory database is visible to every cursor of this store.
        if not self.read_only:
            con.execute(f"ATTACH ':memory:' AS {STAGE}").fetchall()
            self._migrate(con)
            rels = seg.registered(con)
            seg.remove_orphans(self.data_dir, rels)
            seg.check_readable(self.data_dir, rels)
            self._refresh_view(con, rels)
        else:
            self._check_version(con)
            rels = seg.registered(con)
            seg.check_readable(self.data_dir, rels)
            row = _one(con.execute("SELECT value FROM kv WHERE key = ?", [SEGMENT_DIR_KEY])) if rels else None
            if rels and (row is None or json.loads(row[0]) != str(self.data_dir.resolve())):
                # A moved data dir not yet reopened by a writer: this connection reads the
                # segments where they are now (a TEMP view; cursors keep the stored view).
                con.execute(seg.view_sql(self.data_dir.resolve(), rels, temp=True)).fetchall()
        return con

    def _refresh_view(self, con: duckdb.DuckDBPyConnection, rels: list[str]) -> None:
        data_dir = self.data_dir.resolve()
        con.execute(seg.view_sql(data_dir, rels)).fetchall()
        con.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", [SEGMENT_DIR_KEY, json.dumps(str(data_dir))]).fetchall()

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)").fetchall()
        row = _one(con.execute("SELECT max(version) FROM schema_version"))
        current = row[0] if row and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise HostwardenError(
                LOG_STORE_CORRUPT, f"store schema v{current} is newer than this hostwarden (v{SCHEMA_VERSION})"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            con.execute("BEGIN").fetchall()
            for stmt in MIGRATIONS[version]:
                con.execute(stmt).fetchall()
            con.execute("INSERT INTO schema_version VALUES (?)", [version]).fetchall()
            con.execute("COMMIT").fetchall()

    def _check_version(self, con: duckdb.DuckDBPyConnection) -> None:
        try:
            row = _one(con.execute("SELECT max(version) FROM schema_version"))
        except duckdb.CatalogException as exc:
            raise HostwardenError(LOG_STORE_CORRUPT, f"{self.path} is not a hostwarden store") from exc
        if row is None or row[0] is None or row[0] > SCHEMA_VERSION:
            raise HostwardenError(LOG_STORE_CORRUPT, f"{self.path}: unsupported schema version {row}")

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self.con
        con.execute("BEGIN").fetchall()
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK").fetchall()
            raise
        con.execute("COMMIT").fetchall()

    # -- writes ----------------------------------------------------------------------------
    def append(self, events: pa.Table, *, source: str | None = None, tenant: str = DEFAULT_TENANT,
               identity: str | None = None) -> int:
        """Store a batch in ARROW_SCHEMA; fills identity fields; returns rows actually added."""
        if events.num_rows == 0:
            return 0
        events = events.select(list(ARROW_SCHEMA.names)).cast(ARROW_SCHEMA)
        con = self.con
        con.register("hw_batch", events)
        try:
            return self.append_table("hw_batch", source=source, tenant=tenant, identity=identity)
        finally:
            con.unregister("hw_batch")

    def append_table(self, table: str, *, source: str | None = None, tenant: str = DEFAULT_TENANT,
                     identity: str | None = None) -> int:
        """Append from a relation already inside this connection (the bulk parser's output).

        `identity`: the content identity of the file all rows were read from (Chunk.identity);
        their ids hash it instead of the path, and the dedupe covers every path it was stored under.
        """
        con = self.con
        present = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}

        def col(name: str, default: str) -> str:
            return f'COALESCE("{name}", {default})' if name in present else default

        id_expr = event_id_sql(
            "$identity" if identity else col("log.file.path", "COALESCE($source, '-')"),
            col("log.offset", "0"),
            col("event.original", col("hostwarden.detail", "''")),
        )
        cols = []
        for f in FIELDS:
            name = f'"{f.name}"'
            if f.name == "event.id":
                own = f"COALESCE({name}, {id_expr})" if f.name in present else id_expr
                cols.append(f"{own} AS {name}")
            elif f.name in ("organization.id", "log.file.path"):
                fallback = "$tenant" if f.name == "organization.id" else "$source"
                cols.append(f"COALESCE({name}, {fallback}) AS {name}" if f.name in present else f"{fallback} AS {name}")
            elif f.name == "event.ingested":
                cols.append(f"$now AS {name}")
            elif f.name == "@timestamp":  # a line without a readable time is placed at ingest time
                cols.append(f"COALESCE({name}, $now) AS {name}" if f.name in present else f"$now AS {name}")
            elif f.name in present:
                cols.append(name)
        params: dict[str, Any] = {"source": source, "tenant": tenant, "now": now_utc()}
        if identity:
            params["identity"] = identity
        offset_col = '"log.offset"' if "log.offset" in present else "NULL::BIGINT"
        id_col = '"event.id"' if "event.id" in present else "NULL::VARCHAR"
        bounds = _one(con.execute(f"SELECT min({offset_col}), max({offset_col}), count(*), "
                                  f"count({id_col}) - count(DISTINCT {id_col}), count({id_col}) FROM {table}"))
        lo, hi, n, dup_ids, own_ids = bounds if bounds else (None, None, 0, 0, 0)
        if own_ids:
            lo = hi = None  # producer-chosen ids (journal cursors, API) are not tied to offsets
        if not n:
            return 0
        # Only rows of the same source and offset range can collide (see module docstring);
        # zone maps on log.offset make this scan touch just the overlapping row groups.
        same_source = ('"log.file.path" IS NOT DISTINCT FROM COALESCE($source, "log.file.path") '
                       if not identity else self._names_of(identity, source, params))
        existing = (
            'SELECT "event.id" FROM events WHERE "organization.id" = $tenant AND ' + same_source
            + ('AND "log.offset" BETWEEN $lo AND $hi' if lo is not None else "")
        )
        if lo is not None:
            params.update(lo=lo, hi=hi)
        # A batch only repeats an id when its producer supplied ids (API, JSON); pay for the
        # window only then.
        unique = 'QUALIFY row_number() OVER (PARTITION BY "event.id") = 1' if dup_ids else ""
        if n >= seg.SEGMENT_MIN_ROWS and not self.read_only:
            return self._append_segment(table, present, cols, existing, unique, params)
        before = self.count_rows()
        con.execute(
            f'INSERT INTO {seg.BASE} BY NAME SELECT * FROM (SELECT {", ".join(cols)} FROM {table}) '
            f'WHERE "event.id" NOT IN ({existing}) {unique}',
            params,
        ).fetchall()
        return self.count_rows() - before

    def _names_of(self, identity: str, source: str | None, params: dict[str, Any]) -> str:
        """The filter for rows of this identity: every path it was stored under, this one too.
        Recorded before the rows are, so a crash in between leaves a harmless extra name."""
        con = self.con
        con.execute("INSERT OR IGNORE INTO source_names VALUES (?, ?)", [identity, source or "-"]).fetchall()
        names = [r[0] for r in con.execute("SELECT path FROM source_names WHERE identity = ? ORDER BY path",
                                            [identity]).fetchall()]
        params.update({f"name{i}": name for i, name in enumerate(names)})
        if len(names) == 1:
            return '"log.file.path" = $name0 '  # the usual case: an equality the zone maps prune by
        return '"log.file.path" IN (' + ", ".join(f"$name{i}" for i in range(len(names))) + ") "

    def _append_segment(
        self, table: str, present: set[str], cols: list[str], existing: str, unique: str, params: dict[str, Any]
    ) -> int:
        """Write the deduped batch as one Parquet segment and register it (see segments.py)."""
        con = self.con
        inner = f'SELECT * FROM (SELECT {", ".join(cols)} FROM {table}) WHERE "event.id" NOT IN ({existing}) {unique}'
        names = {c.rsplit(" AS ", 1)[-1].strip('"') for c in cols}
        written = seg.write(con, self.data_dir, f"SELECT {seg.typed_select(names)} FROM ({inner})", params)
        if written is None:
            return 0
        rel, added = written
        con.execute("INSERT INTO segments VALUES (?, ?, ?)", [rel, added, time.time()]).fetchall()
        self._refresh_view(con, seg.registered(con))
        if self._small_waiting is not None and added < seg.COMPACT_BELOW_ROWS:
            self._small_waiting += 1
        return added

    def compact(self, *, at_least: int = seg.COMPACT_AT) -> int:
        """Merge small segments (see segments.COMPACT_*) while `at_least` of them are waiting;
        returns how many were merged. Call it outside a transaction: each merge commits its own.

        Crash-safe like an append: the merged file is published before one transaction swaps
        the registrations, and the parts are deleted only after it committed. A crash before
        the commit leaves the new file unregistered, one after it leaves the old ones so; the
        next writer open removes either."""
        at_least = max(at_least, 2)  # merging one segment alone would only rewrite it
        if self.read_only or (self._small_waiting is not None and self._small_waiting < at_least):
            return 0  # known without a query: watch asks after every flush
        merged, con = 0, self.con
        while len(waiting := seg.small(con)) >= at_least:
            parts = waiting[:seg.COMPACT_MAX]
            rel = seg.merge(con, self.data_dir, parts)
            with self.transaction():
                con.execute("DELETE FROM segments WHERE list_contains(?, path)", [[p for p, _ in parts]]).fetchall()
                con.execute("INSERT INTO segments VALUES (?, ?, ?)",
                            [rel, sum(n for _, n in parts), time.time()]).fetchall()
                self._refresh_view(con, seg.registered(con))
            for p, _ in parts:
                (self.data_dir / p).unlink(missing_ok=True)
            merged += len(parts)
        self._small_waiting = len(waiting)
        return merged

    def replace(self, rows: pa.Table, *, tenant: str = DEFAULT_TENANT) -> int:
        """Store rows by `event.id`, each replacing its earlier version: records that grow (an
        incident gains alerts). They are few and small, so they live in the base table, never in
        an immutable segment; delete and insert are one transaction."""
        if rows.num_rows == 0:
            return 0
        rows = rows.select(list(ARROW_SCHEMA.names)).cast(ARROW_SCHEMA)
        con = self.con
        con.register("hw_replace", rows)
        try:
            with self.transaction():
                con.execute(f'DELETE FROM {seg.BASE} WHERE "organization.id" = ? AND "event.id" IN '
                            '(SELECT "event.id" FROM hw_replace)', [tenant]).fetchall()
                con.execute(f'INSERT INTO {seg.BASE} BY NAME SELECT * REPLACE (COALESCE("organization.id", ?) AS '
                            '"organization.id", ?::TIMESTAMPTZ AS "event.ingested") FROM hw_replace',
                            [tenant, now_utc()]).fetchall()
        finally:
            con.unregister("hw_replace")
        return rows.num_rows

    def update_details(self, updates: list[tuple[str, str]]) -> int:
        """Rewrite alerts' details in place, in one pass: one statement per alert scanned the
        base table once each, which grew with the table times the alerts of a save. Alerts are
        small appends, so they live in the base table; segments are immutable and never hold a
        row this could target. The last detail given for an id wins."""
        if not updates:
            return 0
        latest = dict(updates)
        table = pa.table({"id": list(latest), "detail": list(latest.values())})
        con = self.con
        con.register("hw_details", table)
        try:
            row = _one(con.execute(
                f'UPDATE {seg.BASE} AS t SET "hostwarden.detail" = u.detail FROM hw_details AS u '
                'WHERE t."event.id" = u.id'))
        finally:
            con.unregister("hw_details")
        return int(row[0]) if row else 0

    def count_rows(self) -> int:
        rows = self.query("SELECT count(*) FROM events")
        return int(rows[0][0]) if rows else 0

    # -- checkpoints (core.checkpoint.CheckpointStore) -------------------------------------
    def load_checkpoint(self, key: str) -> Checkpoint | None:
        row = _one(self.con.execute(f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE key = ?", [key]))
        return _checkpoint(row) if row else None

    def find_checkpoints(self, keys: list[str]) -> list[Checkpoint]:
        rows = self.con.execute(f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE list_contains(?, key)",
                                [keys]).fetchall()
        return [_checkpoint(row) for row in rows]

    def last_checkpoint_at(self, path: str) -> Checkpoint | None:
        row = _one(self.con.execute(
            f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE path = ? ORDER BY updated DESC LIMIT 1", [path]))
        return _checkpoint(row) if row else None

    def save_checkpoint(self, cp: Checkpoint) -> None:
        self.con.execute(
            f"INSERT OR REPLACE INTO checkpoints ({CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [cp.key, cp.path, cp.inode, cp.device, cp.offset, cp.fingerprint, cp.fingerprint_len, cp.updated,
             cp.tail],
        ).fetchall()

    # -- small key-value state (correlation snapshots, last scan results) -------------------
    def get_state(self, key: str) -> Any:
        row = _one(self.con.execute("SELECT value FROM kv WHERE key = ?", [key]))
        return json.loads(row[0]) if row else None

    def put_state(self, key: str, value: Any) -> None:
        self.put_state_json(key, json.dumps(value, default=str))

    def put_state_json(self, key: str, text: str) -> None:
        """`put_state` of a value already encoded (watch encodes its large state elsewhere)."""
        self.con.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", [key, text]).fetchall()

    # -- reads -----------------------------------------------------------------------------
    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql, params or []).fetchall()
        except duckdb.Error as exc:
            raise _segment_error(exc, seg.registered(self.con)) from exc

    def query_arrow(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pa.Table:
        try:
            # a relation, not a cursor: DuckDB's cursor result copies the rows once more into Arrow
            return self.con.sql(sql, params=params or None).to_arrow_table()
        except duckdb.Error as exc:
            raise _segment_error(exc, seg.registered(self.con)) from exc

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", ".wal"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                total += p.stat().st_size
        seg_dir = seg.segment_dir(self.data_dir)
        if seg_dir.is_dir():
            total += sum(p.stat().st_size for p in seg_dir.iterdir() if p.is_file())
        return total


def _checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    *fields, tail = row
    return Checkpoint(*fields, tail=tail or "")


def _segment_error(exc: duckdb.Error, rels: list[str]) -> Exception:
    """A read that fails on data (not on the SQL) while segments exist is reported as LOG-5032
    naming them; DuckDB's message for garbage pages ("don't know what type") names no file."""
    sql_fault = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException,
                 duckdb.ConstraintException, duckdb.TransactionException)
    if ".parquet" in str(exc) or (rels and not isinstance(exc, sql_fault)):
        return HostwardenError(LOG_STORE_SEGMENT, f"store segment unreadable ({', '.join(rels)}): {exc}")
    return exc
