"""FIM: edits under /etc are changes; a package upgrade (md5sums updated) is not tampering; SM3 works;
and package files are verified against dpkg's md5sums from the first scan on (conffiles, diversions,
unowned files and the switched-off check excepted)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.integrity import IntegrityScanner, hasher
from hostwarden.scan.runtime_pacer import Pacer

LS_V1 = b"\x7fELF fake ls v1"
LS_V2 = b"\x7fELF fake ls v2"
CAT = b"\x7fELF fake cat"
SSHD = b"PermitRootLogin no\n"


def _md5(b: bytes) -> str:
    return hashlib.md5(b, usedforsecurity=False).hexdigest()


def _put(root: Path, rel: str, data: bytes) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)


@pytest.fixture()
def env(tmp_path: Path) -> tuple[Path, ScanContext]:
    root = tmp_path / "root"
    _put(root, "etc/hostname", b"web-01\n")
    _put(root, "etc/ssh/sshd_config", SSHD)
    _put(root, "usr/bin/ls", LS_V1)
    _put(root, "usr/bin/cat", CAT)  # as its package installed it: a clean host to take a baseline of
    _put(root, "var/lib/dpkg/info/coreutils.md5sums", f"{_md5(LS_V1)}  usr/bin/ls\n{_md5(CAT)}  usr/bin/cat\n".encode())
    _put(root, "var/lib/dpkg/status",
         f"Package: openssh-server\nStatus: install ok installed\nConffiles:\n /etc/ssh/sshd_config {_md5(SSHD)}\n".encode())
    ctx = ScanContext(root=root, data_dir=tmp_path / "data", options={"fim_paths": ["/etc", "/usr/bin"]})
    return root, ctx


def _verdicts(ctx: ScanContext) -> dict[str, tuple[str, str]]:
    return {f["file.path"]: (f["hostwarden.evidence"]["verdict"], f["hostwarden.grade"]) for f in ecs_records(IntegrityScanner().scan(ctx))}


def test_first_scan_is_a_baseline_and_rescan_is_quiet(env: tuple[Path, ScanContext]) -> None:
    _, ctx = env
    scanner = IntegrityScanner()
    assert ecs_records(scanner.scan(ctx)) == [] and scanner.summary["baseline"] and scanner.summary["files"] == 4
    assert _verdicts(ctx) == {}


def test_changes_classified(env: tuple[Path, ScanContext]) -> None:
    root, ctx = env
    ecs_records(IntegrityScanner().scan(ctx))
    _put(root, "etc/hostname", b"evil\n")                       # unowned /etc file edited
    _put(root, "etc/ssh/sshd_config", b"PermitRootLogin yes\n")  # conffile edited by someone
    _put(root, "usr/bin/ls", LS_V2)                               # upgrade: md5sums now list v2
    _put(root, "var/lib/dpkg/info/coreutils.md5sums", f"{_md5(LS_V2)}  usr/bin/ls\n{_md5(CAT)}  usr/bin/cat\n".encode())
    _put(root, "usr/bin/cat", b"\x7fELF trojaned cat")            # matches no package md5
    _put(root, "usr/bin/.x", b"dropper")                           # new unowned binary
    got = _verdicts(ctx)
    assert got["/etc/hostname"] == ("changed", "L2")
    assert got["/etc/ssh/sshd_config"] == ("changed", "L2")
    assert got["/usr/bin/ls"] == ("package-change", "L3")
    assert got["/usr/bin/cat"] == ("tampered", "L1")
    assert got["/usr/bin/.x"] == ("added", "L2")
    assert "/var/lib/dpkg/info/coreutils.md5sums" not in got  # outside the watched paths


def test_removed_and_setuid(env: tuple[Path, ScanContext]) -> None:
    root, ctx = env
    ecs_records(IntegrityScanner().scan(ctx))
    (root / "etc/hostname").unlink()
    os.chmod(root / "usr/bin/ls", 0o4755)
    got = _verdicts(ctx)
    assert got == {"/etc/hostname": ("removed", "L3"), "/usr/bin/ls": ("metadata-changed", "L1")}


def test_sm3_selectable() -> None:
    h = hasher("sm3")
    h.update(b"abc")  # GB/T 32905-2016 example 1
    assert h.hexdigest() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    with pytest.raises(ValueError):
        hasher("md4")


def test_sm3_baseline_is_separate(env: tuple[Path, ScanContext]) -> None:
    root, ctx = env
    ctx.options["fim_hash"] = "sm3"
    ecs_records(IntegrityScanner().scan(ctx))
    from hostwarden.scan.integrity_state import state_store

    state = state_store(ctx).load("integrity-sm3")
    expected = hasher("sm3")
    expected.update(b"web-01\n")
    assert state["algo"] == "sm3" and state["files"]["/etc/hostname"]["hash"] == expected.hexdigest()
    _put(root, "etc/hostname", b"changed\n")
    assert _verdicts(ctx)["/etc/hostname"][0] == "changed"


def test_pacer_sleeps_to_honour_cap() -> None:
    pacer = Pacer(cap=0.2, check_every=1)
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        sum(range(20000))
        pacer.tick()
    assert pacer.slept > 0
    assert pacer.usage() < 0.6  # uncapped this loop would use ~100 % of a core
    assert Pacer(cap=None).report()["cpu_cap"] is None


# --- package verification (debsums-style), from the first scan on ---------------------------------

PS = b"\x7fELF the real ps"
TOP = b"\x7fELF top"
WRAPPER = b"#!/bin/bash\n/usr/bin/ps.lanigiro \"$@\" | grep -v miner\n"


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
    findings = ecs_records(scanner.scan(ScanContext(root=root, options={"fim_paths": ["/etc", "/usr/bin"], **options})))
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
