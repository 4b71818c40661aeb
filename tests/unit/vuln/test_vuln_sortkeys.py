"""The fast tuple keys order versions exactly as the reference libraries do (property tests)."""

import semver
from debian.debian_support import version_compare
from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.scan.vuln import versions

_CHARS = "0123456789.+~-abzAZ:"
dpkg_part = st.text(alphabet="0123456789.+~abzAZ", min_size=0, max_size=8)


@st.composite
def dpkg_versions(draw):
    upstream = draw(st.integers(0, 20).map(str)) + draw(dpkg_part)
    epoch = draw(st.sampled_from(["", "0:", "1:", "2:"]))
    revision = draw(st.one_of(st.just(""), dpkg_part.filter(lambda r: r and "-" not in r).map(lambda r: "-" + r)))
    return f"{epoch}{upstream}{revision}"


def sign(x: int) -> int:
    return (x > 0) - (x < 0)


@settings(max_examples=600, deadline=None)
@given(dpkg_versions(), dpkg_versions())
def test_dpkg_key_agrees_with_python_debian(a, b):
    assert versions.compare("dpkg", a, b) == sign(version_compare(a, b)), (a, b)


ident = st.one_of(st.integers(0, 30).map(str), st.text(alphabet="abcXYZ-", min_size=1, max_size=4))


@st.composite
def semvers(draw):
    core = ".".join(str(draw(st.integers(0, 12))) for _ in range(3))
    pre = draw(st.lists(ident, max_size=3))
    return core + ("-" + ".".join(pre) if pre else "") + draw(st.sampled_from(["", "+build.1"]))


@settings(max_examples=600, deadline=None)
@given(semvers(), semvers())
def test_semver_key_agrees_with_semver(a, b):
    assert versions.compare("semver", a, b) == semver.Version.parse(a).compare(b), (a, b)
