"""Bounded inputs in scanners and the advisory import: FIFOs, giants, bombs, deep documents, bad records."""

from __future__ import annotations

import gzip
import json
import os
import zipfile
from pathlib import Path

import pytest
from rootfs_hostile import docker_save, ends, member, tar_bytes

from hostwarden.core.errors import HostwardenError
from hostwarden.core.records import ecs_records
from hostwarden.core.safeload import DocumentRefused, safe_json_loads, safe_yaml_load
from hostwarden.scan.base import ScanContext
from hostwarden.scan.baseline.engine import run_policy
from hostwarden.scan.baseline.loader import builtin_policy_files, load_policy
from hostwarden.scan.firewall.loader import load_file
from hostwarden.scan.vuln.inventory import files, ospkg
from hostwarden.scan.vuln.inventory.model import InventoryError
from hostwarden.scan.vuln.loader import LoadError, iter_records

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
DEEP_JSON = "[" * 100_000 + "]" * 100_000


def _ctx(root: Path) -> tuple[ScanContext, list[dict]]:
    ctx = ScanContext(root=root)
    return ctx, ctx.notices


# --- item 2: FIFOs and devices never hang -------------------------------------------------
def test_fifo_sshd_config_does_not_hang_the_baseline(tmp_path: Path) -> None:
    (tmp_path / "etc/ssh").mkdir(parents=True)
    os.mkfifo(tmp_path / "etc/ssh/sshd_config")
    ctx, notices = _ctx(tmp_path)
    policy = load_policy(next(p for p in builtin_policy_files() if "linux" in p.name or "cis" in p.name))
    results = ends(lambda: run_policy(policy, ctx), timeout=300)
    assert results
    assert any(n["code"] == "SCAN-9030" and "/etc/ssh/sshd_config" in n["message"] for n in notices)


@pytest.mark.parametrize("name", ["zero", "fifo"])
def test_fw_analyze_refuses_devices_and_fifos(tmp_path: Path, name: str) -> None:
    path = Path("/dev/zero")
    if name == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    with pytest.raises(HostwardenError) as info:
        ends(lambda: load_file(path))
    assert info.value.code.code == "FW-3001" and "not a regular file" in info.value.message


# --- item 3: per-file caps, lockfiles, YAML and JSON bounds -------------------------------
def test_sparse_dpkg_status_is_capped_with_a_notice(tmp_path: Path) -> None:
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    with open(tmp_path / "var/lib/dpkg/status", "wb") as fh:
        fh.write(b"Package: bash\nStatus: install ok installed\nVersion: 5.2-1\n\n")
        fh.truncate(2 << 30)
    ctx, notices = _ctx(tmp_path)
    pkgs = ospkg.read_dpkg(ctx.fs, "Debian:12")
    assert [p.name for p in pkgs] == ["bash"]  # the head of a capped database is still read
    assert any(n["code"] == "SCAN-9031" for n in notices)


def test_deep_json_lockfile_is_an_inventory_error(tmp_path: Path) -> None:
    path = tmp_path / "package-lock.json"
    path.write_text('{"packages": ' + DEEP_JSON + "}")
    with pytest.raises(InventoryError, match="nested"):
        files.read_file(path, "package-lock")


def test_yaml_aliases_are_refused_by_every_loader(tmp_path: Path) -> None:
    with pytest.raises(DocumentRefused):
        safe_yaml_load(LAUGHS)
    lock = tmp_path / "pnpm-lock.yaml"
    lock.write_text("lockfileVersion: '6.0'\npackages:\n" + "".join(f"  {line}\n" for line in LAUGHS.splitlines()))
    with pytest.raises(InventoryError, match="alias"):
        files.read_file(lock, "pnpm")
    policy = tmp_path / "p.yml"
    policy.write_text(LAUGHS + "checks: []\n")
    with pytest.raises(HostwardenError, match="SCAN-9201"):
        load_policy(policy)
    from hostwarden.detect.sigma import load_sigma_text

    rules, errors = load_sigma_text("title: x\n" + LAUGHS, "laughs.yml")
    assert rules == [] and "alias" in errors[0][1]
    from hostwarden.scan.firewall.healthcheck import load_health_checks

    hc = tmp_path / "hc.yml"
    hc.write_text("health_checks: &a [1]\nother: *a\n")
    with pytest.raises(HostwardenError, match="alias"):
        load_health_checks(hc)


