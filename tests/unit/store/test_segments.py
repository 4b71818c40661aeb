"""Parquet segments behind the `events` view, on real DuckDB files and real Parquet files."""

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hostwarden.core.chunks import Chunk
from hostwarden.core.errors import HostwardenError
from hostwarden.core.schema import ARROW_SCHEMA, SCHEMA_VERSION, to_arrow
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store import eventstore as hot
from hostwarden.store import segments
from hostwarden.store.eventstore import EventStore

LINES = b"".join(
    f"Nov 28 10:00:{i % 60:02d} web01 sshd[{100 + i}]: Failed password for root from 203.0.113.{i % 250} port {4000 + i} ssh2\n".encode()
    for i in range(3000)
)


@pytest.fixture
def small_segments(monkeypatch):
    """Segment-sized batches without a 20k-line fixture: the threshold drops to 1,000 rows."""
    monkeypatch.setattr(segments, "SEGMENT_MIN_ROWS", 1000)


def seg_files(data_dir):
    d = data_dir / segments.SEGMENT_DIR
    return sorted(d.iterdir()) if d.is_dir() else []


def test_big_append_becomes_a_segment_and_reingest_adds_nothing(tmp_path, small_segments):
    with EventStore(tmp_path) as store:
        first = ingest_chunks(store, [Chunk("/var/log/auth.log", 0, LINES)])
        assert first.stored == 3000
        assert len(seg_files(tmp_path)) >= 1
        assert store.query(f"SELECT count(*) FROM {segments.BASE}")[0][0] == 0  # nothing went to the table
        assert store.count_rows() == 3000
        again = ingest_chunks(store, [Chunk("/var/log/auth.log", 0, LINES)])
        assert again.stored == 0
        assert store.count_rows() == 3000
        assert store.query('SELECT count(DISTINCT "event.id") FROM events')[0][0] == 3000


def test_overlap_between_segment_and_base_table_is_deduped(tmp_path, small_segments):
    half = LINES.index(b"\n", len(LINES) // 2) + 1
    tail = LINES[half:]
    first_small = b"".join(tail.splitlines(keepends=True)[:10])
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("a.log", half, first_small)])  # 10 rows: base table
        assert store.query(f"SELECT count(*) FROM {segments.BASE}")[0][0] == 10
        stats = ingest_chunks(store, [Chunk("a.log", 0, LINES)])  # segment, overlapping the 10
        assert stats.stored == 2990
        assert store.count_rows() == 3000


