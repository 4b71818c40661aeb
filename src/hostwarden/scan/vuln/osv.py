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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hostwarden.scan.vuln import versions
from hostwarden.scan.vuln.sortkeys import KeyOverflow

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
    dropped so `Ubuntu:22.04:LTS` and `Ubuntu:Pro:22.04:LTS` both land on `ubuntu:22.04`; Red Hat's
    `Red Hat:enterprise_linux:9::appstream` lands on `red hat:9`, the key of a RHEL 9 host.
    """
    parts = [p.strip() for p in ecosystem.split(":")]
    head = parts[0].lower()
    if head == "ubuntu":
        rest = [p for p in parts[1:] if p.lower() not in ("lts", "pro", "fips", "esm")]
        return ":".join(["ubuntu", *rest[:1]])
    if head == "red hat" and len(parts) > 2 and parts[1].lower() == "enterprise_linux":
        # Red Hat names product, major release and repository (`Red Hat:enterprise_linux:9::appstream`);
        # a host's os-release gives the major release only. EUS/AUS streams stay apart.
        return f"red hat:{parts[2].split('.')[0]}"
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
    return _ordered_events(events, lambda value: versions.parse(scheme, value), _SortKey)


def _ordered_events(events: Iterable[Any], key_of: Callable[[str], Any],
                    order: Callable[[Any], Any]) -> list[tuple[str, str, Any]]:
    """(kind, text, key) in OSV evaluation order: `introduced: "0"` first, then by version key
    (`limit: "*"` last); among equal versions the record's order is kept (stable sort)."""
    out: list[tuple[str, str, Any]] = []
    for event in events:
        if type(event) is dict and len(event) == 1:  # the usual shape: skip probing four kinds
            kinds: Iterable[str] = [k for k in event if k in _EVENT_KINDS]
        else:
            kinds = _EVENT_KINDS
        for kind in kinds:
            if kind in event:
                if event[kind] is None or event[kind] == "":
                    continue  # `fixed: null` names no version: no fix is known (never the version "None")
                value = str(event[kind])
                if kind == "introduced" and value == "0" or kind == "limit" and value == "*":
                    out.append((kind, value, None))
                else:
                    out.append((kind, value, key_of(value)))
    lowest = [e for e in out if e[2] is None and e[0] == "introduced"]
    rest = [e for e in out if not (e[2] is None and e[0] == "introduced")]
    rest.sort(key=lambda e: (e[2] is None, order(e[2])))
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


def evaluate_range(scheme: str, installed: Any, events: list[dict[str, Any]], presorted: bool = False) -> Hit:
    """Apply one range's events to an already-parsed installed version."""
    if not presorted:
        events = [{kind: text} for kind, text, _ in _sorted_events(scheme, events)]
    else:
        events = [e for e in events if all(v is not None and v != "" for v in e.values())]
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


# --- the indexed form: events sorted and keyed once, at import ------------------------------
# `compile_entry` turns an affected entry into plain JSON-able lists whose versions are already
# order-preserving key texts (`versions.key_text`); `evaluate_compiled` then answers exactly
# what `evaluate_affected` answers on the entry with string comparisons only. Entries that
# cannot be indexed (rpm/apk/univers ecosystems, unparseable events, odd shapes) compile to
# None and are evaluated from the stored record by `evaluate_affected` itself.
_RANGE_TYPES = ("ECOSYSTEM", "SEMVER")
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


class Unindexed(Exception):
    """The installed version parses but has no key text (a number over 151 digits)."""


