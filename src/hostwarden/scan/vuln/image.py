"""Container images: `docker save` tarballs and OCI layouts, unpacked into the final filesystem.

Layers are applied in order. A whiteout `.wh.NAME` deletes NAME from the layers below; an
opaque marker `.wh..wh..opq` empties its directory of everything the lower layers put there.
So the inventory sees exactly what a container started from the image would see, and a
vulnerable package deleted in an upper layer is not reported.

Extraction is defensive: absolute paths and `..` are refused, nothing is written through a
symlink, device nodes and FIFOs are skipped, and ownership/permissions of the host are never
touched beyond plain file modes. Damaged archives raise SCAN-9015.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import posixpath
import shutil
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hostwarden.core.errors import SCAN_IMAGE_INVALID, HostwardenError

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


@dataclass
class ImageInfo:
    source: str
    format: str
    tags: list[str] = field(default_factory=list)
    config_digest: str | None = None
    layers: list[str] = field(default_factory=list)


def _fail(path: Path | str, reason: str) -> HostwardenError:
    return HostwardenError(SCAN_IMAGE_INVALID, f"{path}: {reason}")


def _clean(name: str) -> str | None:
    """A layer member's path relative to the root, or None when it would escape it (`..`)."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _inside(root: Path, rel: str) -> Path | None:
    """The destination path, refusing anything whose parent resolves outside root (symlink tricks)."""
    target = root / rel
    parent = target.parent
    try:
        real_parent = parent.resolve()
    except OSError:
        return None
    if real_parent != root and root not in real_parent.parents:
        return None
    return target


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def apply_layer(root: Path, layer: IO[bytes], label: str) -> None:
    """Apply one layer tar stream (gzip or plain) onto `root`."""
    head = layer.read(2)
    layer.seek(0)
    stream: IO[bytes] = gzip.GzipFile(fileobj=layer) if head == b"\x1f\x8b" else layer  # type: ignore[assignment]
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                rel = _clean(member.name)
                if rel is None:
                    continue
                base = posixpath.basename(rel)
                parent_rel = posixpath.dirname(rel)
                if base == OPAQUE:
                    marker = _inside(root, rel)  # its parent is the folder to empty
                    if marker is not None and marker.parent.is_dir() and not marker.parent.is_symlink():
                        for child in list(marker.parent.iterdir()):
                            _remove(child)
                    continue
                if base.startswith(WHITEOUT):
                    victim = _inside(root, posixpath.join(parent_rel, base[len(WHITEOUT):]))
                    if victim is not None and (victim.exists() or victim.is_symlink()):
                        _remove(victim)
                    continue
                target = _inside(root, rel)
                if target is None:
                    continue
                if target.is_symlink() or (target.exists() and not (member.isdir() and target.is_dir())):
                    _remove(target)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.isreg():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    if src is not None:
                        with open(target, "wb") as out:
                            shutil.copyfileobj(src, out)
                        os.chmod(target, (member.mode & 0o777) | 0o600)
                elif member.issym():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(member.linkname, target)
                elif member.islnk():
                    source_rel = _clean(member.linkname)
                    source = _inside(root, source_rel) if source_rel else None
                    if source is not None and source.is_file() and not source.is_symlink():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(source, target)
                # devices, FIFOs: nothing a package scanner needs
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _fail(label, f"layer unreadable: {exc}") from exc


def _read_json(tar: tarfile.TarFile, name: str, label: str) -> Any:
    try:
        member = tar.getmember(name)
        handle = tar.extractfile(member)
        if handle is None:
            raise KeyError(name)
        return json.loads(handle.read())
    except (KeyError, ValueError) as exc:
        raise _fail(label, f"missing or unreadable {name}") from exc


def _blob_name(digest: str) -> str:
    algo, _, value = digest.partition(":")
    return f"blobs/{algo}/{value}"


def unpack(image: Path, dest: Path) -> ImageInfo:
    """Unpack a `docker save` tar or an OCI layout (folder or tar) into `dest`, layers applied in order."""
    try:
        return _unpack(image, dest)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise _fail(image, f"damaged archive ({type(exc).__name__}: {exc})") from exc


def _unpack(image: Path, dest: Path) -> ImageInfo:
    image = Path(image)
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    if image.is_dir():
        return _unpack_oci_dir(image, dest)
    with _open_tar(image) as tar:
        names = set(tar.getnames())
        if "manifest.json" in names:
            manifest = _read_json(tar, "manifest.json", str(image))
            if not isinstance(manifest, list) or not manifest or "Layers" not in manifest[0]:
                raise _fail(image, "manifest.json has no Layers")
            first = manifest[0]
            info = ImageInfo(str(image), "docker-save", list(first.get("RepoTags") or []),
                             "sha256:" + posixpath.basename(str(first.get("Config", ""))).removesuffix(".json"),
                             list(first["Layers"]))
            for layer_name in info.layers:
                _apply_member(tar, layer_name, dest, str(image))
            return info
        if "index.json" in names and "oci-layout" in names:
            index = _read_json(tar, "index.json", str(image))
            manifest = _read_json(tar, _blob_name(_first_manifest(index, image)), str(image))
            info = ImageInfo(str(image), "oci", _oci_tags(index), manifest.get("config", {}).get("digest"),
                             [layer["digest"] for layer in manifest.get("layers", [])])
            for digest in info.layers:
                _apply_member(tar, _blob_name(digest), dest, str(image))
            return info
    raise _fail(image, "neither a `docker save` archive (manifest.json) nor an OCI layout (index.json)")


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _fail(path, f"not a tar archive ({exc})") from exc


def _apply_member(tar: tarfile.TarFile, name: str, dest: Path, label: str) -> None:
    try:
        handle = tar.extractfile(tar.getmember(name))
    except KeyError as exc:
        raise _fail(label, f"layer {name} missing from the archive") from exc
    if handle is None:
        raise _fail(label, f"layer {name} is not a file")
    apply_layer(dest, io.BytesIO(handle.read()), f"{label}!{name}")


def _first_manifest(index: dict[str, Any], label: Path) -> str:
    manifests = index.get("manifests") or []
    if not manifests or "digest" not in manifests[0]:
        raise _fail(label, "index.json lists no manifest")
    return str(manifests[0]["digest"])


def _oci_tags(index: dict[str, Any]) -> list[str]:
    out = []
    for m in index.get("manifests") or []:
        tag = (m.get("annotations") or {}).get("org.opencontainers.image.ref.name")
        if tag:
            out.append(str(tag))
    return out


def _unpack_oci_dir(layout: Path, dest: Path) -> ImageInfo:
    try:
        index = json.loads((layout / "index.json").read_text(encoding="utf-8"))
        digest = _first_manifest(index, layout)
        manifest = json.loads((layout / _blob_name(digest)).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(layout, f"not an OCI layout ({exc})") from exc
    info = ImageInfo(str(layout), "oci", _oci_tags(index), manifest.get("config", {}).get("digest"),
                     [layer["digest"] for layer in manifest.get("layers", [])])
    for layer_digest in info.layers:
        path = layout / _blob_name(layer_digest)
        try:
            with open(path, "rb") as handle:
                apply_layer(dest, handle, str(path))
        except OSError as exc:
            raise _fail(path, f"layer unreadable: {exc}") from exc
    return info


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()
