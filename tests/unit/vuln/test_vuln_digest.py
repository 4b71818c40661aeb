"""Image digest allowlist: digests computed from the bytes of images built here (docker save and OCI),
an image off the list is an L2 finding with the evidence, one on it is silent; bad lists and tampered
archives are reported, never crash. The CLI path is tests/integration/test_vuln_digest_cli.py."""

import hashlib
import io
import json
import tarfile

import pytest
from test_vuln_image import docker_save, layer, oci_layout

from hostwarden.core.errors import HostwardenError
from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.vuln import digest
from hostwarden.scan.vuln.scanner import VulnScanner

FILES = {"etc/os-release": "ID=alpine\nVERSION_ID=3.18.4\n"}
CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def docker_save_with_config(path, config=CONFIG, *, config_name=None):
    """docker save layout: <hex>.json config named after its digest, manifest.json pointing at it."""
    data = layer(FILES)
    name = config_name or hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(path, "w") as tar:
        add(tar, "l0/layer.tar", data)
        add(tar, name, config)
        add(tar, "manifest.json", json.dumps([{"Config": name, "RepoTags": ["app:1"], "Layers": ["l0/layer.tar"]}]
                                             ).encode())
    return path


def scan(image, tmp_path, **options):
    ctx = ScanContext(root=tmp_path, options={"image": str(image), "supply_chain": False, **options},
                      data_dir=tmp_path / "nodb")
    scanner = VulnScanner()
    findings = ecs_records(scanner.scan(ctx))
    return findings, scanner, ctx


def test_docker_save_config_digest_is_computed(tmp_path):
    image = docker_save_with_config(tmp_path / "img.tar")
    got = digest.image_digests(image)
    assert got.config_digest == sha(CONFIG) and got.manifest_digest is None and got.mismatches == []


def test_oci_layout_digests_are_manifest_and_config(tmp_path):
    folder = oci_layout(tmp_path / "oci", [layer(FILES)])
    index = json.loads((folder / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"]
    manifest = json.loads((folder / "blobs/sha256" / manifest_digest.split(":")[1]).read_bytes())
    got = digest.image_digests(folder)
    assert got.manifest_digest == manifest_digest
    assert got.config_digest == manifest["config"]["digest"] == sha(b"{}")
    # the same layout packed in a tar (oci-archive) gives the same digests
    with tarfile.open(tmp_path / "oci.tar", "w") as tar:
        tar.add(folder, arcname=".")
    assert digest.image_digests(tmp_path / "oci.tar").all == got.all


def test_image_not_on_allowlist_is_l2_with_evidence(tmp_path):
    image = docker_save_with_config(tmp_path / "img.tar")
    other = "sha256:" + "a" * 64
    findings, scanner, _ = scan(image, tmp_path, image_allowlist=[other])
    assert len(findings) == 1
    f = findings[0]
    assert f["hostwarden.grade"] == "L2" and f["rule.id"] == digest.RULE_ID
    assert f["hostwarden.evidence"]["expected"] == [other]
    assert f["hostwarden.evidence"]["actual"]["config_digest"] == sha(CONFIG)
    assert scanner.summary["image"]["allowlisted"] is False


def test_image_on_allowlist_file_is_silent(tmp_path):
    image = docker_save_with_config(tmp_path / "img.tar")
    allow = tmp_path / "images.allow"
    allow.write_text(f"# approved images\n\nregistry.example/app@{sha(CONFIG)}  # app 1.0\nsha256:{'b' * 64}\n")
    findings, scanner, ctx = scan(image, tmp_path, image_allowlist_file=str(allow))
    assert findings == []
    assert scanner.summary["image"]["allowlisted"] is True
    assert scanner.summary["image"]["config_digest"] == sha(CONFIG)


def test_oci_image_allowed_by_manifest_digest(tmp_path):
    folder = oci_layout(tmp_path / "oci", [layer(FILES)])
    manifest_digest = json.loads((folder / "index.json").read_text())["manifests"][0]["digest"]
    assert scan(folder, tmp_path, image_allowlist=manifest_digest)[0] == []
    assert len(scan(folder, tmp_path, image_allowlist=sha(b"other"))[0]) == 1


def test_no_allowlist_configured_means_no_check(tmp_path):
    image = docker_save_with_config(tmp_path / "img.tar")
    findings, scanner, _ = scan(image, tmp_path)
    assert findings == [] and "allowlisted" not in scanner.summary["image"]


def test_invalid_allowlist_line_fails_closed(tmp_path):
    image = docker_save_with_config(tmp_path / "img.tar")
    allow = tmp_path / "images.allow"
    allow.write_text(f"{sha(CONFIG)}\nlatest\n")
    findings, _, ctx = scan(image, tmp_path, image_allowlist_file=str(allow))
    assert [n["code"] for n in ctx.notices if n["code"] == "CSA-5002"] == ["CSA-5002"]
    assert "images.allow:2" in next(n["message"] for n in ctx.notices if n["code"] == "CSA-5002")
    assert len(findings) == 1 and "could not be verified" in findings[0]["message"]
    with pytest.raises(HostwardenError, match="CSA-5002"):
        digest.load_allowlist({"image_allowlist_file": str(tmp_path / "missing")})


def test_config_renamed_to_a_false_digest_is_noticed(tmp_path):
    """A tampered archive naming its config after an allowed digest does not pass: the bytes decide."""
    allowed = "sha256:" + "c" * 64
    image = docker_save_with_config(tmp_path / "img.tar", config_name="c" * 64 + ".json")
    findings, _, ctx = scan(image, tmp_path, image_allowlist=[allowed])
    assert len(findings) == 1 and findings[0]["hostwarden.evidence"]["actual"]["config_digest"] == sha(CONFIG)
    assert any(n["code"] == "SCAN-9015" and "hashes to" in n["message"] for n in ctx.notices)


@pytest.mark.parametrize("content", [b"", b"garbage" * 50])
def test_unreadable_image_is_scan_9015(tmp_path, content):
    path = tmp_path / "bad.tar"
    path.write_bytes(content)
    with pytest.raises(HostwardenError, match="SCAN-9015"):
        digest.image_digests(path)


def test_plain_docker_save_helper_still_gets_a_digest(tmp_path):
    """Archives whose config member is missing cannot be verified: SCAN-9015, not a crash."""
    image = docker_save(tmp_path / "img.tar", [layer(FILES)])  # names a config (abc.json) it does not contain
    with pytest.raises(HostwardenError, match="SCAN-9015"):
        digest.image_digests(image)


def test_image_without_config_fails_closed_only_when_an_allowlist_is_set(tmp_path):
    image = docker_save(tmp_path / "img.tar", [layer(FILES)])  # names a config it does not contain
    assert scan(image, tmp_path)[0] == []
    findings, _, ctx = scan(image, tmp_path, image_allowlist=["sha256:" + "d" * 64])
    assert len(findings) == 1 and "digest not computable" in findings[0]["hostwarden.evidence"]["reason"]
    assert any(n["code"] == "SCAN-9015" for n in ctx.notices)
