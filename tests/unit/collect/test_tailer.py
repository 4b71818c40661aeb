"""FileTailer driven one poll at a time: rotation, truncation, restarts, globs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hostwarden.collect.tailer import FileTailer
from hostwarden.core.checkpoint import MemoryCheckpoints


def poll(tailer: FileTailer, *, commit: bool = True) -> list[tuple[str, int, str]]:
    out = []
    for chunk in tailer.poll():
        out.extend((chunk.source, ln.offset, ln.text) for ln in chunk.lines())
        if commit:
            tailer.commit(chunk)
    return out


def texts(rows: list[tuple[str, int, str]]) -> list[str]:
    return [t for _, _, t in rows]


def append(path: Path, *lines: str) -> None:
    with path.open("a") as fh:
        fh.write("".join(f"{ln}\n" for ln in lines))


def test_follows_growth_and_holds_back_an_unfinished_line(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, "a", "b")
    with FileTailer([log], MemoryCheckpoints()) as t:
        assert texts(poll(t)) == ["a", "b"]
        with log.open("a") as fh:
            fh.write("c\npartial")
        assert texts(poll(t)) == ["c"]
        with log.open("a") as fh:
            fh.write(" line\n")
        rows = poll(t)
        assert texts(rows) == ["partial line"]
        assert rows[0][1] == len(b"a\nb\nc\n")  # offsets are byte offsets in the file


def test_rename_create_finishes_the_old_inode_first(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, "old 1")
    with FileTailer([log], MemoryCheckpoints(), rotate_wait=0) as t:
        assert texts(poll(t)) == ["old 1"]
        with log.open("a") as old_fd:
            old_fd.write("old 2\n")
            old_fd.flush()
            log.rename(tmp_path / "app.log.1")
            old_fd.write("old 3\n")  # the writer has not reopened yet
            old_fd.flush()
            append(log, "new 1")
        rows = poll(t)
        assert texts(rows) == ["old 2", "old 3", "new 1"]
        assert rows[-1][:2] == (str(log), 0)
        append(log, "new 2")
        assert texts(poll(t)) == ["new 2"]


def test_copytruncate_recovers_unread_lines_from_the_copy(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, *(f"line {i}" for i in range(10)))
    t = FileTailer([log], MemoryCheckpoints(), rotate_wait=0)
    assert len(poll(t)) == 10
    append(log, "line 10", "line 11")  # written, not yet read, when logrotate copies
    shutil.copyfile(log, tmp_path / "app.log.1")
    os.truncate(log, 0)
    append(log, "after 0")
    rows = poll(t)
    assert texts(rows) == ["line 10", "line 11", "after 0"]
    assert rows[-1][1] == 0
    assert [n["code"] for n in t.notices] == ["LOG-4104"]
    t.close()


def test_truncation_without_a_copy_restarts_at_zero(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, *(f"line {i}" for i in range(10)))
    t = FileTailer([log], MemoryCheckpoints())
    poll(t)
    log.write_text("x\n")
    assert texts(poll(t)) == ["x"]
    assert t.notices[-1]["code"] == "LOG-4104"
    t.close()


def test_rewrite_in_place_past_the_old_size_is_seen_by_fingerprint(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, "first version")
    t = FileTailer([log], MemoryCheckpoints())
    poll(t)
    log.write_text("completely different content, and longer than before\n")
    assert texts(poll(t)) == ["completely different content, and longer than before"]
    t.close()


def test_restart_resumes_with_no_loss_and_no_duplicate(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    cps = MemoryCheckpoints()
    append(log, "1", "2")
    t = FileTailer([log], cps)
    assert texts(poll(t)) == ["1", "2"]
    append(log, "3")
    assert texts(poll(t, commit=False)) == ["3"]  # read but never stored: the process dies
    t.close()
    append(log, "4")
    t2 = FileTailer([log], cps)
    assert texts(poll(t2)) == ["3", "4"]
    t2.close()


def test_restart_after_rotation_while_stopped_finishes_the_old_file(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    cps = MemoryCheckpoints()
    append(log, "a")
    t = FileTailer([log], cps, rotate_wait=0)
    poll(t)
    t.close()
    append(log, "b")  # written while we were down, then rotated away
    log.rename(tmp_path / "app.log.1")
    append(log, "c")
    t2 = FileTailer([log], cps, rotate_wait=0)
    rows = poll(t2)
    assert texts(rows) == ["b", "c"]
    assert {src for src, _, _ in rows} == {str(log)}
    t2.close()


def test_glob_picks_up_new_files_and_ignores_rotated_names_it_follows(tmp_path: Path) -> None:
    a = tmp_path / "a.log"
    append(a, "a1")
    t = FileTailer([str(tmp_path / "*.log*")], MemoryCheckpoints(), rotate_wait=0)
    assert texts(poll(t)) == ["a1"]
    append(tmp_path / "b.log", "b1")
    assert texts(poll(t)) == ["b1"]
    a.rename(tmp_path / "a.log.1")  # matches the glob too, but it is a.log's old inode
    append(a, "a2")
    seen = [row for _ in range(3) for row in poll(t)]
    assert texts(seen) == ["a2"] and {src for src, _, _ in seen} == {str(a)}
    append(tmp_path / "a.log", "a3")
    assert texts(poll(t)) == ["a3"]
    t.close()


def test_missing_file_is_a_notice_and_is_picked_up_when_it_appears(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    t = FileTailer([log], MemoryCheckpoints())
    assert poll(t) == []
    assert t.notices[0]["code"] == "LOG-4102"
    poll(t)
    assert len(t.notices) == 1  # said once
    append(log, "hello")
    assert texts(poll(t)) == ["hello"]
    t.close()


def test_start_at_end_skips_existing_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, "old")
    t = FileTailer([log], MemoryCheckpoints(), start_at_end=True)
    assert poll(t) == []
    append(log, "new")
    assert texts(poll(t)) == ["new"]
    t.close()


def test_crlf_lines(tmp_path: Path) -> None:
    log = tmp_path / "win.log"
    log.write_bytes(b"one\r\ntwo\r\n")
    t = FileTailer([log], MemoryCheckpoints())
    assert texts(poll(t)) == ["one", "two"]
    t.close()


def test_fifos_and_directories_never_block_or_crash(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.log")
    (tmp_path / "dir.log").mkdir()
    append(tmp_path / "real.log", "ok")
    t = FileTailer([str(tmp_path / "*.log"), tmp_path / "dir.log"], MemoryCheckpoints())
    assert texts(poll(t)) == ["ok"]  # returns at once: the FIFO is not waited on
    assert any("dir.log" in n["message"] and n["code"] == "LOG-4102" for n in t.notices)
    t.close()


def test_truncated_while_down_ignores_siblings_with_other_content(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    cps = MemoryCheckpoints()
    append(log, "first", "second")
    t = FileTailer([log], cps)
    poll(t)
    t.close()
    append(tmp_path / "app.log.bak", "unrelated backup", "more", "and more lines")
    log.write_text("fresh\n")  # truncated and rewritten while we were down
    t2 = FileTailer([log], cps)
    assert texts(poll(t2)) == ["fresh"]
    assert [n["code"] for n in t2.notices] == ["LOG-4104"]
    t2.close()


class _CountingCheckpoints(MemoryCheckpoints):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def save_checkpoint(self, cp):  # type: ignore[no-untyped-def]
        self.writes += 1
        super().save_checkpoint(cp)


def test_commit_all_writes_each_file_once_with_what_one_by_one_commits_leave(tmp_path: Path) -> None:
    """watch commits a save's worth of chunks at once: one write per file, same end state,
    and a rotated file's late chunk still can't move the newer file's position back."""
    results = []
    for together in (False, True):
        log = tmp_path / f"{together}" / "auth.log"
        log.parent.mkdir()
        store = _CountingCheckpoints()
        with FileTailer([log], store, rotate_wait=0, chunk_bytes=64) as t:
            log.write_text("")
            list(t.poll())
            chunks = []
            for i in range(3):
                append(log, *(f"line {i}-{j} " + "x" * 20 for j in range(5)))
                chunks += list(t.poll())
            os.rename(log, log.with_suffix(".1"))
            append(log, "new file line")
            chunks += list(t.poll()) + list(t.poll())
            assert len(chunks) >= 4  # three of the rotated file, one of the new
            if together:
                t.commit_all(chunks)
            else:
                for chunk in chunks:
                    t.commit(chunk)
        results.append(({k: (cp.offset, cp.inode) for k, cp in store.saved.items()}, store.writes))
    (one_by_one, writes_single), (together, writes_together) = results
    assert [v[0] for v in together.values()] == [v[0] for v in one_by_one.values()]
    assert writes_together == len(together) < writes_single
