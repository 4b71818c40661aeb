import gzip
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.collect.files import FileReader
from hostwarden.core.checkpoint import MemoryCheckpoints
from hostwarden.core.chunks import Chunk
from hostwarden.core.errors import HostwardenError


def lines_of(reader: FileReader, commit: bool = True) -> list[tuple[int, str]]:
    out = []
    for chunk in reader.read_chunks():
        out.extend((ln.offset, ln.text) for ln in chunk.lines())
        if commit:
            reader.commit(chunk)
    return out


def make(n: int, start: int = 0) -> bytes:
    return b"".join(f"line {i} some text to make it longer\n".encode() for i in range(start, start + n))


def test_resume_reads_only_new_lines(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(make(100))
    cps = MemoryCheckpoints()
    first = lines_of(FileReader(path, cps, chunk_bytes=4096))
    with path.open("ab") as fh:
        fh.write(make(50, 100))
    second = lines_of(FileReader(path, cps, chunk_bytes=4096))
    assert [t for _, t in first] == [f"line {i} some text to make it longer" for i in range(100)]
    assert [t for _, t in second] == [f"line {i} some text to make it longer" for i in range(100, 150)]
    assert second[0][0] == len(make(100))


def test_uncommitted_chunks_are_read_again(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(make(300))
    cps = MemoryCheckpoints()
    reader = FileReader(path, cps, chunk_bytes=4096)
    chunks = reader.read_chunks()
    reader.commit(next(chunks))  # stored one chunk, then "crashed"
    again = lines_of(FileReader(path, cps, chunk_bytes=4096))
    assert again[0][1] != "line 0 some text to make it longer"
    assert again[-1][1] == "line 299 some text to make it longer"


def test_a_new_file_at_the_same_path_is_read_from_the_start(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(make(100))
    cps = MemoryCheckpoints()
    lines_of(FileReader(path, cps))
    path.rename(tmp_path / "a.log.1")
    path.write_bytes(b"fresh file after rotation, longer than the old one? no\n" * 200)
    again = lines_of(FileReader(path, cps))
    assert len(again) == 200 and again[0][0] == 0


def test_truncation_restarts_at_zero_with_a_notice(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(make(100))
    cps = MemoryCheckpoints()
    lines_of(FileReader(path, cps))
    path.write_bytes(make(3))  # copytruncate then a few new lines: same head, smaller size
    reader = FileReader(path, cps)
    again = lines_of(reader)
    assert len(again) == 3
    assert reader.notices[0]["code"] == "LOG-4104"


def test_gzip_rotated_files_are_read(tmp_path):
    path = tmp_path / "auth.log.2.gz"
    path.write_bytes(gzip.compress(make(500)))
    got = lines_of(FileReader(path, MemoryCheckpoints(), chunk_bytes=4096))
    assert len(got) == 500 and got[-1][1] == "line 499 some text to make it longer"


def test_multi_member_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(make(10)) + gzip.compress(make(10, 10)))
    assert len(lines_of(FileReader(path, MemoryCheckpoints()))) == 20


def test_truncated_gzip_keeps_every_line_before_the_damage(tmp_path):
    data = make(20000)
    blob = gzip.compress(data)
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    reader = FileReader(path, MemoryCheckpoints(), chunk_bytes=4096)
    got = lines_of(reader)
    assert reader.notices and reader.notices[0]["code"] == "LOG-4103"
    complete = [t for _, t in got if t.endswith("longer")]
    assert len(complete) > 5000
    assert complete == [f"line {i} some text to make it longer" for i in range(len(complete))]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(HostwardenError) as info:
        list(FileReader(tmp_path / "nope.log", MemoryCheckpoints()).read_chunks())
    assert info.value.code.code == "LOG-4102"


def test_last_line_without_newline_is_kept(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntwo")
    assert [t for _, t in lines_of(FileReader(path, MemoryCheckpoints()))] == ["one", "two"]


def test_every_line_exactly_once_across_many_interrupted_runs(tmp_path):
    """Stop after each stored-but-uncommitted chunk, grow the file, run again: union == file."""
    path = tmp_path / "a.log"
    cps = MemoryCheckpoints()
    seen: list[tuple[int, str]] = []
    for round_ in range(6):
        with path.open("ab") as fh:
            fh.write(make(150, round_ * 150))
        reader = FileReader(path, cps, chunk_bytes=4096)
        for i, chunk in enumerate(reader.read_chunks()):
            seen.extend((ln.offset, ln.text) for ln in chunk.lines())
            if i == 1:
                break  # crash: the second chunk was stored but never committed
            reader.commit(chunk)
    seen.extend(lines_of(FileReader(path, cps, chunk_bytes=4096)))
    assert len(seen) > 900  # some chunks really were read twice
    assert [t for _, t in sorted(set(seen))] == [f"line {i} some text to make it longer" for i in range(900)]


def test_same_inode_different_head_starts_over(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(make(10))
    cps = MemoryCheckpoints()
    lines_of(FileReader(path, cps))
    with path.open("r+b") as fh:  # rewritten in place, longer than before
        fh.write(b"X" * 10 + make(20)[10:])
    reader = FileReader(path, cps)
    again = lines_of(reader)
    assert again[0][0] == 0 and len(again) == 20
    assert reader.notices[0]["code"] == "LOG-4104"


def test_inode_change_starts_over_unless_the_content_before_the_offset_is_the_same(tmp_path):
    """Editors and some rotators save by rename: a new inode. A file is known by its content, so
    the same lines with more after them continue where the last read stopped; other content after
    the same first lines is read from the start (the lines already stored deduplicate by id)."""
    path = tmp_path / "a.log"
    path.write_bytes(make(10))
    cps = MemoryCheckpoints()
    lines_of(FileReader(path, cps))
    (tmp_path / "copy").write_bytes(make(12))
    (tmp_path / "copy").replace(path)
    assert [t for _, t in lines_of(FileReader(path, cps))] == [f"line {i} some text to make it longer" for i in (10, 11)]
    (tmp_path / "copy").write_bytes(make(5) + b"edited\n" + make(6, 5))  # same first lines, then changed
    (tmp_path / "copy").replace(path)
    again = lines_of(FileReader(path, cps))
    assert again[0][0] == 0 and len(again) == 12


def test_crlf_lines_and_offsets(tmp_path):
    path = tmp_path / "win.log"
    path.write_bytes(b"one\r\ntwo\r\nthree")
    assert lines_of(FileReader(path, MemoryCheckpoints())) == [(0, "one"), (5, "two"), (10, "three")]


def test_following_holds_back_an_unfinished_last_line(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntw")
    cps = MemoryCheckpoints()
    assert lines_of(FileReader(path, cps, following=True)) == [(0, "one")]
    with path.open("ab") as fh:
        fh.write(b"o\n")
    assert lines_of(FileReader(path, cps, following=True)) == [(4, "two")]


def test_gzip_resume_uses_decompressed_offsets(tmp_path):
    path = tmp_path / "auth.log.1.gz"
    data = make(3000)
    path.write_bytes(gzip.compress(data))
    cps = MemoryCheckpoints()
    reader = FileReader(path, cps, chunk_bytes=4096)
    chunks = reader.read_chunks()
    first = next(chunks)
    reader.commit(first)
    assert cps.last_checkpoint_at(str(path)).offset == first.end_offset
    rest = lines_of(FileReader(path, cps, chunk_bytes=4096))
    assert rest[0][0] == first.end_offset
    assert data[rest[0][0]:].decode().splitlines() == [t for _, t in rest]


def test_corrupt_gzip_tags_the_cut_line_and_never_raises(tmp_path):
    blob = bytearray(gzip.compress(make(5000)))
    blob[len(blob) // 2:len(blob) // 2 + 64] = b"\x00" * 64  # damage in the middle of the stream
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(blob))
    reader = FileReader(path, MemoryCheckpoints(), chunk_bytes=4096)
    chunks = list(reader.read_chunks())
    assert reader.notices[0]["code"] == "LOG-4103"
    texts = [ln.text for c in chunks for ln in c.lines()]
    intact = next(i for i, t in enumerate([*texts, None]) if t != f"line {i} some text to make it longer")
    # Everything before the damaged bytes comes out intact. (Deflate has no per-block checksum: bytes
    # right after the damage may decode to garbage before zlib notices, and are kept as lines too.)
    assert intact > 2000
    assert "truncated_gz" in chunks[-1].tags or texts[-1].endswith("longer")


def test_garbage_after_the_last_gzip_member_keeps_all_lines(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(make(10)) + b"garbage!")
    reader = FileReader(path, MemoryCheckpoints())
    assert len(lines_of(reader)) == 10
    assert reader.notices[0]["code"] == "LOG-4103"


def test_empty_and_directory_inputs(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert lines_of(FileReader(empty, MemoryCheckpoints())) == []
    with pytest.raises(HostwardenError) as info:
        list(FileReader(tmp_path, MemoryCheckpoints()).read_chunks())
    assert info.value.code.code == "LOG-4102"


def test_unreadable_file_is_a_clear_error(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = tmp_path / "secret.log"
    path.write_bytes(b"x\n")
    path.chmod(0)
    with pytest.raises(HostwardenError) as info:
        list(FileReader(path, MemoryCheckpoints()).read_chunks())
    assert info.value.code.code == "LOG-4102"


def test_truncated_gzip_marks_the_line_cut_by_the_damage(tmp_path):
    import os

    long_line = os.urandom(100_000).hex().encode()  # incompressible enough that the cut falls inside it
    blob = gzip.compress(make(50) + long_line + b"\n" + make(50, 50))
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: int(len(blob) * 0.6)])
    reader = FileReader(path, MemoryCheckpoints(), chunk_bytes=4096)
    chunks = list(reader.read_chunks())
    lines = [(ln.text, ln.tags) for c in chunks for ln in c.lines()]
    assert [t for t, _ in lines[:50]] == [f"line {i} some text to make it longer" for i in range(50)]
    assert all("truncated_gz" not in tags for _, tags in lines[:50])
    cut_text, cut_tags = lines[-1]
    assert len(lines) == 51 and "truncated_gz" in cut_tags
    assert long_line.decode().startswith(cut_text) and 0 < len(cut_text) < len(long_line)
    assert reader.notices[0]["code"] == "LOG-4103"


def test_a_pipe_is_read_once_as_a_stream_gzip_included(tmp_path):
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    payload = gzip.compress(make(400))
    writer = threading.Thread(target=lambda: fifo.write_bytes(payload), daemon=True)
    writer.start()  # like `hostwarden ingest <(cat auth.log.2.gz)`
    cps = MemoryCheckpoints()
    reader = FileReader(fifo, cps, chunk_bytes=4096)
    got = lines_of(reader)
    writer.join(timeout=10)
    assert [t for _, t in got] == [f"line {i} some text to make it longer" for i in range(400)]
    assert reader.is_stream and cps.saved == {}  # nothing to resume in a pipe


def test_property_interrupted_reads_union_to_the_file():
    @settings(max_examples=60, deadline=None)
    @given(
        lines=st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=80),
        crlf=st.booleans(),
        no_final_newline=st.booleans(),
        gz=st.booleans(),
        stops=st.lists(st.integers(min_value=0, max_value=6), max_size=4),
    )
    def check(tmp_dir, lines, crlf, no_final_newline, gz, stops):
        end = b"\r\n" if crlf else b"\n"
        data = end.join(lines) + (b"" if no_final_newline else end)
        path = tmp_dir / ("x.gz" if gz else "x.log")
        path.write_bytes(gzip.compress(data) if gz else data)
        cps = MemoryCheckpoints()
        seen = {}
        for stop in stops:  # each run stores `stop` chunks, commits all but the last, then "crashes"
            # random bytes (binary too), and any number of empty lines in a row: all of them back
            reader = FileReader(path, cps, chunk_bytes=4096, skip_binary=False, max_empty_run=100)
            for i, chunk in enumerate(reader.read_chunks()):
                seen.update((ln.offset, ln.text) for ln in chunk.lines())
                if i >= stop:
                    break
                reader.commit(chunk)
        seen.update(lines_of(FileReader(path, cps, chunk_bytes=4096, skip_binary=False, max_empty_run=100)))
        expected = Chunk("x", 0, data).lines()
        assert sorted(seen.items()) == [(ln.offset, ln.text) for ln in expected]

    with tempfile.TemporaryDirectory() as tmp:  # hypothesis runs many examples in one test: no tmp_path
        check(Path(tmp))


def test_plain_file_starting_with_gzip_magic_is_read_as_plain(tmp_path):
    """Found by the property test above: `\\x1f\\x8b` then text lost every line."""
    path = tmp_path / "odd.log"
    path.write_bytes(b"\x1f\x8b not gzip at all\nsecond line\n")
    reader = FileReader(path, MemoryCheckpoints(), chunk_bytes=4096)
    assert [t for _, t in lines_of(reader)] == ["\x1f\ufffd not gzip at all", "second line"]
    assert not reader.is_damaged


def test_a_fifo_swapped_in_after_the_walk_is_refused_not_waited_on(tmp_path) -> None:
    """A walk chose a regular file; if a FIFO stands there by the time it is opened (a race an
    attacker on the host can win), the open must not wait for a writer."""
    import os

    pipe = tmp_path / "auth.log"
    os.mkfifo(pipe)
    reader = FileReader(pipe, MemoryCheckpoints(), allow_streams=False)
    with pytest.raises(HostwardenError) as info:
        list(reader.read_chunks())
    assert info.value.code.code == "LOG-4102" and "not a regular file" in info.value.message
