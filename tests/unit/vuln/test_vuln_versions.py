"""Comparators per ecosystem on hand-picked cases each ecosystem is known to get subtle."""

import pytest

from hostwarden.scan.vuln import versions

CASES = [
    ("dpkg", "1:1.0-1", "2.0-1", 1),  # epoch wins
    ("dpkg", "2.0-1", "1:1.0-1", -1),
    ("dpkg", "1.0~rc1-1", "1.0-1", -1),  # tilde sorts before everything
    ("dpkg", "1.9.5p2-3+deb12u1", "1.9.5p2-3", 1),
    ("rpm", "1.0~rc1-1", "1.0-1", -1),
    ("rpm", "1.0^git1-1", "1.0-1", 1),
    ("rpm", "1:0.1-1", "9.9-1", 1),
    ("rpm", "2.0-1.el9", "2.0", 0),  # no release on one side: release ignored
    ("apk", "1.2.3-r1", "1.2.3-r0", 1),
    ("apk", "1.2.3_rc1", "1.2.3", -1),
    ("pep440", "1.0rc1", "1.0", -1),
    ("pep440", "1.0.post1", "1.0", 1),
    ("semver", "1.0.0-alpha", "1.0.0", -1),
    ("semver", "v1.2", "1.2.0", 0),
    ("go", "v0.0.0-20210101000000-abcdef012345", "0.0.1", -1),
    ("go", "v2.0.0+incompatible", "2.0.0", 0),
    ("maven", "1.0-SNAPSHOT", "1.0", -1),
    ("maven", "2.9.10.8", "2.9.10", 1),
    ("rubygems", "6.0.0.rc1", "6.0.0", -1),
    ("composer", "v1.2.3", "1.2.4", -1),
]


@pytest.mark.parametrize(("scheme", "a", "b", "want"), CASES)
def test_compare(scheme, a, b, want):
    assert versions.compare(scheme, a, b) == want
    assert versions.compare(scheme, b, a) == -want


@pytest.mark.parametrize(
    ("ecosystem", "scheme"),
    [("Debian:12", "dpkg"), ("Ubuntu:22.04:LTS", "dpkg"), ("Alpine:v3.18", "apk"), ("PyPI", "pep440"),
     ("Red Hat", "rpm"), ("crates.io", "semver"), ("Go", "go"), ("Maven", "maven"), ("Nope", None)],
)
def test_scheme_for(ecosystem, scheme):
    assert versions.scheme_for(ecosystem) == scheme


@pytest.mark.parametrize(("scheme", "bad"), [("pep440", "french toast"), ("semver", "not.a.version"),
                                             ("apk", "1.0-x"), ("dpkg", "a:1"), ("nope", "1.0")])
def test_unorderable_versions_raise_value_error(scheme, bad):
    with pytest.raises(ValueError):
        versions.parse(scheme, bad)
