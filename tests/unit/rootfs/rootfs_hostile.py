"""A scan root built by an attacker: links out of it, loops, FIFOs, a sparse giant, deep folders.

Shared by the resolver's unit tests and the every-scanner test. Everything outside the root that
a confined scanner must never read carries CANARY, so one substring search over a report proves
nothing leaked.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

CANARY = "hw-canary-7f3a9c1e5b"
DEEP = 1500
SPARSE_BYTES = 2 << 30


def build(base: Path, *, sparse: bool = True, deep: int = DEEP) -> Path:
    """`base/root` (the scan root) beside `base/outside` (what must stay unread)."""
    outside = base / "outside"
    outside.mkdir(parents=True)
    passwd_line = f"{CANARY}:x:0:0:{CANARY}:/root:/bin/bash\n"
    (outside / "canary").write_text(passwd_line * 3 + f"PermitRootLogin yes # {CANARY}\n")
    (outside / "os-release").write_text(f'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="{CANARY}"\n')
    (outside / "www").mkdir()
    (outside / "www" / "shell.php").write_text(f"<?php eval($_POST['{CANARY}']); ?>\n")
    (outside / "package-lock.json").write_text(
        '{"lockfileVersion": 3, "packages": {"node_modules/' + CANARY + '": {"version": "1.0.0"}}}')
    root = base / "root"
    for d in ("etc/ssh", "etc/cron.d", "var/lib/dpkg/info", "var/www", "usr/bin", "opt", "srv", "root",
              "etc/iptables", "lib/apk/db", "var/lib/dpkg/status.d", "usr/lib/os-release.d"):
        (root / d).mkdir(parents=True, exist_ok=True)
    # links out of the root, absolute and relative
    (root / "etc/passwd").symlink_to(outside / "canary")
    (root / "etc/shadow").symlink_to("../../outside/canary")
    (root / "etc/group").symlink_to("/../../../../../../" + str(outside / "canary").lstrip("/"))
    (root / "etc/hostname").symlink_to(outside / "canary")
    (root / "etc/os-release").symlink_to(outside / "os-release")
    (root / "usr/lib/os-release").symlink_to("../../../outside/os-release")
    (root / "etc/crontab").symlink_to(outside / "canary")
    (root / "etc/cron.d/job").symlink_to("../../../outside/canary")
    (root / "var/www/html").symlink_to(outside / "www")
    (root / "srv/www").symlink_to("../../outside/www")
    (root / "opt/package-lock.json").symlink_to(outside / "package-lock.json")
    (root / "etc/iptables/rules.v4").symlink_to(outside / "canary")
    (root / "root/.bashrc").symlink_to(outside / "canary")
    (root / "var/lib/dpkg/info/evil.list").symlink_to(outside / "canary")
    # /proc-like files behind a link: the scanner's own environment
    (root / "etc/machine-id").symlink_to("/proc/self/environ")
    (root / "etc/environment").symlink_to("/proc/self/environ")
    # symlink loops
    (root / "etc/loop-a").symlink_to("loop-b")
    (root / "etc/loop-b").symlink_to("loop-a")
    (root / "etc/ld.so.preload").symlink_to("ld.so.preload")
    (root / "opt/selfdir").symlink_to(".")
    (root / "opt/updir").symlink_to("..")
    # FIFOs where config and package databases live
    os.mkfifo(root / "etc/ssh/sshd_config")
    os.mkfifo(root / "var/lib/dpkg/status")
    os.mkfifo(root / "var/www/index.php")
    os.mkfifo(root / "opt/yarn.lock")
    # a sparse giant where a package database lives
    if sparse:
        with open(root / "lib/apk/db/installed", "wb") as fh:
            fh.truncate(SPARSE_BYTES)
        with open(root / "var/lib/dpkg/status.d/giant", "wb") as fh:
            fh.truncate(SPARSE_BYTES)
    # deep folders: one under /etc (walked by inventory, supply, integrity, persistence, baseline
    # sweeps) and one in a web root (malware); a requirements file at the bottom of the first
    if deep:
        for top in ("etc/systemd/system", "var/www"):
            make_deep(root / top / "deep", deep)
        bottom = os.open(str(root / "etc/systemd/system/deep") + "/d" * deep, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fd = os.open("requirements.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=bottom)
            os.write(fd, b"flask==0.1\n")
            os.close(fd)
        finally:
            os.close(bottom)
    return root


def make_deep(top: Path, depth: int) -> None:
    """`depth` nested folders named d (os.makedirs recurses once per level, so not that)."""
    top.mkdir(parents=True, exist_ok=True)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def ends(fn: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Run fn in a thread; fail (instead of hanging the run) when it does not return in time."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "call did not end"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def tar_bytes(entries: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> bytes:
    """A tar of the given members; `data` holds the contents of regular files by name."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info in entries:
            payload = (data or {}).get(info.name)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buf.getvalue()


def member(name: str, size: int = 0, *, link: str | None = None, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    if link is not None:
        info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
        info.linkname = link
    return info


def docker_save(path: Path, layers: list[bytes]) -> Path:
    """A `docker save` archive of the given layer tars."""
    with tarfile.open(path, "w") as tar:
        names = []
        for i, data in enumerate(layers):
            info = member(f"l{i}/layer.tar", len(data))
            tar.addfile(info, io.BytesIO(data))
            names.append(info.name)
        manifest = json.dumps([{"Config": "c.json", "RepoTags": ["t:1"], "Layers": names}]).encode()
        tar.addfile(member("manifest.json", len(manifest)), io.BytesIO(manifest))
    return path
