"""osv-scalibr's lockfile and OS fixtures: the expected (name, version) lists, and no crash on the rest."""

import json
from collections import Counter
from pathlib import Path

import pytest

from hostwarden.scan.vuln.inventory import files, ospkg
from hostwarden.scan.vuln.inventory.model import InventoryError

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
LOCKFILES = CORPORA / "lockfiles"
SCALIBR = LOCKFILES / "osv-scalibr"
EXPECTED = LOCKFILES / "expected-packages.transcribed.json"

pytestmark = pytest.mark.skipif(not EXPECTED.is_file(), reason="../shared/corpora not present")

KIND_BY_DIR = {
    "packagelockjson": "package-lock", "yarnlock": "yarn", "pnpmlock": "pnpm", "poetrylock": "poetry",
    "pipfilelock": "pipfile-lock", "requirements": "requirements", "uvlock": "uv", "pdmlock": "pdm",
    "composerlock": "composer", "gemfilelock": "gemfile", "cargolock": "cargo", "gomod": "gomod",
}


def kind_of(path: Path) -> str:
    for part in path.parts:
        if part in KIND_BY_DIR:
            return KIND_BY_DIR[part]
    raise AssertionError(f"no kind for {path}")


def read(path: Path, fmt: str) -> list:
    if "/os/dpkg/" in str(path):
        text = path.read_text(encoding="utf-8", errors="replace")
        return ospkg.parse_dpkg_status(text, include_not_installed="include-not-installed" in fmt)
    if "/os/apk/" in str(path):
        return ospkg.parse_apk_installed(path.read_text(encoding="utf-8", errors="replace"))
    return files.read_file(path, kind_of(path))


def fixtures() -> list:
    if not EXPECTED.is_file():
        return []
    return json.loads(EXPECTED.read_text(encoding="utf-8"))["fixtures"]


@pytest.mark.parametrize("fixture", fixtures(), ids=lambda f: f"{Path(f['fixture']).name}:{f['format'][:30]}")
def test_expected_packages(fixture):
    path = SCALIBR / fixture["fixture"]
    got = Counter((p.name, p.version) for p in read(path, fixture["format"]))
    want = Counter(tuple(p) for p in fixture["packages"])
    assert got == want


def all_fixture_files() -> list[Path]:
    if not SCALIBR.is_dir():
        return []
    out = []
    for path in sorted(SCALIBR.rglob("*")):
        if path.is_file() and "testdata" in path.parts and path.suffix != ".go":
            out.append(path)
    return out


@pytest.mark.parametrize("path", all_fixture_files(), ids=lambda p: str(p.relative_to(SCALIBR))[-70:])
def test_every_fixture_parses_or_fails_clearly(path):
    try:
        packages = read(path, "")
    except InventoryError as exc:
        assert exc.reason and str(path) in str(exc)
        return
    except AssertionError:
        pytest.skip("not a lockfile fixture")
    for pkg in packages:
        assert isinstance(pkg.name, str) and pkg.name
        assert isinstance(pkg.version, str)


PIP_V1 = LOCKFILES / "osv-scanner-v1" / "pkg" / "lockfile" / "fixtures" / "pip"


@pytest.mark.parametrize("path", sorted(PIP_V1.glob("*")) if PIP_V1.is_dir() else [], ids=lambda p: p.name)
def test_osv_scanner_v1_requirements_never_crash(path):
    packages = files.read_file(path, "requirements")
    names = [p.name for p in packages]
    assert all(names) and all(isinstance(p.version, str) for p in packages)
    if path.name.startswith("loop"):  # -r loops terminate and still yield each file's packages once
        assert len(names) == len(set(names))
