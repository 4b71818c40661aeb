"""OSV range semantics: introduced/fixed/last_affected/limit, versions lists, several ranges, types."""

import pytest

from hostwarden.scan.vuln.osv import Verdict, ecosystem_key, evaluate_affected, package_key


def entry(*ranges, versions=None):
    out = {"package": {"ecosystem": "PyPI", "name": "x"}, "ranges": list(ranges)}
    if versions is not None:
        out["versions"] = versions
    return out


def rng(*events, kind="ECOSYSTEM"):
    return {"type": kind, "events": list(events)}


def verdict(e, version, eco="PyPI"):
    return evaluate_affected(e, eco, version).verdict


@pytest.mark.parametrize(("version", "want"), [
    ("0.9", Verdict.NOT_AFFECTED), ("1.0", Verdict.AFFECTED), ("1.5", Verdict.AFFECTED),
    ("2.0", Verdict.NOT_AFFECTED), ("2.0.1", Verdict.NOT_AFFECTED),
])
def test_introduced_fixed_half_open(version, want):
    assert verdict(entry(rng({"introduced": "1.0"}, {"fixed": "2.0"})), version) is want


def test_last_affected_is_inclusive():
    e = entry(rng({"introduced": "0"}, {"last_affected": "1.4"}))
    assert verdict(e, "1.4") is Verdict.AFFECTED
    assert verdict(e, "1.4.1") is Verdict.NOT_AFFECTED
    assert evaluate_affected(e, "PyPI", "1.0").last_affected == "1.4"


def test_limit_caps_the_range():
    e = entry(rng({"introduced": "0"}, {"limit": "3.0"}))
    assert verdict(e, "2.9") is Verdict.AFFECTED
    assert verdict(e, "3.0") is Verdict.NOT_AFFECTED
    assert verdict(entry(rng({"introduced": "0"}, {"limit": "*"})), "99") is Verdict.AFFECTED


def test_several_introduced_fixed_pairs_in_one_range_and_events_out_of_order():
    e = entry(rng({"fixed": "1.2.5"}, {"introduced": "2.0"}, {"introduced": "1.0"}, {"fixed": "2.1.3"}))
    assert [verdict(e, v) for v in ("0.5", "1.1", "1.2.5", "1.9", "2.0", "2.1.3")] == [
        Verdict.NOT_AFFECTED, Verdict.AFFECTED, Verdict.NOT_AFFECTED, Verdict.NOT_AFFECTED,
        Verdict.AFFECTED, Verdict.NOT_AFFECTED]
    assert evaluate_affected(e, "PyPI", "2.0.5").fixed == "2.1.3"
    assert evaluate_affected(e, "PyPI", "1.1").fixed == "1.2.5"


def test_several_ranges_are_ored_and_versions_list_adds_exact_matches():
    e = entry(rng({"introduced": "1.0"}, {"fixed": "1.1"}), rng({"introduced": "3.0"}, {"fixed": "3.1"}),
              versions=["2.5"])
    assert [verdict(e, v) for v in ("1.0.5", "2.0", "2.5", "3.0.1")] == [
        Verdict.AFFECTED, Verdict.NOT_AFFECTED, Verdict.AFFECTED, Verdict.AFFECTED]


def test_versions_only_and_pep440_spelling():
    e = entry(versions=["1.0", "1.1"])
    assert verdict(e, "1.0.0") is Verdict.AFFECTED  # PEP 440: 1.0 == 1.0.0
    assert verdict(e, "1.2") is Verdict.NOT_AFFECTED


def test_semver_type_and_git_ignored():
    e = {"ranges": [rng({"introduced": "0"}, {"fixed": "1.2.3"}, kind="SEMVER"),
                    {"type": "GIT", "repo": "x", "events": [{"introduced": "abc"}]}]}
    assert verdict(e, "1.2.2", "npm") is Verdict.AFFECTED
    assert verdict(e, "1.2.3-rc.1", "npm") is Verdict.AFFECTED
    assert verdict(e, "1.2.3", "npm") is Verdict.NOT_AFFECTED


def test_unorderable_version_is_unknown_not_silently_safe():
    e = entry(rng({"introduced": "0"}, {"fixed": "2.0"}))
    assert verdict(e, "not a version") is Verdict.UNKNOWN


def test_dpkg_ranges_with_epochs_and_tilde():
    e = {"ranges": [rng({"introduced": "0"}, {"fixed": "1:2.3-1"})]}
    assert verdict(e, "2.9-1", "Debian:12") is Verdict.AFFECTED  # no epoch < epoch 1
    assert verdict(e, "1:2.3~rc1-1", "Debian:12") is Verdict.AFFECTED
    assert verdict(e, "1:2.3-1", "Debian:12") is Verdict.NOT_AFFECTED


@pytest.mark.parametrize(("eco", "key"), [("Debian:12", "debian:12"), ("Ubuntu:22.04:LTS", "ubuntu:22.04"),
                                          ("Ubuntu:Pro:18.04:LTS", "ubuntu:18.04"), ("Alpine:v3.18", "alpine:v3.18"),
                                          ("PyPI", "pypi"), ("Red Hat:enterprise_linux:9::appstream", "red hat:9"),
                                          ("Red Hat:enterprise_linux:8.6::baseos", "red hat:8"),
                                          ("Red Hat:rhel_eus:8.6::baseos", "red hat:rhel_eus:8.6::baseos")])
def test_ecosystem_keys(eco, key):
    assert ecosystem_key(eco) == key


def test_package_keys_normalise_pypi_only_where_names_are_case_blind():
    assert package_key("PyPI", "Zope.Interface") == "zope-interface"
    assert package_key("Go", "github.com/BurntSushi/toml") == "github.com/BurntSushi/toml"
