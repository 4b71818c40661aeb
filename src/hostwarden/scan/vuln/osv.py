"""OSV record semantics: which versions an `affected` entry covers, exactly as the OSV schema says.

The evaluation follows the schema's reference algorithm: for each `ECOSYSTEM` or `SEMVER`
range, events are sorted by version and walked in order: `introduced` opens the range
(`"0"` means from the beginning), `fixed` closes it at that version, `last_affected` closes
it just after that version, and `limit` caps the whole range (`"*"` means no cap). Several
ranges are OR-ed, and the explicit `versions` list adds exact matches. `GIT` ranges (commit
hashes) cannot be evaluated against an installed package version and are ignored.

A version the ecosystem cannot order makes that range *unknown*, never silently
"not affected": callers get `Verdict.UNKNOWN` and can say so.
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hostwarden.scan.vuln import versions

_PEP503 = re.compile(r"[-_.]+")


class Verdict(enum.Enum):
    AFFECTED = "affected"
    NOT_AFFECTED = "not_affected"
    UNKNOWN = "unknown"


@functools.lru_cache(maxsize=4096)
def ecosystem_key(ecosystem: str) -> str:
    """Normalise an OSV ecosystem to the key we index by.

    Distro ecosystems keep their release (`debian:12`, `alpine:v3.18`, `ubuntu:22.04`) because an
    advisory for one release says nothing about another. Ubuntu's `:LTS` / `Pro:` decorations are
    dropped so `Ubuntu:22.04:LTS` and `Ubuntu:Pro:22.04:LTS` both land on `ubuntu:22.04`.
    """
    parts = [p.strip() for p in ecosystem.split(":")]
    head = parts[0].lower()
    if head == "ubuntu":
        rest = [p for p in parts[1:] if p.lower() not in ("lts", "pro", "fips", "esm")]
        return ":".join(["ubuntu", *rest[:1]])
    return ":".join([head, *parts[1:]]).lower() if len(parts) > 1 else head


def package_key(ecosystem: str, name: str) -> str:
    """Normalise a package name for lookup: PEP 503 for PyPI, lowercase where names are case-blind."""
    eco = ecosystem.split(":", 1)[0].strip().lower()
    if eco == "pypi":
        return _PEP503.sub("-", name).lower()
    if eco in ("debian", "ubuntu", "alpine", "packagist", "nuget", "crates.io", "maven"):
        return name.lower()
    return name


def timestamp(value: Any) -> str | None:
    """OSV timestamps as RFC 3339 text; YAML loaders turn them into datetimes, we turn them back."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return value.astimezone(_dt.UTC).isoformat().replace("+00:00", "Z")
    return str(value)


@dataclass(frozen=True, slots=True)
class Hit:
    """Why an affected entry covers a version: the range that matched and the next fixed version."""

    verdict: Verdict
    fixed: str | None = None
    last_affected: str | None = None
    range_type: str | None = None
    reason: str = ""


