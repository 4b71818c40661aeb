"""Image extraction stays inside its folder, and the folder never outlives the scan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rootfs_hostile import docker_save, member, tar_bytes

from hostwarden.scan.vuln.image import unpack
from hostwarden.scan.vuln.workdir import image_workdir, remove_stale_workdirs


def _layer(files: dict[str, str], links: dict[str, str] | None = None, empty: list[str] | None = None) -> bytes:
    entries = [member(name, len(text.encode())) for name, text in files.items()]
    entries += [member(name) for name in empty or []]
    entries += [member(name, link=target) for name, target in (links or {}).items()]
    return tar_bytes(entries, {name: text.encode() for name, text in files.items()})


@pytest.mark.parametrize("whiteout", [".wh..", ".wh...", "etc/.wh..", "etc/.wh...", ".wh.", "self/.wh.etc",
                                      "abs/.wh.etc", "up/.wh.rootfs", "self/.wh..wh..opq", "abs/.wh..wh..opq",
                                      ".wh.self/x"])
def test_whiteouts_never_remove_the_extracted_root(tmp_path: Path, whiteout: str) -> None:
    lower = _layer({"etc/passwd": "root:x:0:0::/root:/bin/sh\n", "usr/bin/tool": "x"},
                   links={"self": ".", "abs": "/", "up": ".."})
    image = docker_save(tmp_path / "img.tar", [lower, _layer({}, empty=[whiteout])])
    dest = tmp_path / "out" / "rootfs"
    unpack(image, dest)
    assert dest.is_dir()
    assert (dest / "etc/passwd").read_text().startswith("root:")
    assert (dest / "usr/bin/tool").exists()


def test_whiteouts_still_delete_what_they_name(tmp_path: Path) -> None:
    lower = _layer({"etc/a": "1", "etc/b": "2", "opt/x/y": "3"})
    upper = _layer({}, empty=["etc/.wh.a", "opt/.wh..wh..opq"])
    dest = tmp_path / "rootfs"
    unpack(docker_save(tmp_path / "img.tar", [lower, upper]), dest)
    assert not (dest / "etc/a").exists() and (dest / "etc/b").exists()
    assert (dest / "opt").is_dir() and not any((dest / "opt").iterdir())


def test_absolute_links_of_an_image_stay_inside_it(tmp_path: Path) -> None:
    """Writes through `lib -> /usr/lib` land in the image's /usr/lib, never the scanning host's."""
    lower = _layer({"usr/lib/keep": "k"}, links={"lib": "/usr/lib", "etcl": "/etc"})
    upper = _layer({"lib/added": "a", "etcl/hostwarden-planted": "p"})
    dest = tmp_path / "rootfs"
    unpack(docker_save(tmp_path / "img.tar", [lower, upper]), dest)
    assert (dest / "usr/lib/added").read_text() == "a"
    assert (dest / "etc/hostwarden-planted").read_text() == "p"
    assert not Path("/etc/hostwarden-planted").exists()


def test_workdir_is_removed_when_the_scan_fails(tmp_path: Path) -> None:
    seen = []
    with pytest.raises(RuntimeError), image_workdir(base=tmp_path) as work:
        seen.append(work)
        (work / "rootfs").mkdir()
        raise RuntimeError("scan failed")
    assert seen and not seen[0].exists()


PROGRAM = """
import sys, time
from pathlib import Path
from hostwarden.scan.vuln.workdir import image_workdir, install_cleanup_handlers
install_cleanup_handlers()
with image_workdir(base=Path(sys.argv[1])) as work:
    (work / "rootfs").mkdir()
    print(work, flush=True)
    time.sleep(120)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_workdir_is_removed_when_the_scan_is_stopped(tmp_path: Path, signum: int) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    work = Path(proc.stdout.readline().strip())
    assert work.is_dir()
    proc.send_signal(signum)
    proc.wait(timeout=60)
    assert not work.exists()


def test_stale_workdirs_of_dead_scans_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    old = time.time() - 48 * 3600

    def folder(name: str, pid: int, age: float) -> Path:
        path = tmp_path / name
        (path / "rootfs/deep").mkdir(parents=True)
        (path / ".hostwarden-owner").write_text(str(pid))
        os.utime(path, (age, age))
        return path

    stale = folder("hostwarden-image-stale", int(dead.stdout), old)
    running = folder("hostwarden-image-running", os.getppid(), old)
    fresh = folder("hostwarden-image-fresh", int(dead.stdout), time.time())
    other = folder("someone-else-old", int(dead.stdout), old)
    removed = remove_stale_workdirs(max_age_hours=24, base=tmp_path)
    assert removed == [stale] and not stale.exists()
    assert running.exists() and fresh.exists() and other.exists()


def test_an_image_link_to_a_host_file_is_read_inside_the_image(tmp_path: Path) -> None:
    """A malicious image must not pull the scanning host's files into the report (CI secrets)."""
    import json as _json

    from hostwarden.scan.base import ScanContext
    from hostwarden.scan.vuln.scanner import VulnScanner

    host_file = tmp_path / "host-requirements.txt"
    host_file.write_text("hostonly==0.1\n")
    lower = _layer({"etc/os-release": "ID=alpine\nVERSION_ID=3.18.4\n"},
                   links={"app/requirements.txt": str(host_file), "app2/requirements.txt": "../../../../../" +
                          str(host_file).lstrip("/")})
    image = docker_save(tmp_path / "img.tar", [lower])
    record = {"id": "PYSEC-HOST-1", "modified": "2024-01-01T00:00:00Z",
              "affected": [{"package": {"ecosystem": "PyPI", "name": "hostonly"},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]}
    adv = tmp_path / "adv.json"
    adv.write_text(_json.dumps(record))
    scanner = VulnScanner()
    findings = scanner.scan(ScanContext(root=tmp_path / "unused", options={"image": str(image), "advisories": str(adv)}))
    assert findings == [] and scanner.summary["packages"] == 0


def test_runtime_reads_nothing_for_a_root_that_is_not_slash(tmp_path: Path) -> None:
    from hostwarden.scan.base import ScanContext
    from hostwarden.scan.runtime import RuntimeScanner

    scanner = RuntimeScanner()
    assert scanner.scan(ScanContext(root=tmp_path, live=True)) == []
    assert "skipped" in scanner.summary
