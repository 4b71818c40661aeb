"""Hostile bytes through chunking, every parser and the store: nothing raises, nothing is lost."""

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostwarden.core.chunks import MAX_LINE_BYTES, Chunk
from hostwarden.normalize.registry import available_parsers
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import EventStore


def expected_lines(data: bytes) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_chunk_lines_and_arrow_agree_on_random_bytes(data):
    chunk = Chunk("x", 0, data)
    lines = chunk.lines()
    table = chunk.to_arrow()
    assert len(lines) == table.num_rows == expected_lines(data)
    assert [ln.text for ln in lines] == table.column("original").to_pylist()
    assert [ln.offset for ln in lines] == table.column("off").to_pylist()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)), max_size=30))
def test_every_parser_survives_random_lines(chunks_of_bytes):
    data = b"\n".join(chunks_of_bytes)
    lines = Chunk("x", 0, data).lines()
    for name, cls in available_parsers().items():
        from hostwarden.normalize.base import ParseContext

        events = cls().parse_batch(lines, ParseContext())
        covered = set()
        for ev in events:
            assert ev.get("event.original") is not None, name
            covered.add(ev.get("log.offset"))
        assert {ln.offset for ln in lines} <= covered, name


def test_hostile_file_is_stored_line_for_line(tmp_path):
    big = b"A" * (MAX_LINE_BYTES + 10)
    data = b"\n".join(
        [
            b"Nov 28 10:00:00 h sshd[1]: Invalid user \xff\xfe\xfd from 203.0.113.1",  # invalid UTF-8
            b"Nov 28 10:00:01 h sshd[1]: NUL\x00inside from 203.0.113.1",
            b"Nov 28 10:00:02 h sshd[1]: Failed password for root from 203.0.113.1 port 22 ssh2\r",  # CRLF
            big,  # a line longer than the limit
            b"",
            b"\x1b[31mterminal escapes\x1b[0m",
            b"{\"not\": \"syslog\", \"deep\": " + b"[" * 500 + b"]" * 500 + b"}",
            b"Nov 28 10:00:03 h sshd[1]: last line without newline",
        ]
    )
    with EventStore(tmp_path) as store:
        stats = ingest_chunks(store, [Chunk("/var/log/hostile.log", 0, data)])
        assert stats.lines == stats.stored == 8
        rows = store.query('SELECT "log.offset", "event.original", tags FROM events ORDER BY 1')
    assert len(rows) == 8
    by_offset = {off: (text, tags or []) for off, text, tags in rows}
    assert "invalid_utf8" in by_offset[0][1]
    assert "\ufffd" in by_offset[0][0]
    nul_offset = data.index(b"Nov 28 10:00:01")
    assert "nul_bytes" in by_offset[nul_offset][1]
    crlf_offset = data.index(b"Nov 28 10:00:02")
    assert by_offset[crlf_offset][0].endswith("ssh2")
    big_offset = data.index(big)
    assert "truncated" in by_offset[big_offset][1] and len(by_offset[big_offset][0]) == MAX_LINE_BYTES
    unparsed = [t for t, tags in by_offset.values() if "parse_failure" in tags]
    assert len(unparsed) >= 3  # the junk lines are kept, flagged, not dropped


def test_store_survives_hostile_strings_in_every_column(tmp_path):
    from hostwarden.core.schema import to_arrow

    hostile = ["'; DROP TABLE events; --", "\x00", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
               "😀" * 1000, "a" * 100_000]
    events = [{"event.kind": "event", "message": h, "user.name": h, "event.original": h} for h in hostile]
    with EventStore(tmp_path) as store:
        assert store.append(to_arrow(events), source="api") == len(hostile)
        assert store.count_rows() == len(hostile)
    assert duckdb.connect(str(tmp_path / "events.duckdb")).execute("SELECT count(*) FROM events").fetchall()[0][0] == 5
