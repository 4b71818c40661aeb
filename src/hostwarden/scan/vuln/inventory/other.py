"""composer.lock (Packagist), Gemfile.lock (RubyGems), Cargo.lock (crates.io) and go.mod (Go)."""

from __future__ import annotations

import re
import tomllib

from hostwarden.scan.vuln.inventory.model import InventoryError, Package, load_json_object


def parse_composer_lock(text: str, location: str = "") -> list[Package]:
    data = load_json_object(text, location)
    out: list[Package] = []
    for group in ("packages", "packages-dev"):
        for pkg in data.get(group) or []:
            if isinstance(pkg, dict) and pkg.get("name") and pkg.get("version"):
                out.append(Package(str(pkg["name"]), str(pkg["version"]), "Packagist", location,
                                   extra={"dev": group == "packages-dev"}))
    return out


_GEM_SPEC = re.compile(r"^    (?P<name>[^\s(]+) \((?P<version>[^)]+)\)$")


def parse_gemfile_lock(text: str, location: str = "") -> list[Package]:
    """Top-level specs (4-space indent) of the GEM, GIT and PATH sections; platform suffix dropped."""
    out: list[Package] = []
    section = ""
    in_specs = False
    for line in text.splitlines():
        if line and not line[0].isspace():
            section, in_specs = line.strip(), False
            continue
        if line.strip() == "specs:":
            in_specs = section in ("GEM", "GIT", "PATH", "PLUGIN SOURCE")
            continue
        m = _GEM_SPEC.match(line) if in_specs else None
        if m:
            version = m.group("version").split("-", 1)[0] if "-" in m.group("version") else m.group("version")
            out.append(Package(m.group("name"), version, "RubyGems", location))
    return out


def parse_cargo_lock(text: str, location: str = "") -> list[Package]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(location, f"invalid TOML: {exc}") from exc
    return [Package(str(p["name"]), str(p["version"]), "crates.io", location)
            for p in data.get("package") or [] if isinstance(p, dict) and p.get("name") and p.get("version")]


def _go_version(v: str) -> str:
    return v.removeprefix("v").removesuffix("+incompatible")


def parse_go_mod(text: str, location: str = "") -> list[Package]:
    """`require` entries (after `replace` directives), plus `stdlib` at the `go`/`toolchain` version."""
    requires: dict[str, str] = {}
    replaces: dict[str, tuple[str, str | None]] = {}
    go_version: str | None = None
    block: str | None = None
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if block:
            if line == ")":
                block = None
                continue
            directive, rest = block, line
        else:
            directive, _, rest = line.partition(" ")
            rest = rest.strip()
            if rest == "(":
                block = directive
                continue
        words = rest.split()
        if directive == "go" and words:
            go_version = words[0]
        elif directive == "toolchain" and words and words[0].startswith("go"):
            go_version = words[0][2:]
        elif directive == "require" and len(words) >= 2:
            requires[words[0]] = words[1]
        elif directive == "replace" and "=>" in words:
            arrow = words.index("=>")
            left, right = words[:arrow], words[arrow + 1 :]
            if left and right:
                replaces[left[0]] = (right[0], right[1] if len(right) > 1 else None)
    out: list[Package] = []
    for module, version in requires.items():
        if module in replaces:
            new_module, new_version = replaces[module]
            if new_version is None:  # replaced by a local path: not a published module
                continue
            module, version = new_module, new_version
        out.append(Package(module, _go_version(version), "Go", location))
    if go_version:
        out.append(Package("stdlib", go_version, "Go", location))
    if not out and text.strip() and "module" not in text:
        raise InventoryError(location, "no module, go or require directive: not a go.mod")
    return out
