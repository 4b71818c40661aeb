"""CycloneDX 1.5 JSON software bill of materials from the same inventory the scanner uses.

Entry point for the CLI: `build_sbom(root=PATH)` or `build_sbom(image=IMAGE.tar)` returns the
document as a dict; `json.dumps` it. Components carry package URLs (purl) so other tools
(Dependency-Track, osv-scanner, Grype) can match them too.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hostwarden import __version__
from hostwarden.scan.vuln.image import unpack
from hostwarden.scan.vuln.inventory.files import Inventory, collect
from hostwarden.scan.vuln.inventory.model import Package
from hostwarden.scan.vuln.osv import package_key
from hostwarden.scan.vuln.workdir import image_workdir

_PURL_TYPES = {"debian": "deb", "ubuntu": "deb", "alpine": "apk", "pypi": "pypi", "npm": "npm", "go": "golang",
               "crates.io": "cargo", "rubygems": "gem", "packagist": "composer", "maven": "maven",
               "nuget": "nuget", "rocky linux": "rpm", "almalinux": "rpm", "red hat": "rpm", "opensuse": "rpm",
               "suse": "rpm", "mageia": "rpm", "fedora": "rpm", "centos": "rpm", "amazon linux": "rpm",
               "oracle linux": "rpm", "rpm": "rpm"}
# purl vendor namespaces of rpm distributions (the purl-spec examples: pkg:rpm/fedora/…, pkg:rpm/opensuse/…).
_RPM_VENDORS = {"red hat": "redhat", "rocky linux": "rocky", "amazon linux": "amazon", "oracle linux": "oracle"}


def _distro_namespace(eco: str) -> str:
    return _RPM_VENDORS.get(eco.lower(), eco.lower().split()[0])


def purl(pkg: Package) -> str | None:
    """The package URL; rpm versions drop the epoch into the `epoch` qualifier as the purl spec says."""
    eco, _, release = pkg.ecosystem.partition(":")
    kind = _PURL_TYPES.get(eco.lower())
    if kind is None:
        return None
    name = package_key(pkg.ecosystem, pkg.name) if kind == "pypi" else pkg.name
    version = pkg.version
    qualifiers: dict[str, str] = {}
    namespace = ""
    if kind in ("deb", "apk", "rpm"):
        vendor = _distro_namespace(eco)
        namespace = "" if vendor == "rpm" else vendor + "/"
        if release:
            qualifiers["distro"] = f"{vendor}-{release.lstrip('v')}".lower().replace(" ", "-")
    elif kind in ("npm", "composer", "golang") and "/" in name:
        head, _, name = name.rpartition("/")
        namespace = "/".join(quote(p, safe="") for p in head.split("/")) + "/"
    elif kind == "maven" and ":" in name:
        group, _, name = name.partition(":")
        namespace = quote(group, safe="") + "/"
    if kind == "rpm":
        epoch, sep, rest = version.partition(":")
        if sep and epoch.isdigit():
            qualifiers["epoch"], version = epoch, rest
        if pkg.extra.get("arch"):
            qualifiers["arch"] = str(pkg.extra["arch"])
    if pkg.source_name and pkg.source_name != pkg.name:
        qualifiers["upstream"] = pkg.source_name
    out = f"pkg:{kind}/{namespace}{quote(name, safe='')}@{quote(version, safe='')}"
    if qualifiers:
        out += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted(qualifiers.items()))
    return out


def document(inv: Inventory, subject: str) -> dict[str, Any]:
    components = []
    seen: set[str] = set()
    for pkg in inv.packages:
        if not pkg.version:
            continue
        ref = purl(pkg) or f"{pkg.ecosystem}:{pkg.name}@{pkg.version}"
        if ref in seen:
            continue
        seen.add(ref)
        comp: dict[str, Any] = {"type": "library", "bom-ref": ref, "name": pkg.name, "version": pkg.version}
        if purl(pkg):
            comp["purl"] = ref
        props = [{"name": "hostwarden:ecosystem", "value": pkg.ecosystem}]
        if pkg.location:
            props.append({"name": "hostwarden:location", "value": pkg.location})
        if pkg.source_name:
            props.append({"name": "hostwarden:source_package", "value": pkg.source_name})
        comp["properties"] = props
        components.append(comp)
    component: dict[str, Any] = {"type": "operating-system" if inv.os else "application", "name": subject}
    if inv.os:
        component["version"] = inv.os.version_id
        component["description"] = inv.os.pretty_name
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": f"urn:uuid:{uuid.uuid4()}", "version": 1,
        "metadata": {"timestamp": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
                     "tools": {"components": [{"type": "application", "name": "hostwarden",
                                               "version": __version__}]},
                     "component": component},
        "components": components,
    }


def build_sbom(root: Path | None = None, image: Path | None = None) -> dict[str, Any]:
    """CycloneDX 1.5 for a root folder or an image tarball/OCI layout (exactly one of them)."""
    if image is not None:
        with image_workdir(prefix="hostwarden-sbom-") as tmp:
            unpack(Path(image), tmp / "rootfs")
            return document(collect(tmp / "rootfs"), str(image))
    return document(collect(Path(root or "/")), str(root or "/"))
