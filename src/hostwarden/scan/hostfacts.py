"""What a report says about the scanned host: OS release, name and machine id, read confined.

Why a module of its own: the facts head every report, and once they were read by plain path
joins, so `etc/machine-id -> /proc/self/environ` put the scanner's environment (tokens included)
in the report's host id. Here they go through the root's resolver like every scanner read.
"""

from __future__ import annotations

import platform
import socket
from datetime import tzinfo
from pathlib import Path
from typing import Any

from hostwarden.normalize.timezones import zone_from_files
from hostwarden.scan.rootfs import RootFS

OS_KEYS = ("ID", "VERSION_ID", "PRETTY_NAME", "VERSION_CODENAME")


def host_facts(root: Path, live: bool, fs: RootFS | None = None) -> dict[str, Any]:
    """root, live, os.* from etc/os-release, name (hostname), id (machine-id); absent facts are left out."""
    fs = fs or RootFS(Path(root), live=live)
    facts: dict[str, Any] = {"root": str(root), "live": live}
    for line in (fs.read_text("/etc/os-release", kind="id") or "").splitlines():
        key, _, value = line.partition("=")
        if key in OS_KEYS:
            facts[f"os.{key.lower()}"] = value.strip().strip('"')
    if live:
        facts["name"] = socket.gethostname()
        facts["os.kernel"] = platform.release()
    else:
        hostname = fs.read_text("/etc/hostname", kind="id")
        if hostname is not None:
            facts["name"] = hostname.strip() or None
    machine_id = fs.read_text("/etc/machine-id", kind="id")
    if machine_id is not None:
        facts["id"] = machine_id.strip() or None
    return facts


def clock_zone(fs: RootFS) -> tzinfo:
    """The zone the scanned host keeps its clock in, which its zone-less log times are in:
    /etc/localtime (a link's text names the zone; else the TZif file it leads to inside the
    root), else /etc/timezone; UTC when neither says (normalize.timezones.zone_from_files)."""
    return zone_from_files(fs.readlink("/etc/localtime"), fs.read_bytes("/etc/localtime", kind="id"),
                           fs.read_bytes("/etc/timezone", kind="id"))
