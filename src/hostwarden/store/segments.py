"""Parquet segments: big appends written as immutable files beside the DuckDB file.

Why: DuckDB's INSERT into the wide persistent table costs ~11 µs/row, while COPY of the
same rows to a zstd Parquet file costs a few µs. A segment is written to a temp name, fsynced,
renamed, and only then registered in the `segments` table inside the caller's transaction:
a crash leaves either an unregistered file (ignored, removed by the next writer) or a
registered one (read). Paths are stored relative to the data dir so a moved dir still works.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import duckdb

from hostwarden.core.errors import LOG_STORE_SEGMENT, HostwardenError
from hostwarden.core.schema import FIELDS

SEGMENT_DIR = "segments"
SEGMENT_MIN_ROWS = 20_000  # appends of at least this many rows become a segment
ROW_GROUP_ROWS = 16_384  # small row groups: tight log.offset stats for dedupe, bounded write buffers
BASE = "events_base"  # small appends (alerts, API batches, findings) stay in this table

# Merging: a `watch` following 10,000+ lines/s writes a segment per 2 s flush (20,000+ rows), and
# every file behind the `events` view costs each query a metadata read. Segments under
# COMPACT_BELOW_ROWS are merged COMPACT_AT at a time, at most COMPACT_MAX per merge. (A bulk
# ingest writes one segment per chunk, 17–36 for a million lines: it doesn't merge them.)
COMPACT_BELOW_ROWS = 200_000
COMPACT_AT = 16
COMPACT_MAX = 64

SEGMENTS_DDL = "CREATE TABLE IF NOT EXISTS segments (path VARCHAR PRIMARY KEY, rows BIGINT, created DOUBLE)"


def segment_dir(data_dir: Path) -> Path:
    return data_dir / SEGMENT_DIR


def new_segment_path(data_dir: Path) -> tuple[Path, str]:
    """A fresh temp path and the relative name it will be registered under."""
    seg_dir = segment_dir(data_dir)
    seg_dir.mkdir(parents=True, exist_ok=True)
    rel = f"{SEGMENT_DIR}/{uuid.uuid4().hex}.parquet"
    return data_dir / (rel + ".tmp"), rel


def publish(tmp: Path, final: Path) -> None:
    """fsync the file, rename it into place, fsync the directory: the rename is the commit point
    of the file (its registration is the commit point of the data)."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    dfd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def registered(con: duckdb.DuckDBPyConnection) -> list[str]:
    try:
        return [r[0] for r in con.execute("SELECT path FROM segments ORDER BY path").fetchall()]
    except duckdb.Error:  # a v1 store read without migration, or an aborted transaction
        return []


def small(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """Segments small enough to merge, oldest first."""
    return [(r[0], int(r[1])) for r in con.execute(
        "SELECT path, rows FROM segments WHERE rows < ? ORDER BY created, path", [COMPACT_BELOW_ROWS]).fetchall()]


def write(con: duckdb.DuckDBPyConnection, data_dir: Path, select: str, params: Any = None) -> tuple[str, int] | None:
    """Write the rows of `select` as a new published segment (not yet registered): its relative
    name and row count, or None (and no file) when it has no rows."""
    tmp, rel = new_segment_path(data_dir)
    target = str(tmp).replace("'", "''")
    try:
        row = con.execute(f"COPY ({select}) TO '{target}' "
                          f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})", params).fetchall()
        rows = int(row[0][0]) if row else 0
        if not rows:
            tmp.unlink(missing_ok=True)
            return None
        publish(tmp, data_dir / rel)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rel, rows


def merge(con: duckdb.DuckDBPyConnection, data_dir: Path, parts: list[tuple[str, int]]) -> str:
    """The rows of `parts`, in order, as one new published segment (not yet registered): its
    relative name. Each part's rows stay in arrival order, so log.offset stats stay tight."""
    expected = sum(n for _, n in parts)
    files = _quoted(data_dir, [p for p, _ in parts])
    written = write(con, data_dir, f"SELECT * FROM read_parquet([{files}], union_by_name = true)")  # noqa: S608
    if written is None or written[1] != expected:
        if written is not None:
            (data_dir / written[0]).unlink(missing_ok=True)
        raise HostwardenError(LOG_STORE_SEGMENT, f"merging {len(parts)} segments wrote "
                                                 f"{written[1] if written else 0} rows, not {expected}")
    return written[0]


def _quoted(data_dir: Path, rels: list[str]) -> str:
    """Absolute paths as SQL string literals (paths are ours, quotes doubled all the same)."""
    return ", ".join("'" + str(data_dir / r).replace("'", "''") + "'" for r in rels)


def remove_orphans(data_dir: Path, known: list[str]) -> list[Path]:
    """Delete segment files no transaction registered (a crash between rename and commit)."""
    seg_dir = segment_dir(data_dir)
    if not seg_dir.is_dir():
        return []
    keep = {data_dir / k for k in known}
    removed = [p for p in seg_dir.iterdir() if p.is_file() and p not in keep]
    for p in removed:
        p.unlink(missing_ok=True)
    return removed


def typed_select(present: set[str]) -> str:
    """The schema's columns that a batch has, typed, in schema order. A segment holds only
    those: the `events` view reads segments by name and fills the others with NULL, and each
    all-NULL column would cost a write (~1 ms per 60,000 rows) for nothing — a syslog chunk
    fills about 25 of the 109 columns."""
    return ", ".join(f'"{f.name}"::{f.sql} AS "{f.name}"' for f in FIELDS if f.name in present)


def view_sql(data_dir: Path, rels: list[str], *, temp: bool = False) -> str:
    """The `events` view: the base table plus every registered segment (absolute paths,
    resolved from the current data dir)."""
    kind = "TEMP VIEW" if temp else "VIEW"
    base = f"SELECT * FROM {BASE}"  # noqa: S608 -- constant table name
    if rels:
        # union_by_name: a segment holds only the columns its rows had (see typed_select), and
        # one written before a schema change lacks that change's columns: NULL there.
        base += (f" UNION ALL BY NAME SELECT * FROM read_parquet([{_quoted(data_dir, rels)}], "  # noqa: S608 -- quoted paths
                 "union_by_name = true)")
    return f"CREATE OR REPLACE {kind} events AS {base}"


def check_readable(data_dir: Path, rels: list[str]) -> None:
    """Fail with LOG-5032 naming the damaged file instead of an opaque DuckDB error later."""
    for rel in rels:
        p = data_dir / rel
        try:
            size = p.stat().st_size
            with p.open("rb") as fh:
                head = fh.read(4)
                fh.seek(max(size - 4, 0))
                tail = fh.read(4)
        except OSError as exc:
            raise HostwardenError(LOG_STORE_SEGMENT, f"segment {p} unreadable: {exc}") from exc
        if size < 12 or head != b"PAR1" or tail != b"PAR1":
            raise HostwardenError(LOG_STORE_SEGMENT, f"segment {p} is damaged or truncated ({size} bytes)")
