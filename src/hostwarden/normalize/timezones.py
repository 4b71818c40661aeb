"""Which zone a source's zone-less timestamps are in.

Classic syslog, web server error logs and `ausearch -i` dates are the wall clock of the host
that wrote them. Taking them as UTC put every event of an Asia/Shanghai host 8 hours late and
broke time windows across hosts. The zone of a source is, first match wins:

1. `--timezone` on the command line (every source of that run);
2. `[ingest.sources."<glob>"] timezone`, the first glob (in file order) matching the path as
   read, or, under a scanned root, the path inside the root (`/var/log/app/x.log`);
3. `[ingest] timezone`;
4. the zone of the host that wrote the log: the scanned root's `/etc/localtime` (a link into a
   zoneinfo folder names the zone; a copied TZif file is matched against this machine's zoneinfo
   database by its bytes, or read as is) or its `/etc/timezone`, which a scan reads through its
   root's resolver and hands to `zone_from_files` (scan/hostfacts.py); for `ingest` and `watch`
   this machine's own (`host_zone`); UTC when none can be read.

A line that names its zone (RFC 5424, ISO 8601 with an offset, an access log's `-0700`) keeps it
whatever this says. The wall clock → UTC rule itself is normalize.localtime.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import stat
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path

from hostwarden.core.config import IngestConfig
from hostwarden.core.errors import CSA_CONFIG_INVALID, HostwardenError

TZIF_MAX = 1 << 16  # a TZif file is a few KB; anything larger at /etc/localtime is not one
_ZONEINFO_MARK = "zoneinfo/"


def zone_named(name: str) -> tzinfo:
    """The zone of an IANA name (`Asia/Shanghai`, `UTC`); CSA-5002 for an unknown one."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise HostwardenError(CSA_CONFIG_INVALID, f"unknown time zone {name!r} (an IANA name such as "
                                                  "Europe/Berlin or UTC)") from exc


@dataclass(frozen=True)
class ZonePolicy:
    """The zone rules of one run (see the module doc); `for_source` answers per path."""

    override: str | None = None  # --timezone
    default: str | None = None  # [ingest] timezone
    sources: tuple[tuple[str, str], ...] = ()  # (glob, zone) of [ingest.sources."glob"], in file order
    root: Path = Path("/")  # the host whose own zone is the fallback
    host: tzinfo | None = None  # that host's zone when the caller read it (a scan, through its resolver)

    @classmethod
    def from_config(cls, ingest: IngestConfig, override: str | None = None, root: Path = Path("/")) -> ZonePolicy:
        if override is not None:
            zone_named(override)  # a typo fails before anything is read
        sources = tuple((glob, src.timezone) for glob, src in ingest.sources.items() if src.timezone)
        return cls(override or None, ingest.timezone, sources, root)

    def under(self, root: Path, host: tzinfo | None = None) -> ZonePolicy:
        """The same rules for the logs of the host mounted at `root` (`scan --root`); `host`: its
        zone as the caller read it (`zone_from_files`), else `host_zone(root)` reads it."""
        return ZonePolicy(self.override, self.default, self.sources, root, host)

    def for_source(self, path: str) -> tzinfo:
        if self.override:
            return zone_named(self.override)
        names = [path]
        if self.root != Path("/"):
            with contextlib.suppress(ValueError):
                names.append("/" + Path(path).relative_to(self.root).as_posix())
        for glob, zone in self.sources:
            if any(fnmatch.fnmatchcase(name, glob) for name in names):
                return zone_named(zone)
        if self.default:
            return zone_named(self.default)
        return self.host if self.host is not None else host_zone(self.root)


@lru_cache(maxsize=16)
def host_zone(root: Path = Path("/")) -> tzinfo:
    """The zone the host under `root` keeps its clock in (see the module doc); UTC if unknown.
    Reads only `etc/localtime` and `etc/timezone` under `root`, never through a link that
    leaves it (a link's text is read, not followed, unless it stays inside the root)."""
    etc = _inside(root, "etc")
    if etc is None:
        return UTC
    localtime = etc / "localtime"
    try:
        target: str | None = os.readlink(localtime)
    except OSError:
        target = None
    if target is None:
        data = _read_regular(localtime)
    elif _zone_from_link(target) is not None:
        data = None  # the link's text names the zone: nothing to read
    else:
        resolved = _inside(root, target.lstrip("/")) if target.startswith("/") else _inside(root, f"etc/{target}")
        data = _read_regular(resolved) if resolved is not None else None
    return zone_from_files(target, data, _read_regular(etc / "timezone"))


