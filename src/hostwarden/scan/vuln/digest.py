"""Container image digests, and the allowlist that says which images may run here.

Digests are *computed* from the bytes, never taken from file names or index entries, because a
tampered archive can claim any name:

* config digest: sha256 of the image config JSON. Docker calls it the image ID
  (`docker images --digests` / `docker inspect .Id`); it is the `Config` entry of a `docker save`
  manifest.json and `config.digest` of an OCI manifest.
* manifest digest: sha256 of the image manifest JSON, what a registry reference `name@sha256:…`
  pins (`RepoDigests`). OCI layouts have it (the manifest blob); `docker save` archives only
  when docker ≥ 25 also wrote an `index.json`.

An image is allowed when either digest is listed. The allowlist comes from the scan options
(`[scan.options]` in the config file): `image_allowlist = ["sha256:…", …]` and/or
`image_allowlist_file = "/etc/hostwarden/images.allow"`, a text file of one digest a line
(`# comments`, blank lines, and `name@sha256:…` references accepted). No allowlist configured:
no check. An unreadable allowlist fails closed: the image is reported as not verified.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostwarden.core.errors import CSA_CONFIG_INVALID, SCAN_IMAGE_INVALID, HostwardenError
from hostwarden.core.safeload import safe_json_loads
from hostwarden.scan.base import finding
from hostwarden.scan.safefiles import read_regular_file
from hostwarden.scan.vuln.image import blob_name as _blob_name

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MAX_JSON_BYTES = 16 << 20
RULE_ID = "hostwarden.image.digest_allowlist"


@dataclass
class ImageDigests:
    config_digest: str | None = None
    manifest_digest: str | None = None
    mismatches: list[str] = field(default_factory=list)  # names/index entries whose bytes hash differently

    @property
    def all(self) -> list[str]:
        return [d for d in (self.manifest_digest, self.config_digest) if d]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Source:
    """Member bytes of a tar or an OCI layout folder, size-capped (metadata is small; layers are not read)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tar = None if path.is_dir() else tarfile.open(path)  # noqa: SIM115 - closed in close()
        # `tar -C layout .` writes ./index.json: members are looked up without the leading ./
        self.members = {m.name.removeprefix("./"): m for m in self.tar.getmembers()} if self.tar else {}

    def has(self, name: str) -> bool:
        return name in self.members if self.tar else (self.path / name).is_file()

    def read(self, name: str) -> bytes:
        if self.tar is None:
            data = read_regular_file(self.path / name, MAX_JSON_BYTES + 1)
        else:
            handle = self.tar.extractfile(self.members[name])
            if handle is None:
                raise KeyError(name)
            data = handle.read(MAX_JSON_BYTES + 1)
        if len(data) > MAX_JSON_BYTES:
            raise ValueError(f"{name} is larger than {MAX_JSON_BYTES} bytes")
        return data

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()


def _verified(src: _Source, claimed: str, out: ImageDigests, what: str) -> tuple[str, bytes]:
    data = src.read(_blob_name(claimed))
    actual = _sha(data)
    if actual != claimed:
        out.mismatches.append(f"{what} {claimed} hashes to {actual}")
    return actual, data


def image_digests(image: Path) -> ImageDigests:
    """Config and manifest digests of a `docker save` tar or an OCI layout (folder or tar); SCAN-9015 if unreadable."""
    image = Path(image)
    try:
        src = _Source(image)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise HostwardenError(SCAN_IMAGE_INVALID, f"{image}: not a tar archive or OCI layout ({exc})") from exc
    out = ImageDigests()
    try:
        if src.has("index.json"):
            index = safe_json_loads(src.read("index.json"))
            claimed = str(index["manifests"][0]["digest"])
            out.manifest_digest, manifest_bytes = _verified(src, claimed, out, "manifest")
            manifest = safe_json_loads(manifest_bytes)
            if "manifests" in manifest:  # an image index (multi-platform): its first image manifest
                out.manifest_digest, manifest_bytes = _verified(src, str(manifest["manifests"][0]["digest"]), out,
                                                                "manifest")
                manifest = safe_json_loads(manifest_bytes)
            out.config_digest, _ = _verified(src, str(manifest["config"]["digest"]), out, "config")
        if src.has("manifest.json"):
            entry = safe_json_loads(src.read("manifest.json"))[0]
            config_name = str(entry["Config"])
            config = _sha(src.read(config_name))
            stem = Path(config_name).name.removesuffix(".json")
            if re.fullmatch(r"[0-9a-f]{64}", stem) and f"sha256:{stem}" != config:
                out.mismatches.append(f"config {config_name} hashes to {config}")
            out.config_digest = out.config_digest or config
        if not out.config_digest:
            raise ValueError("neither manifest.json nor index.json")
    except (KeyError, IndexError, TypeError, ValueError, OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        raise HostwardenError(SCAN_IMAGE_INVALID, f"{image}: cannot compute the image digest ({exc})") from exc
    finally:
        src.close()
    return out


def parse_allowlist(text: str, source: str) -> set[str]:
    """Digests of an allowlist file; a line that is not a sha256 digest is an error naming the line."""
    allowed: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        digest = line.split()[0].rpartition("@")[2].lower()
        if not _DIGEST.match(digest):
            raise HostwardenError(CSA_CONFIG_INVALID, f"{source}:{number}: {line!r} is not a sha256:<64 hex> digest")
        allowed.add(digest)
    return allowed


def load_allowlist(options: dict[str, Any]) -> tuple[set[str], list[str]] | None:
    """(digests, sources) from `image_allowlist` and `image_allowlist_file`; None when neither is set."""
    inline = options.get("image_allowlist")
    path = options.get("image_allowlist_file")
    if not inline and not path:
        return None
    allowed: set[str] = set()
    sources: list[str] = []
    if inline:
        entries = inline.split(",") if isinstance(inline, str) else list(inline)
        allowed |= parse_allowlist("\n".join(str(e) for e in entries), "scan.options.image_allowlist")
        sources.append("scan.options.image_allowlist")
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise HostwardenError(CSA_CONFIG_INVALID, f"image allowlist {path}: unreadable ({exc})") from exc
        allowed |= parse_allowlist(text, str(path))
        sources.append(str(path))
    return allowed, sources


def allowlist_finding(image: str, digests: ImageDigests, allowed: set[str], sources: list[str],
                      reason: str | None = None) -> dict[str, Any] | None:
    """An L2 finding when no digest of the image is allowed (or the allowlist could not be read)."""
    if reason is None and set(digests.all) & allowed:
        return None
    actual = digests.manifest_digest or digests.config_digest or "unknown"
    title = (f"image {image} could not be verified: {reason}" if reason
             else f"image {image} ({actual}) is not on the image allowlist")
    return finding(
        scanner="vuln", kind="configuration", title=title, severity="L2",
        evidence={"image": image, "expected": sorted(allowed), "allowlist": sources,
                  "actual": {"config_digest": digests.config_digest, "manifest_digest": digests.manifest_digest},
                  "digest_mismatches": digests.mismatches, **({"reason": reason} if reason else {})},
        fix="deploy an image whose digest is on the allowlist, or add this digest after reviewing the image",
        **{"rule.id": RULE_ID, "rule.name": "container image digest not allowlisted",
           "file.path": image,
           "hostwarden.priority_reason": reason or "unapproved container image"},
    )