def test_cursor_and_second_process_see_the_segment(tmp_path, small_segments):
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("a.log", 0, LINES)])
        assert store.con.cursor().execute("SELECT count(*) FROM events").fetchall()[0][0] == 3000
    code = textwrap.dedent(f"""
        from hostwarden.store.eventstore import EventStore
        with EventStore({str(tmp_path)!r}, read_only=True) as s:
            print(s.count_rows(), s.con.cursor().execute("SELECT count(*) FROM events").fetchall()[0][0])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["3000", "3000"]


def test_missing_store_reads_as_empty(tmp_path):
    with EventStore(tmp_path / "nope", read_only=True) as store:
        assert store.count_rows() == 0


def test_v1_store_is_migrated_with_its_rows(tmp_path):
    con = duckdb.connect(str(tmp_path / hot.STORE_FILE))
    for stmt in hot.MIGRATIONS[1]:
        con.execute(stmt)
    con.execute("CREATE TABLE schema_version (version INTEGER)")
    con.execute("INSERT INTO schema_version VALUES (1)")
    con.execute("INSERT INTO events (\"event.id\", \"organization.id\", \"log.file.path\", \"log.offset\") "
                "VALUES ('x1', 'default', 'a.log', 0)")
    con.close()
    with EventStore(tmp_path) as store:
        assert store.query("SELECT max(version) FROM schema_version")[0][0] == SCHEMA_VERSION
        assert store.query(f'SELECT "event.id" FROM {segments.BASE}') == [("x1",)]
        assert store.query("SELECT count(*) FROM segments")[0][0] == 0
        assert store.count_rows() == 1


def _full_row() -> pa.Table:
    """One row with a non-null value of the right type in every column."""
    samples = {
        pa.string(): "v", pa.int64(): 7, pa.int32(): 3,
        pa.list_(pa.string()): ["a", "b"], pa.map_(pa.string(), pa.string()): [("k", "v")],
        pa.float64(): 9.8, pa.bool_(): True,
    }
    row = {}
    for f in ARROW_SCHEMA:
        if pa.types.is_timestamp(f.type):
            row[f.name] = [datetime(2026, 11, 28, 10, 0, 1, 123456, tzinfo=UTC)]
        else:
            row[f.name] = [samples[f.type]]
    return pa.table(row, schema=ARROW_SCHEMA)


def test_every_column_type_round_trips_through_a_segment(tmp_path, monkeypatch):
    table = _full_row()
    with EventStore(tmp_path / "base") as base:
        base.append(table)
        want = base.query('SELECT * EXCLUDE ("event.ingested") FROM events')
        base_types = base.query(f"SELECT column_name, column_type FROM (DESCRIBE {segments.BASE})")
    monkeypatch.setattr(segments, "SEGMENT_MIN_ROWS", 1)
    with EventStore(tmp_path / "seg") as store:
        assert store.append(table) == 1
        assert len(seg_files(tmp_path / "seg")) == 1
        got = store.query('SELECT * EXCLUDE ("event.ingested") FROM events')
        path = str(seg_files(tmp_path / "seg")[0])
        seg_types = store.query(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{path}'))")
        view_types = store.query("SELECT column_name, column_type FROM (DESCRIBE events)")
    assert got == want
    assert seg_types == base_types == view_types


def test_damaged_segment_is_a_clear_error(tmp_path, small_segments):
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("a.log", 0, LINES)])
    (path,) = seg_files(tmp_path)
    os.truncate(path, path.stat().st_size // 2)
    for read_only in (True, False):
        with pytest.raises(HostwardenError) as err, EventStore(tmp_path, read_only=read_only) as s:
            s.count_rows()
        assert err.value.code.code == "LOG-5032"


def test_segment_damaged_inside_is_a_clear_error_on_read(tmp_path, small_segments):
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("a.log", 0, LINES)])
    (path,) = seg_files(tmp_path)
    data = bytearray(path.read_bytes())
    end = len(data) - 8 - int.from_bytes(data[-8:-4], "little")  # where the footer starts
    data[4:end] = b"\xff" * (end - 4)  # magic bytes and footer intact, every page garbage
    path.write_bytes(bytes(data))
    with pytest.raises(HostwardenError) as err, EventStore(tmp_path, read_only=True) as s:
        s.query('SELECT count(DISTINCT "message") FROM events')
    assert err.value.code.code == "LOG-5032"
    assert path.name in err.value.message


def test_unregistered_segment_is_ignored_and_removed(tmp_path, small_segments):
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("a.log", 0, LINES)])
    (path,) = seg_files(tmp_path)
    orphan = path.with_name("orphan.parquet")
    orphan.write_bytes(path.read_bytes())  # a crash after rename, before the registration committed
    with EventStore(tmp_path, read_only=True) as store:
        assert store.count_rows() == 3000
    with EventStore(tmp_path) as store:
        assert store.count_rows() == 3000
    assert not orphan.exists()


def test_rolled_back_segment_is_not_read(tmp_path, small_segments):
    with EventStore(tmp_path) as store:
        batch = to_arrow([{"message": f"m{i}", "log.file.path": "a.log", "log.offset": i} for i in range(1500)])
        with pytest.raises(RuntimeError), store.transaction():
            assert store.append(batch) == 1500
            assert store.count_rows() == 1500  # the writer reads its own segment
            raise RuntimeError("crash before checkpoint commit")
        assert store.count_rows() == 0
    with EventStore(tmp_path) as store:
        assert store.count_rows() == 0
        assert seg_files(tmp_path) == []


def test_moved_data_dir_still_reads_its_segments(tmp_path, small_segments):
    with EventStore(tmp_path / "a") as store:
        ingest_chunks(store, [Chunk("a.log", 0, LINES)])
    (tmp_path / "a").rename(tmp_path / "b")
    with EventStore(tmp_path / "b", read_only=True) as store:
        assert store.count_rows() == 3000
    with EventStore(tmp_path / "b") as store:
        assert store.con.cursor().execute("SELECT count(*) FROM events").fetchall()[0][0] == 3000


def test_detail_updates_target_base_rows_and_size_counts_segments(tmp_path, small_segments):
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("a.log", 0, LINES)])
        store.append(_full_row())
        eid = store.query(f'SELECT "event.id" FROM {segments.BASE}')[0][0]
        assert store.update_details([(eid, "{\"n\": 2}")]) == 1
        assert store.query('SELECT "hostwarden.detail" FROM events WHERE "event.id" = ?', [eid]) == [('{"n": 2}',)]
        seg_bytes = sum(p.stat().st_size for p in seg_files(tmp_path))
        assert seg_bytes > 0
        assert store.size_bytes() >= seg_bytes + (tmp_path / hot.STORE_FILE).stat().st_size


def test_update_details_rewrites_many_alerts_in_one_pass(tmp_path):
    from hostwarden.core.schema import to_arrow

    alerts = [{"event.kind": "alert", "event.original": f"alert {i}", "log.offset": i,
               "hostwarden.detail": '{"n": 1}'} for i in range(300)]
    with EventStore(tmp_path) as store:
        assert store.append(to_arrow(alerts), source="hostwarden") == 300
        ids = [r[0] for r in store.query('SELECT "event.id" FROM events ORDER BY "log.offset"')]
        updates = [(eid, f'{{"n": {i + 2}}}') for i, eid in enumerate(ids[:200])]
        updates += [(ids[0], '{"n": "last"}'), ("no-such-id", '{"n": 0}')]  # a later detail for an id wins
        assert store.update_details(updates) == 200
        details = dict(store.query('SELECT "event.id", "hostwarden.detail" FROM events'))
        assert details[ids[0]] == '{"n": "last"}' and details[ids[1]] == '{"n": 3}'
        assert details[ids[199]] == '{"n": 201}' and details[ids[200]] == '{"n": 1}'  # untouched past the updates
        assert store.update_details([]) == 0


def _chunks_of(data: bytes, lines_each: int) -> list[Chunk]:
    out, offset, rows = [], 0, data.splitlines(keepends=True)
    for i in range(0, len(rows), lines_each):
        piece = b"".join(rows[i:i + lines_each])
        out.append(Chunk("/var/log/auth.log", offset, piece))
        offset += len(piece)
    return out


def _all_rows(store: EventStore) -> list[tuple]:
    return store.query('SELECT "event.id", "log.offset", "source.ip", "@timestamp", tags FROM events ORDER BY "log.offset"')


def test_compaction_merges_small_segments_into_one_with_the_same_rows(tmp_path, small_segments):
    with EventStore(tmp_path) as store:
        ingest_chunks(store, _chunks_of(LINES * 6, 1000))  # 18 small segments, 1,000 rows each
        assert len(seg_files(tmp_path)) == 18
        before = _all_rows(store)
        assert store.compact() == 18
        assert len(seg_files(tmp_path)) == 1
        assert store.query("SELECT count(*), sum(rows) FROM segments") == [(1, 18_000)]
        assert _all_rows(store) == before
        again = ingest_chunks(store, _chunks_of(LINES * 6, 1000))  # the merged file still dedupes
        assert again.stored == 0 and store.count_rows() == 18_000
        assert store.compact() == 0  # one segment left: nothing to merge
    with EventStore(tmp_path, read_only=True) as reader:
        assert _all_rows(reader) == before


def test_compaction_waits_for_enough_small_segments_and_leaves_big_ones(tmp_path, small_segments, monkeypatch):
    monkeypatch.setattr(segments, "COMPACT_BELOW_ROWS", 1500)
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("/var/log/big.log", 0, LINES)])  # one 3,000-row segment: not small
        ingest_chunks(store, _chunks_of(LINES * 5, 1000))  # 15 small ones: one short of COMPACT_AT
        assert store.compact() == 0 and len(seg_files(tmp_path)) == 16
        assert store.compact(at_least=2) == 15
        assert sorted(r[0] for r in store.query("SELECT rows FROM segments")) == [3000, 15_000]
        assert store.count_rows() == 18_000


def test_a_crash_inside_compaction_loses_and_duplicates_nothing(tmp_path, small_segments, monkeypatch):
    with EventStore(tmp_path) as store:
        ingest_chunks(store, _chunks_of(LINES * 6, 1000))
        before = _all_rows(store)

        def crash(*_args, **_kwargs):
            raise RuntimeError("power cut after the merged file was published")

        monkeypatch.setattr(store, "_refresh_view", crash)  # inside the swap's transaction
        with pytest.raises(RuntimeError, match="power cut"):
            store.compact()
        monkeypatch.undo()
        assert len(seg_files(tmp_path)) == 19  # the 18 parts and the unregistered merge
    with EventStore(tmp_path) as store:  # the next writer open removes the unregistered file
        assert _all_rows(store) == before
        assert len(seg_files(tmp_path)) == 18
        assert store.compact() == 18 and _all_rows(store) == before


def test_parts_left_behind_after_the_swap_are_not_read_twice(tmp_path, small_segments, monkeypatch):
    import pathlib

    with EventStore(tmp_path) as store:
        ingest_chunks(store, _chunks_of(LINES * 6, 1000))
        before = _all_rows(store)
        real_unlink = pathlib.Path.unlink

        def fail_on_parts(path, missing_ok=False):
            if path.suffix == ".parquet":
                raise OSError("crash before the parts were deleted")
            return real_unlink(path, missing_ok=missing_ok)

        monkeypatch.setattr(pathlib.Path, "unlink", fail_on_parts)
        with pytest.raises(OSError, match="crash before"):
            store.compact()
        monkeypatch.undo()
        assert _all_rows(store) == before  # the swap committed: the merged file alone is read
    with EventStore(tmp_path) as store:
        assert _all_rows(store) == before
        assert len(seg_files(tmp_path)) == 1  # the unregistered parts were removed on open


def test_v2_store_with_old_segments_gains_the_result_columns(tmp_path):
    """A store written before results were stored (v2: columns up to hostwarden.detail, and a
    Parquet segment of that layout) opens at v3: old rows read back, the new columns are NULL
    for them, and a finding with package and vulnerability fields can be appended and read."""
    from hostwarden.core.records import Evidence, Finding, Grade
    from hostwarden.core.schema import FIELDS, to_arrow

    v2 = [f for f in FIELDS[: [f.name for f in FIELDS].index("hostwarden.detail") + 1]]
    con = duckdb.connect(str(tmp_path / hot.STORE_FILE))
    cols = ", ".join(f'"{f.name}" {f.sql}' for f in v2)
    con.execute(f"CREATE TABLE {segments.BASE} ({cols})")
    con.execute("CREATE TABLE checkpoints (key VARCHAR PRIMARY KEY, path VARCHAR, inode BIGINT, device BIGINT, "
                "\"offset\" BIGINT, fingerprint VARCHAR, fingerprint_len INTEGER, updated DOUBLE)")
    con.execute("CREATE TABLE kv (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(segments.SEGMENTS_DDL)
    con.execute("CREATE TABLE schema_version (version INTEGER)")
    con.execute("INSERT INTO schema_version VALUES (1), (2)")
    con.execute(f"INSERT INTO {segments.BASE} (\"event.id\", \"organization.id\", \"log.file.path\", \"log.offset\") "
                "VALUES ('old-base', 'default', 'a.log', 0)")
    seg_dir = segments.segment_dir(tmp_path)
    seg_dir.mkdir(parents=True)
    old = seg_dir / "old.parquet"
    con.execute(f"COPY (SELECT 'old-seg' AS \"event.id\", 'default' AS \"organization.id\", 'b.log' AS "
                f"\"log.file.path\", 1::BIGINT AS \"log.offset\") TO '{old}' (FORMAT parquet)")
    con.execute("INSERT INTO segments VALUES (?, ?, 0)", [str(old.relative_to(tmp_path)), 1])
    con.close()
    finding = Finding(scanner="vuln", rule_id="PYSEC-2023-74", title="requests leaks Proxy-Authorization",
                      message="PYSEC-2023-74 in requests 2.25.0", grade=Grade.L2, kind="vulnerability",
                      evidence=Evidence.from_dict({"advisory": "PYSEC-2023-74"}),
                      fields={"package.name": "requests", "package.version": "2.25.0", "vulnerability.score.base": 6.1,
                              "hostwarden.vuln.kev": False})
    with EventStore(tmp_path) as store:
        assert store.query("SELECT max(version) FROM schema_version")[0][0] == SCHEMA_VERSION
        assert sorted(store.query('SELECT "event.id", "hostwarden.grade" FROM events')) == [
            ("old-base", None), ("old-seg", None)]
        store.append(to_arrow([finding.to_ecs()]), source="hostwarden:scan")
        rows = store.query('SELECT "package.name", "vulnerability.score.base", "hostwarden.vuln.kev", '
                           '"hostwarden.grade" FROM events WHERE "event.kind" = \'finding\'')
    assert rows == [("requests", 6.1, False, "L2")]


ACCESS = b"".join(
    f'198.51.100.{i % 200} - - [28/Nov/2026:10:00:{i % 60:02d} +0000] "GET /p{i} HTTP/1.1" 404 12 "-" "curl/8"\n'.encode()
    for i in range(1000)
)


def test_segments_hold_their_own_columns_and_merge_by_name(tmp_path, small_segments):
    """A syslog segment has no `http.*` columns and a web one no `process.pid`: each holds
    what its rows have, the view and compaction line them up by name."""
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("/var/log/auth.log", 0, LINES[:LINES.index(b"\n", 150_000) + 1])])
        ingest_chunks(store, [Chunk("/var/log/nginx/access.log", 0, ACCESS)])
        files = seg_files(tmp_path)
        assert len(files) == 2
        columns = [set(pq.read_schema(f).names) for f in files]
        assert any("process.pid" in c and "http.response.status_code" not in c for c in columns)
        assert any("http.response.status_code" in c and "process.pid" not in c for c in columns)
        assert all(len(c) < len(ARROW_SCHEMA.names) for c in columns)
        query = ('SELECT "log.file.path", count(*), count("process.pid"), count("http.response.status_code") '
                 'FROM events GROUP BY 1 ORDER BY 1')
        before = store.query(query)
        assert [row[2:] for row in before] == [(before[0][1], 0), (0, 1000)]
        assert store.compact(at_least=2) == 2
        assert len(seg_files(tmp_path)) == 1
        assert store.query(query) == before