def zone_from_files(link: str | None, localtime: bytes | None, timezone: bytes | None) -> tzinfo:
    """A host's zone from what its files hold, however they were read: the text of the
    /etc/localtime link (`link`, None when it is no link), the bytes /etc/localtime leads to
    (within the host's root), and /etc/timezone's bytes. UTC when none names a zone. A scan
    reads the three through its root's resolver (scan/hostfacts.py) and hands them here."""
    if link is not None:
        named = _zone_from_link(link)
        if named is not None:
            return named
    if localtime is not None and localtime.startswith(b"TZif"):
        return _zone_from_tzif(localtime[:TZIF_MAX])
    if timezone is not None and timezone.strip():
        name = timezone.decode("utf-8", "replace").strip().splitlines()[0].strip()
        try:
            return zoneinfo.ZoneInfo(name) if name else UTC
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            return UTC
    return UTC


def _zone_from_link(target: str) -> tzinfo | None:
    """`/usr/share/zoneinfo/Asia/Shanghai` (or `../usr/share/zoneinfo/posix/…`) → that zone."""
    at = target.rfind(_ZONEINFO_MARK)
    if at < 0:
        return None
    name = target[at + len(_ZONEINFO_MARK):]
    for prefix in ("posix/", "right/"):
        name = name.removeprefix(prefix)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _inside(root: Path, relative: str) -> Path | None:
    """`root/relative` if, with every link resolved, it is still inside `root`."""
    try:
        base = root.resolve()
        path = (root / relative).resolve()
    except (OSError, RuntimeError):
        return None
    return path if path == base or path.is_relative_to(base) else None


def _read_regular(path: Path) -> bytes | None:
    """At most TZIF_MAX bytes of a regular file, not following a final link; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(TZIF_MAX)
    except OSError:
        return None
    finally:
        os.close(fd)


def _zone_from_tzif(data: bytes) -> tzinfo:
    """A copied zone file: the named zone of this machine's database with the same bytes, else
    the file read as it is (a zone without a name, correct all the same)."""
    name = _tzif_index().get(data)
    if name is not None:
        return zoneinfo.ZoneInfo(name)
    try:
        return TzifZone(data)
    except (ValueError, OSError):
        return UTC


class TzifZone(tzinfo):
    """A zone read from TZif bytes. Unlike `ZoneInfo.from_file` it pickles (by its bytes), so a
    parse context holding it can travel to watch's parse worker."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._zone = zoneinfo.ZoneInfo.from_file(io.BytesIO(data), key="localtime")

    def __reduce__(self) -> tuple[type[TzifZone], tuple[bytes]]:
        return TzifZone, (self.data,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TzifZone) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return self._zone.utcoffset(dt)

    def dst(self, dt: datetime | None) -> timedelta | None:
        return self._zone.dst(dt)

    def tzname(self, dt: datetime | None) -> str | None:
        return self._zone.tzname(dt)

    def fromutc(self, dt: datetime) -> datetime:
        return self._zone.fromutc(dt.replace(tzinfo=self._zone)).replace(tzinfo=self)


@lru_cache(maxsize=1)
def _tzif_index() -> dict[bytes, str]:
    """The bytes of every zone file of this machine's database, by content (read once)."""
    index: dict[bytes, str] = {}
    for name in sorted(zoneinfo.available_timezones(), key=lambda n: (n.startswith("Etc/"), len(n), n)):
        for folder in zoneinfo.TZPATH:
            path = Path(folder) / name
            data = _read_regular(path)
            if data is not None:
                index.setdefault(data, name)  # canonical names first: Etc/ aliases and long links last
                break
    return index
