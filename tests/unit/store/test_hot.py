"""The hot store on real DuckDB files: dedupe, migrations, tenants, a second process."""

import subprocess
import sys
import textwrap

import duckdb
import pytest

from hostwarden.core.chunks import Chunk
from hostwarden.core.errors import HostwardenError
from hostwarden.core.schema import SCHEMA_VERSION, event_id, to_arrow
from hostwarden.normalize.source import context_for
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import EventStore

LINES = b"".join(
    f"Nov 28 10:00:{i % 60:02d} web01 sshd[{100 + i}]: Failed password for root from 203.0.113.{i % 250} port {4000 + i} ssh2\n".encode()
    for i in range(3000)
)


def first_lines(n: int) -> bytes:
    return b"".join(LINES.splitlines(keepends=True)[:n])


def test_reingesting_the_same_bytes_never_doubles(tmp_path):
    with EventStore(tmp_path) as store:
        first = ingest_chunks(store, [Chunk("/var/log/auth.log", 0, LINES)])
        again = ingest_chunks(store, [Chunk("/var/log/auth.log", 0, LINES)])
        assert first.stored == 3000 and first.lines == 3000
        assert again.stored == 0 and again.lines == 3000
        assert store.count_rows() == 3000


def test_overlapping_chunks_store_each_line_once(tmp_path):
    half = LINES.index(b"\n", len(LINES) // 2) + 1
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("a.log", 0, LINES[:half])])
        stats = ingest_chunks(store, [Chunk("a.log", 0, LINES)])  # a re-read after a crash
        assert stats.stored == 3000 - LINES[:half].count(b"\n")
        assert store.count_rows() == 3000
        ids = store.query('SELECT count(DISTINCT "event.id") FROM events')[0][0]
        assert ids == 3000


def test_same_bytes_from_another_source_are_kept(tmp_path):
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("a.log", 0, first_lines(500))])
        ingest_chunks(store, [Chunk("b.log", 0, first_lines(500))])
        assert store.count_rows() == 1000


def test_stored_event_id_matches_the_python_hash(tmp_path):
    line = "Nov 28 10:00:00 web01 sshd[1]: Invalid user x from 203.0.113.1"
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("/l", 42, (line + "\n").encode())])
        assert store.query('SELECT "event.id" FROM events')[0][0] == event_id("/l", 42, line)


def test_tenant_is_filled_and_kept_apart(tmp_path):
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("a.log", 0, first_lines(200))], tenant="acme")
        ingest_chunks(store, [Chunk("a.log", 0, first_lines(200))], tenant="globex")
        rows = dict(store.query('SELECT "organization.id", count(*) FROM events GROUP BY 1'))
        assert rows == {"acme": 200, "globex": 200}


def test_explicit_ids_in_one_batch_are_deduplicated(tmp_path):
    events = [{"event.id": "same", "event.kind": "alert", "message": "x"}] * 3 + [
        {"event.id": "other", "event.kind": "alert", "message": "y"}
    ]
    with EventStore(tmp_path) as store:
        assert store.append(to_arrow(events), source="api") == 2
        assert store.append(to_arrow(events), source="api") == 0


def test_schema_version_is_recorded_and_newer_stores_are_refused(tmp_path):
    with EventStore(tmp_path) as store:
        assert store.query("SELECT max(version) FROM schema_version")[0][0] == SCHEMA_VERSION
    con = duckdb.connect(str(tmp_path / "events.duckdb"))
    con.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(HostwardenError) as info:
        _ = EventStore(tmp_path).con
    assert info.value.code.code == "LOG-5031"


def test_garbage_file_is_a_clear_error(tmp_path):
    (tmp_path / "events.duckdb").write_bytes(b"this is not a database" * 100)
    with pytest.raises(HostwardenError) as info:
        _ = EventStore(tmp_path).con
    assert info.value.code.code in ("LOG-5031", "LOG-5030")


def test_reader_in_another_process_waits_then_reports_busy(tmp_path):
    writer = EventStore(tmp_path)
    ingest_chunks(writer, [Chunk("a.log", 0, first_lines(100))])
    script = textwrap.dedent(
        f"""
        import sys
        from hostwarden.store.eventstore import EventStore
        from hostwarden.core.errors import HostwardenError
        try:
            EventStore({str(tmp_path)!r}, read_only=True, lock_timeout=0.5).con
        except HostwardenError as exc:
            print(exc.code.code); sys.exit(0)
        print("opened")
        """
    )
    busy = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert busy.stdout.strip() == "LOG-5030"
    writer.close()  # the writer holds the file only while it writes; once closed, readers get in
    script_ok = script.replace("lock_timeout=0.5", "lock_timeout=5")
    ok = subprocess.run([sys.executable, "-c", script_ok], capture_output=True, text=True, timeout=60)
    assert ok.stdout.strip() == "opened"


def test_year_inference_uses_the_file_mtime(tmp_path):
    with EventStore(tmp_path) as store:
        ctx = context_for("x.log", mtime=1_800_000_000)  # 2027-01-15
        ingest_chunks(store, [Chunk("x.log", 0, b"Dec 31 23:00:00 h sshd[1]: Connection closed by 1.2.3.4\n")], ctx=ctx)
        ts = store.query('SELECT year("@timestamp") FROM events')[0][0]
        assert ts == 2026
