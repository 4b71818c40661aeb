"""Which inputs are read: folders walked with a bound, binaries and undecodable files skipped
with a reason (as `grep -I` skips binaries), each file once however it is named."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from pathlib import Path

from hostwarden.collect.discover import MAX_DEPTH, classify, expand_inputs
from hostwarden.collect.files import FileReader
from hostwarden.core.checkpoint import MemoryCheckpoints

TEXT = b"Nov 28 10:00:00 web01 sshd[1]: Accepted publickey for alice from 192.0.2.1 port 22 ssh2\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 64


def reasons(skipped: list[tuple[str, str, str]]) -> dict[str, str]:
    return {Path(path).name: reason for path, _code, reason in skipped}


def test_a_folder_keeps_text_and_skips_binaries_with_a_reason(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "auth.log").write_bytes(TEXT * 10)
    (logs / "auth.log.2.gz").write_bytes(gzip.compress(TEXT * 10))
    (logs / "prog").write_bytes(ELF)
    (logs / "wtmp").write_bytes(b"\x07\x00\x00\x00" * 400)
    (logs / "old.log.xz").write_bytes(lzma.compress(TEXT))
    (logs / "old.log.bz2").write_bytes(bz2.compress(TEXT))
    (logs / "noise.dat").write_bytes(os.urandom(20_000))  # no magic: random bytes (encrypted, compressed)
    (logs / "empty.log").write_bytes(b"")
    os.mkfifo(logs / "pipe")
    files, skipped = expand_inputs([str(logs)])
    assert [Path(f).name for f in files] == ["auth.log", "auth.log.2.gz", "empty.log"]
    why = reasons(skipped)
    assert set(why) == {"prog", "wtmp", "old.log.xz", "old.log.bz2", "noise.dat", "pipe"}
    assert "ELF" in why["prog"] and "binary" in why["wtmp"] and "binary" in why["noise.dat"]
    assert "xz" in why["old.log.xz"] and "bzip2" in why["old.log.bz2"]
    assert "not a regular file" in why["pipe"]
    assert {code for _, code, _ in skipped} == {"LOG-4109", "LOG-4107"}  # passed over on purpose, not failures


def test_symlinked_folders_are_not_followed_and_each_file_is_read_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "sub" / "a.log").write_bytes(TEXT)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.log").write_bytes(TEXT)
    (logs / "escape").symlink_to(outside)
    (logs / "loop").symlink_to(logs)
    (logs / "alias.log").symlink_to(logs / "sub" / "a.log")
    files, skipped = expand_inputs([str(logs), str(logs / "sub" / "a.log"), str(logs / "sub" / ".." / "sub" / "a.log")])
    assert files == [str(logs / "sub" / "a.log")]
    why = reasons(skipped)
    assert "symlink" in why["escape"] and "symlink" in why["loop"] and "symlink" in why["alias.log"]


def test_a_symlink_named_on_the_command_line_is_followed(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(TEXT)
    (tmp_path / "link.log").symlink_to(tmp_path / "a.log")
    files, skipped = expand_inputs([str(tmp_path / "link.log")])
    assert files == [str(tmp_path / "link.log")] and skipped == []


def test_deep_folders_end_at_the_depth_bound_without_recursion_errors(tmp_path: Path) -> None:
    deep = tmp_path / "d"
    path = deep
    for _ in range(MAX_DEPTH + 20):
        path = path / "x"
    path.mkdir(parents=True)
    (path / "deep.log").write_bytes(TEXT)
    (deep / "top.log").write_bytes(TEXT)
    files, skipped = expand_inputs([str(deep)])
    assert files == [str(deep / "top.log")]
    assert any("deeper than" in reason for _, _, reason in skipped)


def test_missing_inputs_are_reported_and_stdin_passes_through(tmp_path: Path) -> None:
    files, skipped = expand_inputs(["-", str(tmp_path / "nope.log")])
    assert files == ["-"]
    assert [(code, "no such file" in reason) for _, code, reason in skipped] == [("LOG-4102", True)]


def test_classify_reads_the_decompressed_head_of_a_gzip(tmp_path: Path) -> None:
    text, binary = tmp_path / "t.gz", tmp_path / "b.gz"
    text.write_bytes(gzip.compress(TEXT * 100))
    binary.write_bytes(gzip.compress(ELF))
    assert classify(text) is None
    assert "ELF" in (classify(binary) or "")  # the decoded content names the format


def test_file_reader_refuses_binary_content_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "prog.log"  # the name says log; the content says otherwise
    path.write_bytes(ELF * 1000)
    reader = FileReader(path, MemoryCheckpoints())
    assert list(reader.read_chunks()) == []
    assert [n["code"] for n in reader.notices] == ["LOG-4107"]


def test_file_reader_refuses_compression_it_does_not_decode(tmp_path: Path) -> None:
    path = tmp_path / "auth.log.3.xz"
    path.write_bytes(lzma.compress(TEXT * 100))
    reader = FileReader(path, MemoryCheckpoints())
    assert list(reader.read_chunks()) == []
    assert [n["code"] for n in reader.notices] == ["LOG-4107"] and "xz" in reader.notices[0]["message"]


def test_text_with_escapes_and_latin1_is_still_text(tmp_path: Path) -> None:
    path = tmp_path / "colour.log"
    path.write_bytes(b"\x1b[31mred\x1b[0m caf\xe9 \t tab\r\n" * 200)
    assert classify(path) is None
    assert len([ln for c in FileReader(path, MemoryCheckpoints()).read_chunks() for ln in c.lines()]) == 200


def test_an_attack_logged_verbatim_does_not_make_the_log_binary(tmp_path: Path) -> None:
    """A 2004 Apache log (honeynet.org) holds a WebDAV SEARCH overflow, shellcode and all, in its
    first block: 13% control bytes. `grep -I` would call it binary; skipping it would hide the
    attack, and would let any attacker hide a log by sending junk right after a rotation."""
    normal = b'192.0.2.7 - - [08/Jun/2004:19:09:49 -0400] "GET / HTTP/1.1" 200 2890 "-" "Mozilla/4.0"\n'
    attack = (b'203.0.113.5 - - [08/Jun/2004:20:31:38 -0400] "SEARCH /' + b"\x90\x02\xb1\x02" * 1500
              + b' HTTP/1.1" 414 351 "-" "-"\n')
    for first in ([attack, normal], [attack] * 3 + [normal]):
        path = tmp_path / "access_log"
        path.write_bytes(b"".join(first) + normal * 50)
        assert classify(path) is None
        reader = FileReader(path, MemoryCheckpoints())
        assert len([ln for c in reader.read_chunks() for ln in c.lines()]) == len(first) + 50


def test_a_log_with_a_zero_filled_start_is_still_read(tmp_path: Path) -> None:
    """copytruncate with a writer that keeps its offset (no O_APPEND) leaves a hole of NULs
    before the new lines; a crash can leave NUL runs. The lines after them are read."""
    path = tmp_path / "app.log"
    path.write_bytes(b"\x00" * 50_000 + b"\n" + TEXT * 20)
    assert classify(path) is None
    lines = [ln for c in FileReader(path, MemoryCheckpoints()).read_chunks() for ln in c.lines()]
    assert [ln.text for ln in lines[1:]] == [TEXT.decode().rstrip("\n")] * 20
    assert "nul_bytes" in lines[0].tags


def test_a_log_with_a_few_nul_bytes_is_text(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(TEXT * 3 + b"java said \x00 here\n" + TEXT * 40)
    assert classify(path) is None
