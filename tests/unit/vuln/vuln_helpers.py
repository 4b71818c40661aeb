"""Builders for small host roots and OSV records, shared by the vuln tests (imported via conftest's path)."""

import datetime as dt
import json
from pathlib import Path


def now_iso(days_ago: float = 0) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")


def osv_record(rid, ecosystem, name, events, *, aliases=(), severity=None, modified=None, versions=None,
               **extra):
    affected = {"package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": events}]}
    if versions is not None:
        affected["versions"] = versions
    rec = {"id": rid, "modified": modified or now_iso(), "summary": f"{rid} summary", "aliases": list(aliases),
           "affected": [affected], **extra}
    if severity:
        rec["severity"] = [{"type": "CVSS_V3", "score": severity}]
    return rec


CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
MEDIUM = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N"  # 4.2


def write_records(folder: Path, records) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rec in records:
        (folder / f"{rec['id']}.json").write_text(json.dumps(rec), encoding="utf-8")
    return folder


DPKG_STATUS = """\
Package: sudo
Status: install ok installed
Architecture: amd64
Version: 1.9.13p3-1
Description: sudo

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl (3.0.9-1)
Version: 3.0.9-1+b1

Package: removed-tool
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: patched
Status: install ok installed
Architecture: amd64
Version: 2.0-3+deb12u1

Package: epochy
Status: install ok installed
Architecture: amd64
Version: 2:1.0-1
"""


def make_debian_root(root: Path, status: str = DPKG_STATUS, version_id: str = "12") -> Path:
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").write_text(
        f'PRETTY_NAME="Debian GNU/Linux {version_id}"\nID=debian\nVERSION_ID="{version_id}"\n'
        "VERSION_CODENAME=bookworm\n", encoding="utf-8")
    (root / "var/lib/dpkg").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text(status, encoding="utf-8")
    return root
