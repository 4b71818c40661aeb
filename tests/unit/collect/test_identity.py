"""A file's lines are known by the file's content, not by the name it was read under: another
spelling, a symlink, a rename (`.1`) or a gzipped copy (`.2.gz`) resumes where the first read
stopped, and every line carries the same `event.id` source identity under every name."""

from __future__ import annotations

import gzip
from pathlib import Path

from hostwarden.collect.files import FileReader
from hostwarden.collect.tailer import FileTailer
from hostwarden.core.checkpoint import FINGERPRINT_BYTES, MemoryCheckpoints, file_identity

LINE = "Nov 28 10:00:{:02d} web01 sshd[{}]: Failed password for root from 203.0.113.9 port 22 ssh2\n"


def make(n: int, start: int = 0) -> bytes:
    return "".join(LINE.format(i % 60, 1000 + i) for i in range(start, start + n)).encode()


def read(path: Path, cps: MemoryCheckpoints, **kw: object) -> list[tuple[str, int, str]]:
    reader = FileReader(path, cps, chunk_bytes=4096, **kw)  # type: ignore[arg-type]
    out = []
    for chunk in reader.read_chunks():
        out.extend((chunk.identity, ln.offset, ln.text) for ln in chunk.lines())
        reader.commit(chunk)
    return out


def test_other_names_resume_where_the_first_read_stopped(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(make(200))
    cps = MemoryCheckpoints()
    first = read(log, cps)
    assert len(first) == 200 and len({ident for ident, _, _ in first}) == 1
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.log").symlink_to(log)
    assert read(tmp_path / "sub" / ".." / "auth.log", cps) == []
    assert read(tmp_path / "link.log", cps) == []
    log.rename(tmp_path / "auth.log.1")
    assert read(tmp_path / "auth.log.1", cps) == []
    gz = tmp_path / "auth.log.2.gz"
    gz.write_bytes(gzip.compress((tmp_path / "auth.log.1").read_bytes()))
    assert read(gz, cps) == []


def test_every_name_gives_the_same_identity_and_offsets(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(make(100))
    gz = tmp_path / "auth.log.1.gz"
    gz.write_bytes(gzip.compress(make(100)))
    (tmp_path / "link").symlink_to(log)
    reads = [read(p, MemoryCheckpoints()) for p in (log, gz, tmp_path / "link")]
    assert reads[0] == reads[1] == reads[2]
    assert reads[0][0][0] == file_identity(make(100)[:FINGERPRINT_BYTES])


def test_a_grown_copy_continues_after_what_was_read(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(make(100))
    cps = MemoryCheckpoints()
    first = read(log, cps)
    copy = tmp_path / "copy.log"
    copy.write_bytes(make(130))  # another inode: the same first 100 lines, and 30 more
    more = read(copy, cps)
    assert [t for _, _, t in more] == [t.rstrip("\n") for t in make(30, 100).decode().splitlines(True)]
    assert {i for i, _, _ in more} == {first[0][0]}


def test_same_first_bytes_but_other_content_is_read_in_full(tmp_path: Path) -> None:
    """Two files with identical first bytes (a long common header) that differ later: the second
    is not mistaken for the first one grown; at worst a line is read twice, never skipped."""
    header = b"# " + b"h" * (2 * FINGERPRINT_BYTES) + b"\n"
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(header + make(50))
    b.write_bytes(header + make(60, 1000))
    cps = MemoryCheckpoints()
    read(a, cps)
    got = read(b, cps)
    assert [t for _, _, t in got][1:] == make(60, 1000).decode().splitlines()


def test_a_file_first_seen_short_keeps_its_identity_as_it_grows(tmp_path: Path) -> None:
    """The tailer reads a new file at its first line; when a copy of the grown file is read
    later (rotated and gzipped), its lines carry the identity they were stored under."""
    log = tmp_path / "auth.log"
    log.write_bytes(make(1))
    cps = MemoryCheckpoints()
    seen: list[tuple[str, int, str]] = []
    with FileTailer([log], cps) as tailer:
        for more in (40, 40, 0):
            for chunk in tailer.poll():
                seen.extend((chunk.identity, ln.offset, ln.text) for ln in chunk.lines())
                tailer.commit(chunk)
            with log.open("ab") as fh:
                fh.write(make(more, len(seen)))
    assert len(seen) == 81 and {i for i, _, _ in seen} == {seen[0][0]}
    assert len(make(1)) < FINGERPRINT_BYTES < len(make(81))  # first seen short, now past the fingerprint
    gz = tmp_path / "auth.log.1.gz"
    gz.write_bytes(gzip.compress(log.read_bytes()))
    assert read(gz, cps) == []
    gz.write_bytes(gzip.compress(log.read_bytes() + make(5, 81)))
    assert read(gz, cps) == [(seen[0][0], len(make(81)) + len(make(i, 81)), t.decode().rstrip("\n"))
                             for i, t in enumerate(make(5, 81).splitlines(True))]
    fresh = read(gz, MemoryCheckpoints())
    assert {i for i, _, _ in fresh} != {seen[0][0]}  # without that history it is a file of its own


def test_a_rotated_file_with_only_an_unfinished_line_still_gets_an_identity(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"no newline yet")
    with FileTailer([log], MemoryCheckpoints(), rotate_wait=0) as tailer:
        assert list(tailer.poll()) == []
        log.rename(tmp_path / "app.log.1")
        log.write_bytes(b"next file\n")
        chunks = [c for _ in range(2) for c in tailer.poll()]
    first = next(c for c in chunks if c.data == b"no newline yet")
    assert first.identity == file_identity(b"no newline yet") and first.source == str(log)


def test_one_checkpoint_per_file_as_it_grows(tmp_path: Path) -> None:
    """A file first seen short keeps one checkpoint, under the identity it started with."""
    log = tmp_path / "auth.log"
    log.write_bytes(make(1))
    cps = MemoryCheckpoints()
    with FileTailer([log], cps) as tailer:
        for more in (30, 30, 0):
            for chunk in tailer.poll():
                tailer.commit(chunk)
            with log.open("ab") as fh:
                fh.write(make(more))
    assert list(cps.saved) == [file_identity(make(1))]
    assert cps.saved[file_identity(make(1))].offset == log.stat().st_size