def _sorted_events(scheme: str, events: Iterable[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind in event:
                value = str(event[kind])
                if kind == "introduced" and value == "0" or kind == "limit" and value == "*":
                    out.append((kind, value, None))
                else:
                    out.append((kind, value, versions.parse(scheme, value)))
    # "0" sorts first; among equal versions keep the record's order (stable sort).
    lowest = [e for e in out if e[2] is None and e[0] == "introduced"]
    rest = [e for e in out if not (e[2] is None and e[0] == "introduced")]
    rest.sort(key=lambda e: (e[2] is None, _SortKey(e[2])))
    return lowest + rest


class _SortKey:
    """Lets heterogeneous parsed versions (and None for `*`) sit in one sort without TypeError."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: _SortKey) -> bool:
        if self.v is None or other.v is None:
            return False
        return bool(self.v < other.v)


def presort(entry: dict[str, Any], ecosystem: str) -> None:
    """Sort each range's events by version once, at import, and mark it `_sorted`.

    Matching then walks events in order and stops at the first one above the installed
    version, parsing only what it needs. Ranges whose versions cannot be parsed are left
    as they are and sorted at match time (where the failure becomes "not comparable").
    """
    scheme = versions.scheme_for(ecosystem)
    if scheme is None:
        return
    for rng in entry.get("ranges") or []:
        rtype = str(rng.get("type", "")).upper()
        if rtype not in ("ECOSYSTEM", "SEMVER") or not isinstance(rng.get("events"), list):
            continue
        rscheme = "semver" if rtype == "SEMVER" and scheme != "go" else scheme
        try:
            ordered = _sorted_events(rscheme, rng["events"])
        except (ValueError, TypeError, AttributeError):
            continue
        rng["events"] = [{kind: text} for kind, text, _ in ordered]
        rng["_sorted"] = True


def evaluate_range(scheme: str, installed: Any, events: list[dict[str, Any]], presorted: bool = False) -> Hit:
    """Apply one range's events to an already-parsed installed version."""
    if not presorted:
        events = [{kind: text} for kind, text, _ in _sorted_events(scheme, events)]
    limits = [str(e["limit"]) for e in events if "limit" in e]
    if limits and not any(v == "*" or installed < versions.parse(scheme, v) for v in limits):
        return Hit(Verdict.NOT_AFFECTED)
    affected = False
    fixed: str | None = None
    last: str | None = None
    for event in events:
        if "introduced" in event:
            text = str(event["introduced"])
            if text == "0" or installed >= versions.parse(scheme, text):
                affected, fixed, last = True, None, None
            else:
                break  # sorted: every later event is above the installed version too
        elif "fixed" in event:
            text = str(event["fixed"])
            if installed >= versions.parse(scheme, text):
                affected = False
            else:
                fixed = text if affected else None
                break
        elif "last_affected" in event:
            text = str(event["last_affected"])
            if installed > versions.parse(scheme, text):
                affected = False
            else:
                last = text if affected else None
                break
    if not affected:
        return Hit(Verdict.NOT_AFFECTED)
    return Hit(Verdict.AFFECTED, fixed=fixed, last_affected=last)


def evaluate_affected(entry: dict[str, Any], ecosystem: str, version: str) -> Hit:
    """Does this `affected[]` entry cover `version` of its package? Exact OSV semantics."""
    scheme = versions.scheme_for(ecosystem)
    listed = [str(v) for v in entry.get("versions") or []]
    unknown = False
    installed: Any = None
    if scheme is not None:
        try:
            installed = versions.parse(scheme, version)
        except ValueError:
            unknown = True
    else:
        unknown = True
    for rng in entry.get("ranges") or []:
        rtype = str(rng.get("type", "")).upper()
        if rtype not in ("ECOSYSTEM", "SEMVER") or installed is None:
            continue
        rscheme = "semver" if rtype == "SEMVER" and scheme not in ("go",) else scheme
        try:
            inst = installed if rscheme == scheme else versions.parse(rscheme, version)
            hit = evaluate_range(rscheme, inst, list(rng.get("events") or []), bool(rng.get("_sorted")))
        except (ValueError, TypeError):
            unknown = True
            continue
        if hit.verdict is Verdict.AFFECTED:
            return Hit(Verdict.AFFECTED, hit.fixed, hit.last_affected, rtype, f"{rtype} range")
    if version in listed or (installed is not None and _listed_equal(scheme, installed, listed)):
        return Hit(Verdict.AFFECTED, None, None, None, "listed in versions")
    has_ranges = any(str(r.get("type", "")).upper() in ("ECOSYSTEM", "SEMVER") for r in entry.get("ranges") or [])
    if unknown and (has_ranges or not listed):
        return Hit(Verdict.UNKNOWN, reason=f"version {version!r} not comparable in {ecosystem}")
    return Hit(Verdict.NOT_AFFECTED)


def _listed_equal(scheme: str | None, installed: Any, listed: list[str]) -> bool:
    """PEP 440 spells one version several ways (`1.0` == `1.0.0`); compare parsed there."""
    if scheme != "pep440":
        return False
    for text in listed:
        try:
            if versions.parse(scheme, text) == installed:
                return True
        except ValueError:
            continue
    return False


def is_malicious(record: dict[str, Any]) -> bool:
    """OSV's malicious-packages feed uses `MAL-` ids (and sometimes only a MAL alias)."""
    ids = [str(record.get("id", ""))] + [str(a) for a in record.get("aliases") or []]
    return any(i.startswith("MAL-") for i in ids)
