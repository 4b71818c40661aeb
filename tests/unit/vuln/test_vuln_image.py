"""Container images built by the test: whiteouts and opaque dirs decide what is reported."""

import gzip
import hashlib
import io
import json
import tarfile

import pytest
from vuln_helpers import osv_record, write_records

from hostwarden.core.errors import HostwardenError
from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.vuln.image import unpack
from hostwarden.scan.vuln.scanner import VulnScanner

SITE = "usr/lib/python3.11/site-packages"


def layer(files: dict[str, str | None], symlinks: dict[str, str] | None = None) -> bytes:
    """A layer tar: path -> text (None makes an empty file, used for whiteout markers)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, text in files.items():
            data = (text or "").encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for path, target in (symlinks or {}).items():
            info = tarfile.TarInfo(path)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


APK = "P:musl\nV:1.2.4-r0\no:musl\n\nP:libcrypto3\nV:3.1.0-r4\no:openssl\n\n"
LOWER = {
    "etc/os-release": "ID=alpine\nVERSION_ID=3.18.4\n",
    "lib/apk/db/installed": APK,
    f"{SITE}/vulnlib-1.0.dist-info/METADATA": "Name: vulnlib\nVersion: 1.0\n",
    "opt/app/requirements.txt": "oldlib==0.1\n",
}
UPPER = {
    f"{SITE}/.wh.vulnlib-1.0.dist-info": None,  # deletes the vulnerable distribution
    "opt/app/.wh..wh..opq": None,  # empties /opt/app as the lower layer left it
    "opt/app/requirements.txt": "newlib==2.0\n",
}


def docker_save(path, layers):
    with tarfile.open(path, "w") as tar:
        names = []
        for i, data in enumerate(layers):
            name = f"layer{i}/layer.tar"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            names.append(name)
        manifest = json.dumps([{"Config": "abc.json", "RepoTags": ["test:1"], "Layers": names}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    return path


def oci_layout(folder, layers):
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}"

    layer_digests = [blob(gzip.compress(data)) for data in layers]
    manifest = {"schemaVersion": 2, "config": {"digest": blob(b"{}")},
                "layers": [{"digest": d, "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}
                           for d in layer_digests]}
    index = {"schemaVersion": 2, "manifests": [{"digest": blob(json.dumps(manifest).encode()),
                                                "annotations": {"org.opencontainers.image.ref.name": "t"}}]}
    (folder / "index.json").write_text(json.dumps(index))
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return folder


@pytest.fixture
def advisories(tmp_path):
    return write_records(tmp_path / "adv", [
        osv_record("ALPINE-1", "Alpine:v3.18", "openssl", [{"introduced": "0"}, {"fixed": "3.1.1-r0"}]),
        osv_record("ALPINE-2", "Alpine:v3.17", "musl", [{"introduced": "0"}, {"fixed": "9.9-r0"}]),
        osv_record("PYSEC-1", "PyPI", "vulnlib", [{"introduced": "0"}, {"fixed": "2.0"}]),
        osv_record("PYSEC-2", "PyPI", "oldlib", [{"introduced": "0"}, {"fixed": "1.0"}]),
        osv_record("PYSEC-3", "PyPI", "newlib", [{"introduced": "0"}, {"fixed": "2.0"}]),
    ])


def scan_image(image, advisories, tmp_path):
    ctx = ScanContext(root=tmp_path, options={"image": str(image), "advisories": str(advisories)})
    scanner = VulnScanner()
    return ecs_records(scanner.scan(ctx)), scanner


def test_docker_save_reports_only_final_filesystem(tmp_path, advisories):
    image = docker_save(tmp_path / "img.tar", [layer(LOWER), layer(UPPER)])
    findings, scanner = scan_image(image, advisories, tmp_path)
    assert sorted((f["package.name"], f["vulnerability.id"]) for f in findings) == [("libcrypto3", "ALPINE-1")]
    assert scanner.summary["image"]["format"] == "docker-save"
    assert scanner.summary["image"]["tags"] == ["test:1"]


def test_lower_layer_alone_has_the_deleted_packages(tmp_path, advisories):
    image = docker_save(tmp_path / "img.tar", [layer(LOWER)])
    findings, _ = scan_image(image, advisories, tmp_path)
    assert sorted(f["vulnerability.id"] for f in findings) == ["ALPINE-1", "PYSEC-1", "PYSEC-2"]


def test_oci_layout_with_gzip_layers(tmp_path, advisories):
    image = oci_layout(tmp_path / "oci", [layer(LOWER), layer(UPPER)])
    findings, scanner = scan_image(image, advisories, tmp_path)
    assert sorted(f["vulnerability.id"] for f in findings) == ["ALPINE-1"]
    assert scanner.summary["image"]["format"] == "oci"


def test_hostile_layer_cannot_escape_the_root(tmp_path):
    evil = layer({"../escape.txt": "x", "etc/ok": "fine", "link/x": None},
                 symlinks={"link": "/tmp"})
    evil2 = layer({"link/planted": "through symlink"})
    image = docker_save(tmp_path / "evil.tar", [evil, evil2])
    dest = tmp_path / "out" / "rootfs"
    unpack(image, dest)
    assert (dest / "etc/ok").read_text() == "fine"
    assert not (tmp_path / "out" / "escape.txt").exists()
    assert not (tmp_path / "escape.txt").exists()
    assert (dest / "link").is_symlink()
    import os
    assert not os.path.exists("/tmp/planted")


@pytest.mark.parametrize("content", [b"", b"not a tar at all", b"\x1f\x8b\x08garbage"])
def test_damaged_image_is_scan_9015(tmp_path, content):
    path = tmp_path / "bad.tar"
    path.write_bytes(content)
    with pytest.raises(HostwardenError) as info:
        unpack(path, tmp_path / "out")
    assert info.value.code.code == "SCAN-9015"


def test_tar_without_manifest_is_scan_9015(tmp_path):
    image = tmp_path / "plain.tar"
    with tarfile.open(image, "w") as tar:
        data = b"x"
        info = tarfile.TarInfo("file")
        info.size = 1
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(HostwardenError, match="SCAN-9015"):
        unpack(image, tmp_path / "out")
