"""One version comparator per ecosystem, each on a well-kept library where that library is right.

| ecosystem (OSV name)                  | comparator                                          |
| ------------------------------------- | --------------------------------------------------- |
| Debian, Ubuntu (dpkg)                 | python-debian `version_compare` + our strict parser; matching uses an equivalent tuple key (`sortkeys.py`) |
| Red Hat, Rocky, AlmaLinux, SUSE (rpm) | univers `rpm.vercmp` per epoch/version/release      |
| Alpine (apk)                          | our port of apk-tools (`apk.py`; univers is wrong)  |
| PyPI                                  | packaging `Version` (PEP 440)                       |
| npm, crates.io, SEMVER ranges         | semver 3 (`v` prefix and `=` tolerated)             |
| Go                                    | semver on the `v`-less form (pseudo-versions are prereleases) |
| Maven, RubyGems, Packagist, NuGet     | univers                                             |

rpm-vercmp 0.1.2 was tried and rejected: it gets `^` wrong (`1.0^` == `1.0`, `1.0^2016` > `1.0.1`),
four of rpm's own 91 vectors fail; univers' port passes them all. Every `parse` raises
`ValueError` for a version its ecosystem cannot order, so a caller can say "unknown" instead
of guessing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import semver
from debian.debian_support import version_compare as _dpkg_compare
from packaging.version import InvalidVersion
from packaging.version import Version as _Pep440
from univers import rpm as _rpm
from univers.versions import ComposerVersion, MavenVersion, NugetVersion, RubygemsVersion

from hostwarden.scan.vuln import apk
from hostwarden.scan.vuln.sortkeys import dpkg_key, dpkg_text, ordered_text, semver_key


@functools.total_ordering
class _Ordered:
    """Wraps a version string with a three-way compare so it sorts and compares natively."""

    __slots__ = ("text", "_cmp")

    def __init__(self, text: str, cmp: Callable[[str, str], int]) -> None:
        self.text = text
        self._cmp = cmp

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Ordered) and self._cmp(self.text, other.text) == 0

    def __lt__(self, other: _Ordered) -> bool:
        return self._cmp(self.text, other.text) < 0

    def __hash__(self) -> int:  # equal versions may differ in text; hashing by text would lie
        raise TypeError("versions compare by ordering only")

    def __repr__(self) -> str:
        return f"<{self.text}>"


# --- dpkg ---------------------------------------------------------------------------------
_DPKG_UPSTREAM = re.compile(r"^[0-9][A-Za-z0-9.+~:-]*$")
_DPKG_REVISION = re.compile(r"^[A-Za-z0-9.+~]+$")


def dpkg_split(version: str) -> tuple[int, str, str]:
    """Split into (epoch, upstream, revision) like dpkg's `parseversion`; raise on what it rejects."""
    text = version.strip()
    if not text:
        raise ValueError("empty version")
    if any(ch.isspace() for ch in text):
        raise ValueError("version has embedded spaces")
    epoch = 0
    if ":" in text:
        head, _, text = text.partition(":")
        if not head.isascii() or not head.isdigit():
            raise ValueError("epoch in version is not a number")
        epoch = int(head)
        if epoch > 2**31 - 1:
            raise ValueError("epoch in version is too big")
        if not text:
            raise ValueError("nothing after colon in version number")
    upstream, dash, revision = text.rpartition("-")
    if not dash:
        upstream, revision = text, ""
    elif not revision:
        raise ValueError("revision number is empty")
    if not upstream:
        raise ValueError("version number is empty")
    return epoch, upstream, revision


def dpkg_is_valid(version: str) -> bool:
    """Strict Debian policy validity (what Dpkg::Version and dpkg's warnings accept)."""
    try:
        _, upstream, revision = dpkg_split(version)
    except ValueError:
        return False
    return bool(_DPKG_UPSTREAM.match(upstream)) and (not revision or bool(_DPKG_REVISION.match(revision)))


def dpkg_compare(a: str, b: str) -> int:
    r = _dpkg_compare(a.strip(), b.strip())
    return (r > 0) - (r < 0)


# --- rpm ----------------------------------------------------------------------------------
def rpm_split(evr: str) -> tuple[int, str, str]:
    """Split `[epoch:]version[-release]`; a missing epoch is 0, as rpm treats it for comparison."""
    epoch, colon, rest = evr.strip().partition(":")
    if not colon:
        epoch, rest = "0", epoch
    if not epoch.isdigit():
        raise ValueError(f"rpm epoch {epoch!r} is not a number")
    version, _, release = rest.rpartition("-") if "-" in rest else (rest, "", "")
    if not version:
        raise ValueError(f"rpm version {evr!r} is empty")
    return int(epoch), version, release


def rpmvercmp(a: str, b: str) -> int:
    """rpm's segment comparison of one version or release string (with `~` and `^`)."""
    return int(_rpm.vercmp(a, b))


def rpm_compare(a: str, b: str) -> int:
    ea, va, ra = rpm_split(a)
    eb, vb, rb = rpm_split(b)
    if ea != eb:
        return (ea > eb) - (ea < eb)
    r = rpmvercmp(va, vb)
    if r or not ra or not rb:  # rpm ignores the release when either side has none
        return r
    return rpmvercmp(ra, rb)


