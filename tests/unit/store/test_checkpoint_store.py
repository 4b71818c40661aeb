"""The store's checkpoints: keyed by content from schema v3, migrated from the path keys of v2,
and the dedupe that recognises a file's rows under every name it was read under."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from hostwarden.collect.files import FileReader
from hostwarden.core.checkpoint import Checkpoint
from hostwarden.core.chunks import Chunk
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store import eventstore
from hostwarden.store.eventstore import EventStore

LINES = b"".join(b"Nov 28 10:00:%02d web01 sshd[%d]: Connection closed by 192.0.2.1 port 22\n" % (i % 60, i)
                 for i in range(100))


def v2_store(data: Path) -> None:
    data.mkdir()
    con = duckdb.connect(str(data / eventstore.STORE_FILE))
    con.execute("CREATE TABLE schema_version (version INTEGER)")
    for version in (1, 2):
        for stmt in eventstore.MIGRATIONS[version]:
            con.execute(stmt)
        con.execute("INSERT INTO schema_version VALUES (?)", [version])
    con.close()


def test_path_keyed_checkpoints_are_rekeyed_by_content_and_still_resume(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(LINES)
    st = log.stat()
    fp = hashlib.sha256(LINES[:1024]).hexdigest()
    data = tmp_path / "data"
    v2_store(data)
    con = duckdb.connect(str(data / eventstore.STORE_FILE))
    for path, updated in ((str(log), 2.0), (f"{tmp_path}/./auth.log", 1.0)):  # one file, two spellings
        con.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [f"file:{path}", path, st.st_ino, st.st_dev, 4000, fp, 1024, updated])
    con.close()
    with EventStore(data) as store:
        rows = store.query("SELECT key, path, \"offset\" FROM checkpoints")
        assert rows == [(f"fp:{fp[:32]}", str(log), 4000)]
        reader = FileReader(log, store)
        chunks = list(reader.read_chunks())
    assert [c.base_offset for c in chunks] == [4000]  # resumed: same inode, no tail recorded before v3


def test_checkpoints_round_trip_and_are_found_by_path(tmp_path: Path) -> None:
    with EventStore(tmp_path) as store:
        for i, path in enumerate(("/a.log", "/b.log", "/a.log")):
            store.save_checkpoint(Checkpoint(f"fp:{i}", path, 1, 2, 10 * i, "f", 3, float(i), f"t{i}"))
        assert store.load_checkpoint("fp:1") == Checkpoint("fp:1", "/b.log", 1, 2, 10, "f", 3, 1.0, "t1")
        assert [cp.key for cp in store.find_checkpoints(["fp:0", "fp:2", "fp:9"])] in (["fp:0", "fp:2"], ["fp:2", "fp:0"])
        last = store.last_checkpoint_at("/a.log")
        assert last is not None and last.key == "fp:2"


def test_dedupe_covers_every_name_of_an_identity(tmp_path: Path) -> None:
    with EventStore(tmp_path) as store:
        first = ingest_chunks(store, [Chunk("/logs/auth.log", 0, LINES, identity="fp:x")])
        again = ingest_chunks(store, [Chunk("/logs/auth.log.1", 0, LINES, identity="fp:x")])
        other = ingest_chunks(store, [Chunk("/logs/auth.log.1", 0, LINES, identity="fp:y")])
        assert (first.stored, again.stored, other.stored) == (100, 0, 100)
        names = store.query("SELECT identity, path FROM source_names ORDER BY 1, 2")
    assert names == [("fp:x", "/logs/auth.log"), ("fp:x", "/logs/auth.log.1"), ("fp:y", "/logs/auth.log.1")]