def compile_entry(entry: dict[str, Any], ecosystem: str) -> list[Any] | None:
    """`[scheme, ranges, versions, pep440 version keys]`, or None when it cannot be indexed.

    Each range is `[type, scheme, events, limits]`; events are `[kind, text, key]` in the
    order `_sorted_events` gives (kind `i`/`f`/`l`, key None for `introduced: "0"`), limits are
    keys (None for `"*"`). Only `ECOSYSTEM`/`SEMVER` ranges are kept, as evaluation ignores others.
    """
    scheme = versions.scheme_for(ecosystem)
    if scheme not in versions.INDEXABLE:
        return None
    ranges: list[Any] = []
    try:
        for rng in entry.get("ranges") or []:
            rtype = str(rng.get("type", "")).upper()
            if rtype not in _RANGE_TYPES:
                continue
            events = rng.get("events") or []
            if not isinstance(events, list):
                return None
            rscheme = "semver" if rtype == "SEMVER" and scheme != "go" else scheme
            ordered = _keyed_events(rscheme, events)
            walk = [[kind[0], text, key] for kind, text, key in ordered if kind != "limit"]
            limits = [key for kind, _, key in ordered if kind == "limit"]
            ranges.append([rtype, rscheme, walk, limits])
        listed = [str(v) for v in entry.get("versions") or []]
    except (ValueError, TypeError, AttributeError, KeyError):
        return None
    listed_keys: list[str] = []
    if scheme == "pep440":
        for text in listed:
            try:
                listed_keys.append(versions.key_text(scheme, text))
            except ValueError:
                continue
    return [scheme, ranges, listed, listed_keys]


def _keyed_events(scheme: str, events: list[Any]) -> list[tuple[str, str, str | None]]:
    """`_sorted_events` with key texts in place of parsed versions (the same order: the texts
    order as the versions do, and both sorts are stable)."""
    return _ordered_events(events, lambda value: versions.key_text(scheme, value), lambda key: key or "")


_INSTALLED: dict[tuple[str, str], str | None] = {}


def _installed_key(scheme: str, version: str) -> str | None:
    """Key text of an installed version, None when unorderable; looked up once per candidate."""
    try:
        return _INSTALLED[scheme, version]
    except KeyError:
        pass
    try:
        key: str | None = versions.key_text(scheme, version)
    except KeyOverflow as exc:
        raise Unindexed(version) from exc
    except ValueError:  # not a version this ecosystem can order
        key = None
    if len(_INSTALLED) < 200_000:
        _INSTALLED[scheme, version] = key
    return key


def _walk(installed: str, events: list[list[Any]], limits: list[str | None]) -> tuple[str | None, str | None] | None:
    """`evaluate_range` on key texts: (fixed, last_affected) when affected, else None."""
    if limits and not any(key is None or installed < key for key in limits):
        return None
    affected = False
    fixed: str | None = None
    last: str | None = None
    for kind, text, key in events:
        if kind == "i":
            if key is None or installed >= key:
                affected, fixed, last = True, None, None
            else:
                break
        elif kind == "f":
            if installed >= key:
                affected = False
            else:
                fixed = text if affected else None
                break
        elif installed > key:  # last_affected
            affected = False
        else:
            last = text if affected else None
            break
    return (fixed, last) if affected else None


def evaluate_compiled(compiled: list[Any], ecosystem: str, version: str) -> Hit:
    """`evaluate_affected` on a `compile_entry` result; raises `Unindexed` for the rare version
    that parses but cannot be keyed (callers then evaluate the entry itself)."""
    scheme, ranges, listed, listed_keys = compiled[0], compiled[1], compiled[2], compiled[3]
    installed = _installed_key(scheme, version)
    unknown = installed is None
    if installed is not None:
        for rtype, rscheme, events, limits in ranges:
            inst = installed if rscheme == scheme else _installed_key(rscheme, version)
            if inst is None:
                unknown = True
                continue
            found = _walk(inst, events, limits)
            if found is not None:
                return Hit(Verdict.AFFECTED, found[0], found[1], rtype, f"{rtype} range")
    if version in listed or (installed is not None and installed in listed_keys):
        return Hit(Verdict.AFFECTED, None, None, None, "listed in versions")
    if unknown and (ranges or not listed):
        return Hit(Verdict.UNKNOWN, reason=f"version {version!r} not comparable in {ecosystem}")
    return Hit(Verdict.NOT_AFFECTED)
