"""npm-family lockfiles: package-lock.json v1/v2/v3 (and npm-shrinkwrap), yarn v1 and berry, pnpm v5/v6/v9."""

from __future__ import annotations

import re
from typing import Any

import yaml

from hostwarden.core.safeload import safe_yaml_load
from hostwarden.scan.vuln.inventory.model import InventoryError, Package, load_json_object


def _load_json(text: str, location: str) -> dict[str, Any]:
    return load_json_object(text, location)


def _load_yaml(text: str, location: str) -> dict[str, Any]:
    try:
        data = safe_yaml_load(text)
    except yaml.YAMLError as exc:  # DocumentRefused (aliases, foreign tags, size) is one too
        raise InventoryError(location, f"invalid YAML: {str(exc).splitlines()[0]}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InventoryError(location, "top level is not a mapping")
    return data


def _dedupe(packages: list[Package]) -> list[Package]:
    seen: set[tuple[str, str]] = set()
    out = []
    for pkg in packages:
        if (pkg.name, pkg.version) not in seen:
            seen.add((pkg.name, pkg.version))
            out.append(pkg)
    return out


def parse_package_lock(text: str, location: str = "") -> list[Package]:
    data = _load_json(text, location)
    out: list[Package] = []
    packages = data.get("packages")
    if isinstance(packages, dict) and packages:  # v2 / v3
        for path, meta in packages.items():
            if not path or not isinstance(meta, dict) or meta.get("link") or "node_modules/" not in path:
                continue
            name = meta.get("name") or path.rsplit("node_modules/", 1)[1]
            version = meta.get("version")
            if isinstance(version, str) and version:
                out.append(Package(str(name), version, "npm", location, extra={"dev": bool(meta.get("dev"))}))
        return _dedupe(out)

    def walk(deps: Any) -> None:  # v1: nested "dependencies"
        if not isinstance(deps, dict):
            return
        for name, meta in deps.items():
            if isinstance(meta, dict):
                version = meta.get("version")
                if isinstance(version, str) and version and not version.startswith(("file:", "git", "http")):
                    out.append(Package(name, version, "npm", location, extra={"dev": bool(meta.get("dev"))}))
                walk(meta.get("dependencies"))

    walk(data.get("dependencies"))
    return _dedupe(out)


def _spec_name(spec: str) -> str:
    """`@scope/name@^1.0` -> `@scope/name`; `name@npm:1.0` -> `name`."""
    spec = spec.strip().strip('"')
    at = spec.find("@", 1)
    return spec[:at] if at > 0 else spec


def parse_yarn_lock(text: str, location: str = "") -> list[Package]:
    if "__metadata:" in text:
        return _parse_yarn_berry(text, location)
    out: list[Package] = []
    name: str | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            name = _spec_name(line.rstrip(":").split(",")[0]) if line.rstrip().endswith(":") else None
        elif name and line.startswith("  ") and not line.startswith("   "):
            key, _, value = line.strip().partition(" ")
            if key == "version":
                out.append(Package(name, value.strip().strip('"'), "npm", location))
    return _dedupe(out)


def _parse_yarn_berry(text: str, location: str) -> list[Package]:
    data = _load_yaml(text, location)
    out: list[Package] = []
    for key, meta in data.items():
        if key == "__metadata" or not isinstance(meta, dict):
            continue
        resolution = str(meta.get("resolution") or str(key).split(",")[0])
        if "@workspace:" in resolution or "@link:" in resolution or "@portal:" in resolution:
            continue
        version = meta.get("version")
        if version is None:
            continue
        out.append(Package(_spec_name(resolution), str(version), "npm", location))
    return _dedupe(out)


_PEER = re.compile(r"\(.*$")


def _pnpm_key(key: str, lock_version: float) -> tuple[str, str] | None:
    key = _PEER.sub("", key.lstrip("/"))
    if lock_version < 6:
        # v5: /name/version or /@scope/name/version_peer
        name, _, version = key.rpartition("/")
        version = version.split("_", 1)[0]
    else:
        at = key.rfind("@")
        if at <= 0:
            return None
        name, version = key[:at], key[at + 1 :]
    if not name or not version:
        return None
    return name, version


def parse_pnpm_lock(text: str, location: str = "") -> list[Package]:
    data = _load_yaml(text, location)
    try:
        lock_version = float(str(data.get("lockfileVersion", "5")).split(".")[0] or 5)
    except ValueError:
        lock_version = 5.0
    out: list[Package] = []
    packages = data.get("packages") or {}
    if not isinstance(packages, dict):
        raise InventoryError(location, "`packages` is not a mapping")
    for key, meta in packages.items():
        parsed = _pnpm_key(str(key), lock_version)
        meta = meta if isinstance(meta, dict) else {}
        name = meta.get("name") or (parsed[0] if parsed else None)
        version = meta.get("version") or (parsed[1] if parsed else None)
        if name and version and not str(version).startswith(("link:", "file:")):
            out.append(Package(str(name), str(version), "npm", location, extra={"dev": bool(meta.get("dev"))}))
    return _dedupe(out)