def test_yaml_foreign_tags_and_json_depth_are_refused() -> None:
    with pytest.raises(DocumentRefused, match="tag"):
        safe_yaml_load("x: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(DocumentRefused, match="nested"):
        safe_json_loads(DEEP_JSON)
    assert safe_json_loads('{"a": [1, {"b": "[[[["}]}') == {"a": [1, {"b": "[[[["}]}


# --- the OSV import skips a bad record, names it, and goes on ----------------------------
GOOD = {"id": "GHSA-good-0001", "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "good"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]}]}


def _bomb_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.json", b" " * (200 << 20))  # 200 MiB of blanks deflate to ~200 KiB
        zf.writestr("GHSA-good-0002.json", json.dumps({**GOOD, "id": "GHSA-good-0002"}))


def test_import_of_a_folder_with_bad_files_imports_the_good_ones(tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    folder.mkdir()
    (folder / "good.json").write_text(json.dumps(GOOD))
    (folder / "deep.json").write_text(DEEP_JSON)
    (folder / "laughs.yaml").write_text("id: LAUGH-1\n" + LAUGHS)
    (folder / "shape.json").write_text(json.dumps({**GOOD, "id": "GHSA-bad-shape", "aliases": 5}))
    _bomb_zip(folder / "export.zip")
    errors: list[LoadError] = []
    records = ends(lambda: list(iter_records([folder], errors)), timeout=300)
    assert sorted(r["id"] for r in records) == ["GHSA-good-0001", "GHSA-good-0002"]
    named = {Path(e.source.split("!")[-1]).name: e.reason for e in errors}
    assert set(named) == {"deep.json", "laughs.yaml", "bomb.json", "shape.json"}, named
    assert "nested" in named["deep.json"] and "alias" in named["laughs.yaml"]
    assert "SCAN-9033" in named["bomb.json"] and "aliases" in named["shape.json"]


def test_vulndb_import_cli_reports_the_bad_file_and_exits_0(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hostwarden.commands.vulndb import app

    (tmp_path / "good.json").write_text(json.dumps(GOOD))
    (tmp_path / "deep.json").write_text(DEEP_JSON)
    result = CliRunner().invoke(app, ["import", str(tmp_path / "good.json"), str(tmp_path / "deep.json"),
                                      "--data-dir", str(tmp_path / "data"), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["imported"] == 1
    assert [Path(e["source"]).name for e in doc["errors"]] == ["deep.json"]


# --- item 5: "fixed in None" --------------------------------------------------------------
@pytest.mark.parametrize(("eco", "name", "version"), [("Debian:12", "nullfix", "1.0-1"), ("PyPI", "nullfix", "1.0")])
def test_a_null_fixed_event_reads_no_fix_yet(tmp_path: Path, eco: str, name: str, version: str) -> None:
    """`fixed: null` names no version: once the Debian title said "fixed in None", PyPI lost the match."""
    from hostwarden.scan.vuln.scanner import VulnScanner

    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    if eco.startswith("Debian"):
        (root / "var/lib/dpkg/status").write_text(
            f"Package: {name}\nStatus: install ok installed\nVersion: {version}\nArchitecture: amd64\n\n")
    else:
        (root / "app/requirements.txt").write_text(f"{name}=={version}\n")
    record = {"id": "NULL-1", "modified": "2024-01-01T00:00:00Z",
              "affected": [{"package": {"ecosystem": eco, "name": name},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": None}]}]}]}
    adv = tmp_path / "adv.json"
    adv.write_text(json.dumps(record))
    ctx = ScanContext(root=root, options={"advisories": str(adv), "supply_chain": False})
    titles = [f["message"] for f in ecs_records(VulnScanner().scan(ctx))]
    assert titles == [f"NULL-1 in {name} {version} (no fix yet)"], titles


# --- images: bombs, member counts, hard links ---------------------------------------------
def _tree_bytes(folder: Path) -> int:
    """Disk blocks the tree uses (each inode once: hard links share theirs)."""
    seen: dict[tuple[int, int], int] = {}
    for dirpath, _dirs, names in os.walk(folder):
        for n in names:
            st = os.lstat(os.path.join(dirpath, n))
            seen[st.st_dev, st.st_ino] = st.st_blocks * 512
    return sum(seen.values())


def test_a_small_gzip_layer_cannot_write_a_giant_tree(tmp_path: Path) -> None:
    from hostwarden.scan.vuln.image import Limits, unpack

    zeros = 64 << 20
    layer = gzip.compress(tar_bytes([member("big.bin", zeros)], {"big.bin": b"\0" * zeros}), 1)
    assert len(layer) < 1 << 20
    image = docker_save(tmp_path / "bomb.tar", [layer])
    with pytest.raises(HostwardenError) as info:
        unpack(image, tmp_path / "out", Limits(min_layer_bytes=1 << 20, layer_ratio=10))
    assert info.value.code.code == "SCAN-9033"
    assert _tree_bytes(tmp_path / "out") < 32 << 20


def test_member_count_is_capped(tmp_path: Path) -> None:
    from hostwarden.scan.vuln.image import Limits, unpack

    layer = tar_bytes([member(f"f{i}", 0) for i in range(300)])
    image = docker_save(tmp_path / "many.tar", [layer])
    with pytest.raises(HostwardenError, match="SCAN-9033"):
        unpack(image, tmp_path / "out", Limits(members=100))


def test_hard_links_are_links_not_copies(tmp_path: Path) -> None:
    from hostwarden.scan.vuln.image import unpack

    entries = [member("data.bin", 1 << 20)]
    for i in range(200):
        entries.append(member(f"copy{i}", link="data.bin", hard=True))
    image = docker_save(tmp_path / "links.tar", [tar_bytes(entries, {"data.bin": os.urandom(1 << 20)})])
    unpack(image, tmp_path / "out")
    assert os.stat(tmp_path / "out/copy7").st_nlink == 201
    assert _tree_bytes(tmp_path / "out") < 8 << 20


def test_all_layers_together_are_capped(tmp_path: Path) -> None:
    from hostwarden.scan.vuln.image import Limits, unpack

    one = 3 << 20
    layers = [tar_bytes([member(f"f{i}.bin", one)], {f"f{i}.bin": os.urandom(one)}) for i in range(4)]
    image = docker_save(tmp_path / "wide.tar", layers)
    with pytest.raises(HostwardenError, match="SCAN-9033"):
        unpack(image, tmp_path / "out", Limits(image_bytes=8 << 20))
    unpack(image, tmp_path / "ok")  # the same image within the default limits
    assert len(list((tmp_path / "ok").iterdir())) == 4
