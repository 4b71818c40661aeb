import gzip

import pytest

from hostwarden.collect.checkpoint import MemoryCheckpoints
from hostwarden.collect.files import FileReader
from hostwarden.errors import HostwardenError


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
