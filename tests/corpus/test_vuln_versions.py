"""Every version vector in ../shared/corpora/version-vectors (dpkg, rpm, apk, PEP 440) must pass."""

import functools
import json
from pathlib import Path

import pytest

from hostwarden.scan.vuln import apk, versions

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
VECTORS = CORPORA / "version-vectors"

pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason="../shared/corpora not present")


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def failures(scheme: str, vectors: list) -> list:
    return [v for v in vectors if versions.compare(scheme, v[0], v[1]) != v[2]]


def test_dpkg_vectors_all_pass():
    data = load("dpkg.json")
    assert len(data["vectors"]) == 43
    assert failures("dpkg", data["vectors"]) == []


def test_dpkg_sort_checks():
    for check in load("dpkg.json")["sort_checks"]:
        got = sorted(check["unsorted"], key=functools.cmp_to_key(versions.dpkg_compare))
        assert got == check["expected_sorted"], check["function"]


def test_dpkg_sort_checks_with_fast_keys():
    for check in load("dpkg.json")["sort_checks"]:
        got = sorted(check["unsorted"], key=lambda v: versions.parse("dpkg", v))
        assert got == check["expected_sorted"], check["function"]


def test_dpkg_c_compare_cases():
    for a, b, want in load("dpkg.json")["t_version_c"]["compare"]:
        sa, sb = (f"{e}:{u}-{r}" for e, u, r in (a, b))
        got = versions.dpkg_compare(sa, sb)
        assert (got != 0) if want == "ne" else (got == want), (sa, sb)


def test_dpkg_parse_equals_and_failures():
    t = load("dpkg.json")["t_version_c"]
    for text, (epoch, upstream, revision) in t["parse_equals"]:
        assert versions.dpkg_split(text) == (epoch, upstream, revision), text
    for text in t["parse_must_fail"]:
        with pytest.raises(ValueError):
            versions.dpkg_split(text)
    for text in t["parse_warns_invalid_chars"]:
        assert not versions.dpkg_is_valid(text), text


def test_dpkg_perl_invalid_versions_rejected():
    for text in load("dpkg.json")["invalid_versions_Dpkg_Version_pm"]:
        assert not versions.dpkg_is_valid(text), text


def test_rpm_vectors_all_pass():
    data = load("rpm.json")
    assert len(data["vectors"]) == 91
    bad = [v for v in data["vectors"] if versions.rpmvercmp(v[0], v[1]) != v[2]]
    assert bad == []


def test_apk_vectors_all_pass():
    data = load("apk.json")
    assert len(data["vectors"]) == 738
    bad = [v for v in data["vectors"] if apk.compare(v[0], v[1]) != v[2]]
    assert bad == []


def test_apk_fuzzy_and_validity():
    data = load("apk.json")
    for a, op, b in data["fuzzy_ops"]["checks"]:
        assert apk.match(a, op, b), (a, op, b)
    assert all(apk.is_valid(v) for v in data["valid_versions"])
    assert not any(apk.is_valid(v) for v in data["invalid_versions"])


def test_pep440_vectors_and_equal_pairs():
    data = load("pep440.json")
    assert len(data["vectors"]) == 4186
    assert failures("pep440", data["vectors"]) == []
    assert failures("pep440", data["equal_pairs"]) == []
    for text, normal in data["normalized"]:
        assert str(versions.parse("pep440", text)) == normal
    for text in data["invalid_versions"]:
        with pytest.raises(ValueError):
            versions.parse("pep440", text)
