"""All PyPA advisories import; a requirements scan finds exactly the advisories the pins fall in.

Oracle: PyPA records enumerate the affected releases in `versions` (generated from PyPI's
release list), independently of our range evaluation. For each pinned package, an advisory
must be reported exactly when the pinned version is in its `versions` list.
"""

import functools
import glob
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.vuln.db import AdvisoryDB
from hostwarden.scan.vuln.loader import iter_records
from hostwarden.scan.vuln.scanner import VulnScanner

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
PYPA = CORPORA / "pypa-advisories"

pytestmark = pytest.mark.skipif(not PYPA.is_dir(), reason="../shared/corpora not present")

PACKAGES = ["django", "jinja2", "requests", "urllib3", "pyyaml", "pillow"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vulndb")
    errors = []
    with AdvisoryDB.in_data_dir(folder) as db:
        stats = db.import_records(iter_records([PYPA], errors))
    assert errors == []
    assert stats.records == 2661
    return folder


@functools.cache
def advisories_for(package: str) -> list[dict]:
    out = []
    for path in glob.glob(str(PYPA / "vulns" / package / "*.yaml")):
        out.append(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    return out


@functools.cache
def pins() -> dict[str, tuple[str, str]]:
    """(vulnerable pin, safe pin) per package, both taken from the records themselves."""
    chosen = {}
    for pkg in PACKAGES:
        records = advisories_for(pkg)
        listed = sorted({v for r in records for a in r["affected"] for v in a.get("versions", [])})
        fixes = [e["fixed"] for r in records for a in r["affected"] for rg in a.get("ranges", [])
                 if rg["type"] == "ECOSYSTEM" for e in rg["events"] if "fixed" in e]
        vulnerable = max(listed, key=Version)  # the newest release some advisory still covers
        safe = str(max(Version(f) for f in fixes))
        chosen[pkg] = (vulnerable, safe)
    return chosen


def scan(root: Path, data_dir: Path, lines: list[str]) -> list[dict]:
    (root / "srv").mkdir(parents=True, exist_ok=True)
    (root / "srv" / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ecs_records(VulnScanner().scan(ScanContext(root=root, data_dir=data_dir)))


def test_all_pypa_advisories_import(data_dir):
    with AdvisoryDB.in_data_dir(data_dir) as db:
        status = db.status()
    assert status["advisories"] == 2661 and status["ecosystems"] == {"PyPI": 2661}


def test_vulnerable_pins_find_exactly_the_advisories_listing_them(tmp_path, data_dir):
    chosen = pins()
    findings = scan(tmp_path / "vuln", data_dir, [f"{p}=={v}" for p, (v, _) in chosen.items()])
    for pkg, (version, _) in chosen.items():
        want = {r["id"] for r in advisories_for(pkg)
                if any(version in a.get("versions", []) for a in r["affected"])}
        got = {f["vulnerability.id"] for f in findings if f["package.name"] == pkg}
        assert want, pkg
        assert got == want, pkg


def test_fixed_pins_find_nothing(tmp_path, data_dir):
    chosen = pins()
    findings = scan(tmp_path / "fixed", data_dir, [f"{p}=={s}" for p, (_, s) in chosen.items()])
    assert [(f["package.name"], f["vulnerability.id"]) for f in findings] == []