# --- semver / go --------------------------------------------------------------------------
_LOOSE_SEMVER = re.compile(r"^[=v\s]*")


_PARTIAL = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?P<rest>[-+].*)?$")


def semver_parse(text: str) -> semver.Version:
    """SemVer 2.0 with the looseness real data has: a `v`/`=` prefix, and partial `1.2` padded."""
    cleaned = _LOOSE_SEMVER.sub("", text.strip())
    m = _PARTIAL.match(cleaned)
    if m:
        major, minor, patch = (g or "0" for g in m.groups()[:3])
        cleaned = f"{major}.{minor}.{patch}{m.group('rest') or ''}"
    return semver.Version.parse(cleaned)


def _univers(cls: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return cls(text.strip())
        except Exception as exc:  # univers raises its own InvalidVersion or ValueError
            raise ValueError(f"invalid {cls.__name__}: {text!r}") from exc

    return parse


def _pep440(text: str) -> _Pep440:
    try:
        return _Pep440(text)
    except InvalidVersion as exc:
        raise ValueError(str(exc)) from exc


def _checked(cmp: Callable[[str, str], int], validate: Callable[[str], Any]) -> Callable[[str], _Ordered]:
    def parse(text: str) -> _Ordered:
        validate(text)
        return _Ordered(text, cmp)

    return parse


def _apk_validate(text: str) -> None:
    if not apk.is_valid(text):
        raise ValueError(f"invalid apk version {text!r}")


def _dpkg_parse(text: str) -> tuple[Any, ...]:
    return dpkg_key(*dpkg_split(text))


def _semver_parse(text: str) -> tuple[Any, ...]:
    return semver_key(semver_parse(text))


_PARSERS: dict[str, Callable[[str], Any]] = {
    "dpkg": _dpkg_parse,
    "rpm": _checked(rpm_compare, rpm_split),
    "apk": _checked(apk.compare, _apk_validate),
    "pep440": _pep440,
    "semver": _semver_parse,
    "go": _semver_parse,
    "maven": _univers(MavenVersion),
    "rubygems": _univers(RubygemsVersion),
    "composer": _univers(ComposerVersion),
    "nuget": _univers(NugetVersion),
}

# OSV ecosystem (the part before any ":") -> scheme
_ECOSYSTEM_SCHEME = {
    "debian": "dpkg",
    "ubuntu": "dpkg",
    "alpine": "apk",
    "wolfi": "apk",
    "chainguard": "apk",
    "red hat": "rpm",
    "rocky linux": "rpm",
    "almalinux": "rpm",
    "suse": "rpm",
    "opensuse": "rpm",
    "mageia": "rpm",
    "openeuler": "rpm",
    "pypi": "pep440",
    "npm": "semver",
    "crates.io": "semver",
    "hex": "semver",
    "pub": "semver",
    "go": "go",
    "maven": "maven",
    "rubygems": "rubygems",
    "packagist": "composer",
    "nuget": "nuget",
}


@functools.lru_cache(maxsize=4096)
def scheme_for(ecosystem: str) -> str | None:
    """The comparison scheme for an OSV ecosystem name such as `Debian:12` or `PyPI`."""
    return _ECOSYSTEM_SCHEME.get(ecosystem.split(":", 1)[0].strip().lower())


@functools.lru_cache(maxsize=200_000)
def parse(scheme: str, version: str) -> Any:
    """An orderable object for `version` under `scheme`; raises ValueError when unorderable."""
    try:
        parser = _PARSERS[scheme]
    except KeyError:
        raise ValueError(f"no comparator for scheme {scheme!r}") from None
    return parser(version)


def compare(scheme: str, a: str, b: str) -> int:
    """Sign (-1, 0, 1) of comparing two versions under one scheme."""
    pa, pb = parse(scheme, a), parse(scheme, b)
    return (pa > pb) - (pa < pb)


# Schemes whose parsed form is a plain key (a tuple, or packaging's `_key`) that `ordered_text`
# can store in the database; the others (rpm, apk, univers) compare through Python methods.
INDEXABLE = frozenset({"dpkg", "semver", "go", "pep440"})


@functools.lru_cache(maxsize=200_000)
def key_text(scheme: str, version: str) -> str:
    """Order-preserving text of `version` (see `sortkeys.ordered_text`); ValueError when unorderable,
    `sortkeys.KeyOverflow` (a ValueError) when valid but too large to encode.

    Only for `INDEXABLE` schemes: comparing two such texts as strings gives exactly the answer
    of comparing the parsed versions, which is what lets matching skip parsing advisories.
    """
    if scheme not in INDEXABLE:
        raise ValueError(f"scheme {scheme!r} has no stored key")
    if scheme == "dpkg":  # the most common key at import: encoded straight from the string
        return dpkg_text(*dpkg_split(version))
    parsed = parse(scheme, version)
    return ordered_text(parsed._key if isinstance(parsed, _Pep440) else parsed)
