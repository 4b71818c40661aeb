"""`hostwarden scan --image IMG.tar` with `[scan.options] image_allowlist` in the config file: an image
off the list is an L2 finding (and fails `--fail-on L2`), the same image once listed is not."""

import hashlib
import io
import json
import subprocess
import sys
import tarfile

CONFIG = json.dumps({"architecture": "amd64", "os": "linux"}).encode()


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def build_image(path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as layer:
        add(layer, "etc/os-release", b"ID=alpine\nVERSION_ID=3.18.4\n")
    config_name = hashlib.sha256(CONFIG).hexdigest() + ".json"
    with tarfile.open(path, "w") as tar:
        add(tar, "l0/layer.tar", buf.getvalue())
        add(tar, config_name, CONFIG)
        add(tar, "manifest.json", json.dumps([{"Config": config_name, "Layers": ["l0/layer.tar"]}]).encode())
    return "sha256:" + hashlib.sha256(CONFIG).hexdigest()


def scan(tmp_path, image, allow):
    cfg = tmp_path / "hw.toml"
    cfg.write_text(f'[scan.options]\nimage_allowlist = ["{allow}"]\n')
    proc = subprocess.run([sys.executable, "-m", "hostwarden.cli", "scan", "--image", str(image), "--config", str(cfg),
                           "--data-dir", str(tmp_path / "data"), "--only", "vuln", "--format", "json",
                           "--fail-on", "L2"], capture_output=True, text=True, timeout=600)
    return proc, json.loads(proc.stdout)


def test_cli_image_allowlist(tmp_path):
    image = tmp_path / "img.tar"
    actual = build_image(image)
    proc, doc = scan(tmp_path, image, "sha256:" + "0" * 64)
    hits = [f for f in doc["findings"] if f.get("rule.id") == "hostwarden.image.digest_allowlist"]
    assert proc.returncode == 1, proc.stderr
    assert len(hits) == 1 and hits[0]["hostwarden.grade"] == "L2"
    assert hits[0]["hostwarden.evidence"]["actual"]["config_digest"] == actual

    proc, doc = scan(tmp_path, image, actual)
    assert proc.returncode == 0, proc.stderr
    assert not [f for f in doc["findings"] if f.get("rule.id") == "hostwarden.image.digest_allowlist"]
