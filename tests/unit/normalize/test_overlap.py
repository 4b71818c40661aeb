"""The overlapped ingest (parser threads + writer) stores exactly what the sequential one does.

Why: `ingest --overlap` reorders *work* across threads; it must not reorder *results*: the
same rows, the same counts, checkpoints committed strictly in chunk order, line parsers that
carry state across chunks (auditd) fed in order, and a parser failure reported instead of
silently skipping a chunk.
"""

from __future__ import annotations

import pytest

from hostwarden.core.chunks import Chunk
from hostwarden.normalize.source import context_for
from hostwarden.pipelines import ingest as pipeline
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import STAGE, EventStore

AUTH = b"".join(
    (f"Nov 28 10:{i // 60 % 60:02d}:{i % 60:02d} web01 sshd[{100 + i % 7}]: "
     + ("Failed password for invalid user u{0} from 198.51.100.{0} port 22 ssh2" if i % 3 else
        "Connection closed by 203.0.113.{0} port 4000 [preauth]").format(i % 200)
     + "\n").encode()
    for i in range(9000)
) + b"garbage line without any framing\n"
ACCESS = b"".join(
    f'192.0.2.{i % 100} - - [28/Nov/2026:10:00:{i % 60:02d} +0000] "GET /p?q={i} HTTP/1.1" {200 + i % 3 * 100} 12 "-" "curl/8"\n'.encode()
    for i in range(3000)
)


# A format without a columnar plan: its chunks take the line-parser path, which waits its turn.
AUDIT = b"".join(
    (f'type=SYSCALL msg=audit(1764324000.{i % 1000:03d}:{1000 + i}): arch=c000003e syscall=59 success=yes exit=0 '
     f'a0=1 a1=2 a2=3 a3=0 items=1 ppid=1 pid={2000 + i} auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 '
     f'fsgid=0 tty=pts0 ses=3 comm="sh" exe="/usr/bin/sh" key="exec"\n'
     f'type=EXECVE msg=audit(1764324000.{i % 1000:03d}:{1000 + i}): argc=2 a0="sh" a1="job{i}"\n').encode()
    for i in range(1500)
)


def _chunks(source: str, data: bytes, size: int) -> list[Chunk]:
    out, start = [], 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + size) + 1 or len(data)
        out.append(Chunk(source, start, data[start:end]))
        start = end
    return out


def _interleaved() -> list[Chunk]:
    sources = [_chunks("/var/log/auth.log", AUTH, 200_000), _chunks("/var/log/nginx/access.log", ACCESS, 90_000),
               _chunks("/var/log/audit/audit.log", AUDIT, 23_333)]
    mixed: list[Chunk] = []
    for i in range(max(map(len, sources))):
        for chunks in sources:
            mixed += chunks[i:i + 1]
    return mixed


def _rows(store: EventStore) -> list[tuple]:
    return store.query(
        'SELECT "event.id", "log.file.path", "log.offset", "event.dataset", "event.action", "source.ip", '
        '"user.name", tags FROM events ORDER BY "log.file.path", "log.offset"'
    )


def test_overlap_stores_the_same_rows_counts_and_checkpoint_order(tmp_path):
    chunks = _interleaved()
    assert len(chunks) >= 6  # enough for the parser to run ahead of the writer
    results = {}
    for overlap in (False, True):
        seen: list[tuple[str, int]] = []
        with EventStore(tmp_path / str(overlap)) as store:
            stats = ingest_chunks(store, iter(chunks), ctx=context_for("x", 1.8e9), overlap=overlap,
                                  on_stored=lambda c, seen=seen: seen.append((c.source, c.base_offset)))
            results[overlap] = (_rows(store), stats.stored, stats.lines, stats.parse_failures, stats.by_dataset, seen)
            leftovers = store.query(f"SELECT count(*) FROM duckdb_tables() WHERE database_name = '{STAGE}'")
            assert leftovers == [(0,)]  # staged batches are dropped once appended
    sequential, overlapped = results[False], results[True]
    assert overlapped == sequential
    rows, stored, lines, failures, by_dataset, seen = overlapped
    assert lines == 15001 and failures == 1
    assert by_dataset["sshd"] == 9000 and by_dataset["web.access"] == 3000
    # auditd flushes each chunk whole (see normalize/auditd.py): an event a chunk edge cuts is two
    assert 1500 <= by_dataset["auditd"] < 1500 + 30 and stored == 12001 + by_dataset["auditd"]
    assert seen == [(c.source, c.base_offset) for c in chunks]  # committed strictly in order


def test_a_parser_failure_surfaces_and_earlier_chunks_stay_stored(tmp_path, monkeypatch):
    chunks = _chunks("/var/log/auth.log", AUTH, 100_000)
    real = pipeline._ChunkParser.parse

    def failing(self, chunk, con, out, after=None):
        assert con.execute("SELECT current_setting('threads')").fetchall() == [(1,)]
        if chunk.base_offset == chunks[2].base_offset:
            raise RuntimeError("parser broke on chunk 3")
        return real(self, chunk, con, out, after)

    monkeypatch.setattr(pipeline._ChunkParser, "parse", failing)
    stored: list[int] = []
    with EventStore(tmp_path) as store:
        threads = store.query("SELECT current_setting('threads')")
        with pytest.raises(RuntimeError, match="chunk 3"):
            ingest_chunks(store, iter(chunks), overlap=True, on_stored=lambda c: stored.append(c.base_offset))
        assert store.query("SELECT current_setting('threads')") == threads  # one per statement only while it ran
        assert stored == [chunks[0].base_offset, chunks[1].base_offset]
        expected = sum(c.data.count(b"\n") for c in chunks[:2])
        assert store.count_rows() == expected
        assert store.query(f"SELECT count(*) FROM duckdb_tables() WHERE database_name = '{STAGE}'") == [(0,)]


def test_line_parsers_take_a_sources_chunks_in_order_even_when_an_earlier_one_is_slow(tmp_path, monkeypatch):
    import time

    from hostwarden.normalize.auditd import AuditdParser

    chunks = _chunks("/var/log/audit/audit.log", AUDIT, 23_333)
    assert len(chunks) >= 4
    real = AuditdParser.parse_batch
    order: list[int] = []

    def slow_first(self, lines, ctx, state=None):
        if lines and lines[0].offset == chunks[0].base_offset:
            time.sleep(0.3)  # the second parser thread would overtake this chunk if it could
        order.append(lines[0].offset)
        return real(self, lines, ctx, state)

    monkeypatch.setattr(AuditdParser, "parse_batch", slow_first)
    with EventStore(tmp_path) as store:
        ingest_chunks(store, iter(chunks), overlap=True)
    firsts = [c.base_offset for c in chunks]
    assert [o for o in order if o in firsts] == firsts
