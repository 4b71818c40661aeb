"""Actions on the host itself, for real: quarantine and exact restore, killing only the right
process, locking an account and restoring its shadow entry exactly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from respond_helpers import is_root, playbook

from hostwarden.respond.actions.process import read_stat, start_epoch


def _xattrs_supported(folder: Path) -> bool:
    probe = folder / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


QUARANTINE = """
id: q
trigger: {grades: [L1]}
actions: [{quarantine_file: {field: file.path}, approval: auto}]
"""


def _meta(p: Path) -> tuple[int, int, int, int, dict[str, bytes]]:
    st = os.lstat(p)
    return (st.st_uid, st.st_gid, st.st_mode, st.st_mtime_ns,
            {n: os.getxattr(p, n) for n in sorted(os.listxattr(p))})


@pytest.mark.parametrize("where", ["same-filesystem", "tmpfs"])
def test_quarantine_restores_bytes_owner_mode_and_xattrs(make_settings, make_responder, tmp_path, where) -> None:  # type: ignore[no-untyped-def]
    if not is_root():
        pytest.skip("setting another owner needs root")
    folder = tmp_path / "www" if where == "same-filesystem" else Path("/dev/shm") / f"hw-q-{os.getpid()}"
    if where == "tmpfs" and not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if not _xattrs_supported(folder):
            pytest.skip(f"{folder} does not support user xattrs")
        shell = folder / "shell.php"
        content = b"<?php eval($_POST['x']); ?>\n" + bytes(range(256)) * 40
        shell.write_bytes(content)
        os.chown(shell, 1234, 2345)
        os.chmod(shell, 0o6751)
        os.setxattr(shell, "user.origin", b"upload\x00\xff")
        os.setxattr(shell, "user.note", b"")
        os.utime(shell, ns=(1_600_000_000_123_456_789, 1_500_000_000_987_654_321))
        before = _meta(shell)

        s = make_settings()
        r = make_responder(s, [playbook(QUARANTINE, s)])
        (out,) = r.handle({"hostwarden.grade": "L1", "file.path": str(shell)}, wait=True)
        assert out.status == "applied", out
        assert not shell.exists()
        (held,) = list(Path(s.quarantine_dir).glob("*/content"))
        assert held.read_bytes() == content and held.stat().st_mode & 0o7777 == 0  # kept whole, unusable
        assert r.undo(out.id).status == "undone"
        assert shell.read_bytes() == content
        assert _meta(shell) == before
        assert not held.exists()
    finally:
        if where == "tmpfs":
            shutil.rmtree(folder, ignore_errors=True)


def test_quarantine_refuses_protected_symlinked_and_conflicting_paths(make_settings, make_responder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(allowlist={"paths": [str(tmp_path / "protected")]})
    r = make_responder(s, [playbook(QUARANTINE, s)])
    (tmp_path / "protected").mkdir()
    (tmp_path / "protected" / "keep").write_text("x")
    (tmp_path / "via").symlink_to(tmp_path / "protected")
    (tmp_path / "link").symlink_to(tmp_path / "protected" / "keep")
    for path, code in ((tmp_path / "protected" / "keep", "RESP-6001"), (tmp_path / "via" / "keep", "RESP-6001"),
                       (tmp_path / "link", "RESP-6009"), (tmp_path / "missing", "RESP-6009"),
                       (Path(s.state_file), "RESP-6001")):
        (out,) = r.handle({"hostwarden.grade": "L1", "file.path": str(path)}, wait=True)
        assert (out.status, out.code) == ("refused" if code == "RESP-6001" else "skipped", code), path
    assert (tmp_path / "protected" / "keep").read_text() == "x"

    victim = tmp_path / "a.php"
    victim.write_text("first")
    (out,) = r.handle({"hostwarden.grade": "L1", "file.path": str(victim)}, wait=True)
    victim.write_text("someone put a new file here")
    undone = r.undo(out.id)
    assert (undone.status, undone.code) == ("failed", "RESP-6016")
    assert victim.read_text() == "someone put a new file here"  # nothing overwritten
    assert [p.read_text() for p in Path(s.quarantine_dir).glob("*/content")] == ["first"]  # nothing lost
    assert r.list_actions(("active",))  # still undoable later


KILL = """
id: k
trigger: {grades: [L1]}
actions: [{kill_process: {signal: %s}}]
"""


def _alert_for(pid: int, start: float | None) -> dict[str, object]:
    a: dict[str, object] = {"hostwarden.grade": "L1", "process.pid": pid, "@timestamp": "2000-01-01T00:00:00Z"}
    if start is not None:
        a["process.start"] = start
    return a


@pytest.fixture
def victim():  # type: ignore[no-untyped-def]
    proc = subprocess.Popen(["sleep", "120"])
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_kill_waits_for_approval_and_hits_the_right_process(make_settings, make_responder, victim) -> None:  # type: ignore[no-untyped-def]
    s = make_settings()
    r = make_responder(s, [playbook(KILL % "KILL", s)])
    started = start_epoch(read_stat(victim.pid)["ticks"])
    (out,) = r.handle(_alert_for(victim.pid, started), wait=True)
    assert out.status == "pending" and victim.poll() is None  # manual by default
    assert r.approve(out.id).status == "applied"
    assert victim.wait(timeout=10) == -signal.SIGKILL


def test_a_reused_pid_is_never_signalled(make_settings, make_responder, victim) -> None:  # type: ignore[no-untyped-def]
    s = make_settings()
    r = make_responder(s, [playbook(KILL % "KILL", s)])
    started = start_epoch(read_stat(victim.pid)["ticks"])
    # the alert's process started a minute before the one that has this pid now
    (out,) = r.handle(_alert_for(victim.pid, started - 60), wait=True)
    assert (out.status, out.code) == ("refused", "RESP-6008")
    # no start time: the alert's event (year 2000) is older than this process, so not it either
    (out,) = r.handle(_alert_for(victim.pid, None), wait=True)
    assert (out.status, out.code) == ("refused", "RESP-6008")
    # planned for the right process, but the pid changed hands before approval
    (out,) = r.handle(_alert_for(victim.pid, started), wait=True)
    plan = r.state.get(out.id)["plan"]
    plan["facts"]["ticks"] -= 500
    r.state.update(out.id, plan=plan)
    result = r.approve(out.id)
    assert (result.status, result.code) == ("failed", "RESP-6008")
    time.sleep(0.1)
    assert victim.poll() is None


def test_stop_is_undone_with_cont(make_settings, make_responder, victim) -> None:  # type: ignore[no-untyped-def]
    s = make_settings()
    r = make_responder(s, [playbook(KILL % "STOP", s)])
    (out,) = r.handle(_alert_for(victim.pid, start_epoch(read_stat(victim.pid)["ticks"])), wait=True)
    assert r.approve(out.id).status == "applied"
    assert _wait_state(victim.pid, "T")
    assert r.undo(out.id).status == "undone"
    assert _wait_state(victim.pid, "S")


def _wait_state(pid: int, want: str) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if read_stat(pid)["state"] == want:
            return True
        time.sleep(0.02)
    return False


def test_init_kernel_threads_and_hostwarden_itself_are_protected(make_settings, make_responder) -> None:  # type: ignore[no-untyped-def]
    s = make_settings()
    r = make_responder(s, [playbook(KILL % "KILL", s)])
    for pid in (1, os.getpid(), os.getppid()):
        (out,) = r.handle(_alert_for(pid, None), wait=True)
        assert (out.status, out.code) == ("refused", "RESP-6001"), pid


# --- disable_user on a copy of /etc under a temporary root ---------------------------------------
SHADOW = ("root:*:19000:0:99999:7:::\n"
          "deploy:$6$salt$hash.value:19500:0:99999:7:30:20500:\n"
          "nopass::::::::\n")


@pytest.fixture
def system_root(tmp_path: Path) -> Path:
    if not is_root() or not all(shutil.which(t) for t in ("usermod", "chage", "chpasswd")):
        pytest.skip("needs root and usermod, chage, chpasswd (Debian package passwd)")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\ndeploy:x:1500:1500::/home/deploy:/bin/sh\n"
                                         "nopass:x:1501:1501::/home/nopass:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\ndeploy:x:1500:\nnopass:x:1501:\n")
    (root / "etc" / "shadow").write_text(SHADOW)
    (root / "etc" / "shadow").chmod(0o640)
    return root


DISABLE = """
id: d
trigger: {grades: [L1]}
actions: [{disable_user: {}, approval: auto}]
"""


@pytest.mark.parametrize("user", ["deploy", "nopass"])
def test_disable_user_locks_and_undo_restores_the_entry_exactly(make_settings, make_responder, system_root,
                                                                user) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(users={"root": str(system_root)})
    r = make_responder(s, [playbook(DISABLE, s)])
    shadow = system_root / "etc" / "shadow"
    (out,) = r.handle({"hostwarden.grade": "L1", "user.name": user}, wait=True)
    assert out.status == "applied", out
    line = next(x for x in shadow.read_text().splitlines() if x.startswith(user + ":"))
    fields = line.split(":")
    assert fields[1].startswith("!") and fields[7] == "1"  # locked and expired
    apply_rec = [rec for rec in r.audit.records() if rec["kind"] == "apply"][0]
    assert "$6$" not in str(apply_rec)  # no password hash in the audit log
    assert r.undo(out.id).status == "undone"
    assert shadow.read_text() == SHADOW


def test_disable_user_undo_refuses_when_the_account_changed_meanwhile(make_settings, make_responder,
                                                                       system_root) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(users={"root": str(system_root)})
    r = make_responder(s, [playbook(DISABLE, s)])
    (out,) = r.handle({"hostwarden.grade": "L1", "user.name": "deploy"}, wait=True)
    shadow = system_root / "etc" / "shadow"
    changed = shadow.read_text().replace("$6$salt$hash.value", "$6$new$admin.reset")
    shadow.write_text(changed)
    undone = r.undo(out.id)
    assert (undone.status, undone.code) == ("failed", "RESP-6016")
    assert shadow.read_text() == changed
    (refused,) = r.handle({"hostwarden.grade": "L1", "user.name": "root"}, wait=True)
    assert (refused.status, refused.code) == ("refused", "RESP-6001")
