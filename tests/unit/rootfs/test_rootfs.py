"""The resolver every scanner reads through: confinement, refusals, caps and bounded walks."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from rootfs_hostile import CANARY, build, ends, make_deep

from hostwarden.scan.rootfs import RootFS, read_text
from hostwarden.scan.safefiles import read_regular_file, remove_tree

IS_ROOT = os.geteuid() == 0


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[tuple[RootFS, list[tuple[str, str]]]]:
    notes: list[tuple[str, str]] = []
    root = build(tmp_path, sparse=True, deep=0)
    try:
        yield RootFS(root, notify=lambda code, message, **_: notes.append((code, message))), notes
    finally:  # a test may have made a 1,500-deep tree: pytest's own (recursive) cleanup would fail on it
        remove_tree(tmp_path)


def test_links_out_of_the_root_resolve_inside_it(hostile) -> None:
    fs, _ = hostile
    for path in ("/etc/passwd", "/etc/shadow", "/etc/group", "/etc/hostname", "/opt/package-lock.json"):
        assert fs.read_text(path) is None, path  # the re-rooted target does not exist in the root
    (fs.root / "etc/real").write_text("inside\n")
    (fs.root / "etc/abs").symlink_to("/etc/real")
    (fs.root / "etc/climb").symlink_to("../../../../../../../../etc/real")
    assert fs.read_text("/etc/abs") == "inside\n"
    assert fs.read_text("/etc/climb") == "inside\n"
    assert fs.local("/etc/abs") == fs.root / "etc/real"
    assert fs.read_text("/opt/updir/opt/updir/etc/real") == "inside\n"  # `..` at the root stays there


def test_loops_and_special_files_are_refused_with_a_notice(hostile) -> None:
    fs, notes = hostile
    assert fs.read_text("/etc/loop-a") is None
    assert fs.read_text("/etc/ld.so.preload") is None
    assert ends(lambda: fs.read_text("/etc/ssh/sshd_config")) is None  # a FIFO: never opened, never blocks
    refused = [m for c, m in notes if c == "SCAN-9030"]
    assert any("/etc/loop-a" in m and "loop" in m for m in refused)
    assert any("/etc/ssh/sshd_config" in m and "FIFO" in m for m in refused)


@pytest.mark.skipif(not IS_ROOT, reason="mknod needs root")
def test_devices_are_refused(tmp_path: Path) -> None:
    os.mknod(tmp_path / "zero", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    notes: list[str] = []
    fs = RootFS(tmp_path, notify=lambda code, message, **_: notes.append(code))
    assert ends(lambda: fs.read_bytes("/zero")) is None
    assert notes == ["SCAN-9030"]


def test_proc_files_only_for_proc_paths_of_the_live_host(tmp_path: Path) -> None:
    (tmp_path / "machine-id").symlink_to("/proc/self/environ")
    rel = tmp_path.relative_to("/")
    notes: list[str] = []
    live = RootFS(Path("/"), live=True, notify=lambda code, message, **_: notes.append(message))
    assert live.read_text(f"/{rel}/machine-id") is None  # a /proc file behind a link: the scanner's env
    assert any("pseudo" in n for n in notes)
    assert live.read_text("/proc/sys/kernel/ostype").strip() == "Linux"  # asked for by name on the live host
    offline = RootFS(Path("/"), live=False)
    assert offline.read_text("/proc/sys/kernel/ostype") is None
    assert read_text(tmp_path, "/machine-id") is None  # the helper host facts use


def test_reads_are_capped_per_kind(hostile) -> None:
    fs, notes = hostile
    data = fs.read_bytes("/lib/apk/db/installed", kind="package_db")
    assert data is not None and len(data) == 64 << 20
    assert fs.read_bytes("/var/lib/dpkg/status.d/giant", kind="lockfile", truncate=False) is None
    over = [m for c, m in notes if c == "SCAN-9031"]
    assert any("/lib/apk/db/installed" in m for m in over) and any("giant" in m for m in over)


def test_walks_are_iterative_and_bounded(hostile) -> None:
    fs, notes = hostile
    make_deep(fs.root / "opt/deeper", 1500)
    seen = [folder for folder, _dirs, _files in fs.walk("/opt", max_depth=2000)]
    assert len(seen) > 1500  # 1,500 levels walked without recursion
    notes.clear()
    shallow = [folder for folder, _dirs, _files in fs.walk("/opt", max_depth=10)]
    assert max(f.count("/") for f in shallow) <= 12
    assert any(c == "SCAN-9032" for c, _ in notes)
    capped = sum(len(d) + len(f) for _, d, f in fs.walk("/", max_entries=50))
    assert capped <= 50
    walked = [e.path for _, d, f in fs.walk("/opt") for e in d + f]
    assert "/opt/selfdir" in walked and not any(p.startswith("/opt/selfdir/") for p in walked)  # links not entered
    ends(lambda: remove_tree(fs.root / "opt/deeper"))  # shutil.rmtree recurses per level and fails here
    assert not (fs.root / "opt/deeper").exists()


def test_glob_matches_like_glob_module(hostile) -> None:
    fs, _ = hostile
    (fs.root / "etc/cron.d/.hidden").write_text("x")
    assert fs.glob("/etc/cron.d/*") == ["/etc/cron.d/job"]
    assert fs.glob("/etc/cron.d/*", hidden=True) == ["/etc/cron.d/.hidden", "/etc/cron.d/job"]
    assert "/etc/ssh/sshd_config" in fs.glob("/etc/**/sshd_config")
    assert fs.glob("/nonexistent/*") == []


def test_files_named_by_a_user_must_be_regular(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    for path in (Path("/dev/zero"), tmp_path / "fifo"):
        with pytest.raises(OSError, match="not a regular file"):
            ends(lambda p=path: read_regular_file(p, 1 << 20))
    (tmp_path / "big").write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match="limit"):
        read_regular_file(tmp_path / "big", 10)


def test_remove_tree_never_follows_links(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "file").write_text(CANARY)
    doomed = tmp_path / "doomed"
    make_deep(doomed, 50)
    (doomed / "link").symlink_to(keep)
    ends(lambda: remove_tree(doomed))
    assert not doomed.exists()
    assert (keep / "file").read_text() == CANARY


def test_host_facts_never_read_through_links_out_of_the_root(tmp_path: Path) -> None:
    from hostwarden.scan.hostfacts import host_facts

    root = build(tmp_path, sparse=False, deep=0)
    facts = host_facts(root, False)
    assert CANARY not in repr(facts) and "id" not in facts and "name" not in facts
    (root / "etc/hostname").unlink()
    (root / "etc/hostname").write_text("web-1\n")
    assert host_facts(root, False)["name"] == "web-1"
    assert host_facts(Path("/"), True)["live"] is True
