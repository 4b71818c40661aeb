"""OS detection and OS package databases: os-release, dpkg status (+status.d), apk installed.

dpkg installed-ness: a package counts when its *current* state (the third word of `Status:`)
is `installed`, whatever the wanted state. `deinstall reinstreq installed` is still on disk and
still vulnerable; `deinstall ok config-files` (removed, only conffiles left), `unpacked`,
`half-installed` and `not-installed` are not. This is dpkg's own meaning, and the one osv-scalibr
tests against. `strict=True` keeps only `install ok installed`. Distroless images keep one
paragraph per file in `status.d/` with no `Status:` field; those are installed by definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hostwarden.scan.rootfs import RootFS
from hostwarden.scan.vuln.inventory.model import Package


@dataclass(frozen=True, slots=True)
class OsInfo:
    id: str
    version_id: str
    codename: str
    id_like: tuple[str, ...]
    pretty_name: str

    @property
    def family(self) -> str:
        """debian, ubuntu, alpine, rhel… taken from ID, or ID_LIKE for derivatives."""
        known = ("debian", "ubuntu", "alpine", "rhel", "rocky", "almalinux", "centos", "fedora", "opensuse", "sles")
        if self.id in known:
            return self.id
        return next((i for i in self.id_like if i in known), self.id)

    def ecosystem(self) -> str | None:
        """The OSV ecosystem of this release: `Debian:12`, `Ubuntu:22.04`, `Alpine:v3.18`…"""
        version = self.version_id
        family = self.family
        if family == "debian" and self.id == "debian" and version:
            return f"Debian:{version.split('.')[0]}"
        if family == "ubuntu" and self.id == "ubuntu" and version:
            return f"Ubuntu:{version}"
        if family == "alpine" and version:
            return "Alpine:v" + ".".join(version.split(".")[:2])
        if self.id == "rocky" and version:
            return f"Rocky Linux:{version.split('.')[0]}"
        if self.id == "almalinux" and version:
            return f"AlmaLinux:{version.split('.')[0]}"
        return None  # derivatives (Mint, Raspbian…): their release numbers mean nothing to upstream advisories


def parse_os_release(text: str) -> OsInfo:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return OsInfo(
        id=values.get("ID", "").lower(),
        version_id=values.get("VERSION_ID", ""),
        codename=values.get("VERSION_CODENAME", "") or values.get("UBUNTU_CODENAME", ""),
        id_like=tuple(values.get("ID_LIKE", "").lower().split()),
        pretty_name=values.get("PRETTY_NAME", ""),
    )


def _fs(root: Path | RootFS) -> RootFS:
    return root if isinstance(root, RootFS) else RootFS(Path(root))


def read_os_release(root: Path | RootFS) -> OsInfo | None:
    fs = _fs(root)
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text = fs.read_text(path, kind="id")
        if text is not None:
            return parse_os_release(text)
    return None


def _paragraphs(text: str) -> list[dict[str, str]]:
    """deb822 paragraphs; continuation lines (leading space) are folded into the previous field."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                out.append(current)
            current, last = {}, ""
        elif line[0] in " \t":
            if last:
                current[last] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            last = key.strip()
            current[last] = value.strip()
        # a line with neither is garbage; dpkg would refuse the file, we skip the line
    if current:
        out.append(current)
    return out


def _dpkg_installed(status: str | None, strict: bool) -> bool:
    if status is None:
        return False
    words = status.split()
    if len(words) != 3:
        return False
    return words == ["install", "ok", "installed"] if strict else words[2] == "installed"


def parse_dpkg_status(text: str, *, ecosystem: str = "Debian", location: str = "", strict: bool = False,
                      include_not_installed: bool = False, missing_status_installed: bool = False) -> list[Package]:
    packages: list[Package] = []
    for para in _paragraphs(text):
        name, version = para.get("Package", "").strip(), para.get("Version", "").strip()
        if not name or not version:
            continue
        status = para.get("Status")
        if status is None and missing_status_installed:
            status = "install ok installed"
        if not include_not_installed and not _dpkg_installed(status, strict):
            continue
        source_name, source_version = name, version
        source = para.get("Source", "").strip()
        if source:
            src, _, rest = source.partition(" ")
            source_name = src
            rest = rest.strip()
            if rest.startswith("(") and rest.endswith(")"):
                source_version = rest[1:-1].strip()
        packages.append(Package(name, version, ecosystem, location, source_name, source_version,
                                {"arch": para.get("Architecture", ""), "status": status or ""}))
    return packages


def read_dpkg(root: Path | RootFS, ecosystem: str = "Debian", *, strict: bool = False) -> list[Package]:
    """Packages of dpkg's status file and status.d (read capped, SCAN-9031 past the package-database limit)."""
    fs = _fs(root)
    packages: list[Package] = []
    status = fs.read_text("/var/lib/dpkg/status", kind="package_db")
    if status is not None:
        packages += parse_dpkg_status(status, ecosystem=ecosystem, location="/var/lib/dpkg/status", strict=strict)
    for entry in fs.entries("/var/lib/dpkg/status.d"):
        if "." in entry.name:  # skip foo.md5sums companions
            continue
        text = fs.read_text(entry.path, kind="package_db")
        if text is not None:
            packages += parse_dpkg_status(text, ecosystem=ecosystem, strict=strict,
                                          location=f"/var/lib/dpkg/status.d/{entry.name}",
                                          missing_status_installed=True)
    return packages


def parse_apk_installed(text: str, *, ecosystem: str = "Alpine", location: str = "") -> list[Package]:
    packages: list[Package] = []
    fields: dict[str, str] = {}

    def flush() -> None:
        name, version = fields.get("P", ""), fields.get("V", "")
        if name and version:
            origin = fields.get("o") or None
            packages.append(Package(name, version, ecosystem, location, origin, version if origin else None,
                                    {"arch": fields.get("A", "")}))
        fields.clear()

    for line in text.splitlines():
        if not line.strip():
            flush()
        elif len(line) >= 2 and line[1] == ":":
            fields.setdefault(line[0], line[2:].strip())
    flush()
    return packages


def read_apk(root: Path | RootFS, ecosystem: str = "Alpine") -> list[Package]:
    text = _fs(root).read_text("/lib/apk/db/installed", kind="package_db")
    if text is None:
        return []
    return parse_apk_installed(text, ecosystem=ecosystem, location="/lib/apk/db/installed")
