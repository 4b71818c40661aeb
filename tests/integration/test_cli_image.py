"""`hostwarden scan --image` and `hostwarden sbom --image` on a docker-save tarball built here."""

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from datetime import UTC, datetime


def layer(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def docker_save(path, layers):
    with tarfile.open(path, "w") as tar:
        names = []
        for i, data in enumerate(layers):
            info = tarfile.TarInfo(f"l{i}/layer.tar")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            names.append(info.name)
        manifest = json.dumps([{"Config": "c.json", "RepoTags": ["demo:1"], "Layers": names}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))


SITE = "usr/lib/python3.11/site-packages"


def record(rid, name, fixed):
    return {"id": rid, "modified": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "summary": rid,
            "affected": [{"package": {"ecosystem": "PyPI", "name": name},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}


def hw(*args):
    proc = subprocess.run([sys.executable, "-m", "hostwarden.cli", *args], capture_output=True, text=True, timeout=600)
    return proc


def test_image_scan_reports_only_what_the_final_layer_holds(tmp_path):
    lower = {"etc/os-release": "ID=debian\nVERSION_ID=12\n",
             f"{SITE}/gonelib-1.0.dist-info/METADATA": "Name: gonelib\nVersion: 1.0\n",
             f"{SITE}/keptlib-1.0.dist-info/METADATA": "Name: keptlib\nVersion: 1.0\n"}
    upper = {f"{SITE}/.wh.gonelib-1.0.dist-info": ""}  # whiteout: the vulnerable gonelib is deleted
    image = tmp_path / "img.tar"
    docker_save(image, [layer(lower), layer(upper)])
    adv = tmp_path / "adv"
    adv.mkdir()
    (adv / "a.json").write_text(json.dumps(record("PYSEC-GONE", "gonelib", "2.0")))
    (adv / "b.json").write_text(json.dumps(record("PYSEC-KEPT", "keptlib", "2.0")))

    proc = hw("scan", "--image", str(image), "--advisories", str(adv), "--only", "vuln", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["host"]["image"] == str(image)
    assert sorted(f.get("vulnerability.id") for f in doc["findings"]) == ["PYSEC-KEPT"]

    sbom = json.loads(hw("sbom", "--image", str(image)).stdout)
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.5"
    names = {c["name"] for c in sbom["components"]}
    assert "keptlib" in names and "gonelib" not in names


def test_damaged_image_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar" * 10)
    proc = hw("scan", "--image", str(bad))
    assert proc.returncode == 2 and "SCAN-" in proc.stderr and "Traceback" not in proc.stderr


def _workdirs(tmp):
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith(("hostwarden-image-", "hostwarden-sbom-")))


def test_image_commands_leave_no_work_folder_and_remove_stale_ones(tmp_path):
    """A killed scan's folder (owner gone, a day old) goes at the next start; a running scan's stays."""
    image = tmp_path / "img.tar"
    docker_save(image, [layer({"etc/os-release": "ID=debian\nVERSION_ID=12\n"})])
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    old = time.time() - 3 * 86400
    for name, owner in (("hostwarden-image-killed", int(dead.stdout)), ("hostwarden-image-running", os.getpid())):
        (tmp / name).mkdir()
        (tmp / name / ".hostwarden-owner").write_text(str(owner))
        os.utime(tmp / name, (old, old))
    env = {**os.environ, "TMPDIR": str(tmp)}
    for args in (["scan", "--image", str(image), "--only", "vuln", "--format", "json"], ["sbom", "--image", str(image)]):
        proc = subprocess.run([sys.executable, "-m", "hostwarden.cli", *args], capture_output=True, text=True,
                              timeout=600, env=env)
        assert proc.returncode == 0, proc.stderr
        assert _workdirs(tmp) == ["hostwarden-image-running"], args


def test_image_limits_from_the_config_apply_to_scan_image(tmp_path):
    """`[scan.options] image_max_bytes` reaches the unpack: a layer past it is SCAN-9033, not a full disk."""
    image = tmp_path / "img.tar"
    docker_save(image, [layer({"etc/os-release": "ID=debian\nVERSION_ID=12\n", "big": "x" * 100_000})])
    cfg = tmp_path / "hw.toml"
    cfg.write_text("[scan.options]\nimage_max_bytes = 50000\n")
    proc = hw("scan", "--image", str(image), "--config", str(cfg), "--only", "vuln", "--format", "json")
    assert proc.returncode == 2 and "SCAN-9033" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
