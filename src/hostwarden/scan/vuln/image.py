"""Container images: `docker save` tarballs and OCI layouts, unpacked into the final filesystem.

Layers are applied in order. A whiteout `.wh.NAME` deletes NAME from the layers below; an
opaque marker `.wh..wh..opq` empties its directory of everything the lower layers put there.
So the inventory sees exactly what a container started from the image would see, and a
vulnerable package deleted in an upper layer is not reported.

Extraction is defensive, because an image is attacker-shaped input:

* paths: absolute paths and `..` are refused; a member's folder is resolved inside the
  extracted tree as the container would see it (its absolute symlinks re-rooted, scan/rootfs.py),
  and files are created O_EXCL|O_NOFOLLOW, so nothing is ever written through a link or outside;
* whiteouts name one entry (never `.`, `..` or a path), in a folder reached without links,
  and never the extracted root itself;
* size: layers are streamed (never read into memory whole); bytes inflated and written per
  layer are capped at `max(MIN_LAYER_BYTES, LAYER_RATIO × the layer's stored size)`, all layers
  together at `MAX_IMAGE_BYTES`, members at `MAX_MEMBERS` (SCAN-9033: a 1 MB layer cannot
  write 1 GB); a hard link becomes a link, never a copy;
* device nodes and FIFOs are skipped, and ownership/permissions of the host are never touched
  beyond plain file modes. Damaged archives raise SCAN-9015.

The extraction folder comes from `workdir.image_workdir()`, which removes it however the scan
ends (normally, by an exception, or by SIGTERM/SIGINT); see workdir.py.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import posixpath
import re
import stat
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hostwarden.core.errors import SCAN_ARCHIVE_LIMIT, SCAN_IMAGE_INVALID, HostwardenError
from hostwarden.core.safeload import safe_json_loads
from hostwarden.scan.rootfs import RootFS
from hostwarden.scan.safefiles import remove_tree

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_JSON_BYTES = 16 << 20
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,256}$")
_COPY_BLOCK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """How much an image may expand to; see the module docstring."""

    layer_ratio: int = 100  # gzip of text is ~10x; zero-filled files are why it is not 20
    min_layer_bytes: int = 64 << 20
    image_bytes: int = 16 << 30
    members: int = 1_000_000

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Limits:
        """Limits from scan options `image_layer_ratio`, `image_max_bytes`, `image_max_members`."""
        base = cls()
        return cls(layer_ratio=int(options.get("image_layer_ratio", base.layer_ratio)),
                   min_layer_bytes=base.min_layer_bytes,
                   image_bytes=int(options.get("image_max_bytes", base.image_bytes)),
                   members=int(options.get("image_max_members", base.members)))


@dataclass
class ImageInfo:
    source: str
    format: str
    tags: list[str] = field(default_factory=list)
    config_digest: str | None = None
    layers: list[str] = field(default_factory=list)


def _fail(path: Path | str, reason: str) -> HostwardenError:
    return HostwardenError(SCAN_IMAGE_INVALID, f"{path}: {reason}")


def _limit(label: str, reason: str) -> HostwardenError:
    return HostwardenError(SCAN_ARCHIVE_LIMIT, f"{label}: {reason}; the image was not scanned")


def _clean(name: str) -> str | None:
    """A layer member's path relative to the root, or None when it would escape it (`..`)."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


class _Budget:
    """Bytes and members an image may still use, shared by all its layers."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.bytes_left = limits.image_bytes
        self.members_left = limits.members
        self.layer_left = 0
        self.label = ""

    def start_layer(self, stored: int, label: str) -> None:
        self.layer_left = max(self.limits.min_layer_bytes, self.limits.layer_ratio * max(stored, 0))
        self.label = label

    def spend(self, n: int) -> None:
        self.layer_left -= n
        self.bytes_left -= n
        if self.layer_left < 0:
            raise _limit(self.label, f"layer expands beyond {self.limits.layer_ratio}x its stored size "
                                     f"(and over {self.limits.min_layer_bytes} bytes): a decompression bomb")
        if self.bytes_left < 0:
            raise _limit(self.label, f"image expands beyond {self.limits.image_bytes} bytes")

    def member(self) -> None:
        self.members_left -= 1
        if self.members_left < 0:
            raise _limit(self.label, f"more than {self.limits.members} archive members")


class _Counted:
    """A read-only stream that charges every byte read (inflated tar data, headers included) to a budget."""

    def __init__(self, raw: IO[bytes], budget: _Budget) -> None:
        self.raw = raw
        self.budget = budget

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size is not None and size >= 0 else _COPY_BLOCK)
        self.budget.spend(len(data))
        return data


class _Tree:
    """Writes into the extracted root, resolving folders inside it (scan/rootfs.py) and never through links."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fs = RootFS(root)
        self.dirs: dict[str, Path] = {"": root}

    def forget(self) -> None:
        self.dirs = {"": self.root}

    def folder(self, rel: str, create: bool) -> Path | None:
        """The real folder a member's parent path names inside the root (created when asked)."""
        if rel in self.dirs:
            return self.dirs[rel]
        parent = self.folder(posixpath.dirname(rel), create) if "/" in rel else self.root
        if parent is None:
            return None
        local = self.fs.local("/" + rel)
        if local is None:
            return None
        try:
            st = os.lstat(local)
        except FileNotFoundError:
            if not create:
                return None
            try:
                os.mkdir(local, 0o755)
            except OSError:
                return None
        else:
            if not stat.S_ISDIR(st.st_mode):
                if not create:
                    return None
                remove_tree(local)  # a file where a folder is now wanted: the upper layer wins
                try:
                    os.mkdir(local, 0o755)
                except OSError:
                    return None
        if local != self.root and self.root not in local.parents:
            return None
        self.dirs[rel] = local
        return local

    def plain_folder(self, rel: str) -> Path | None:
        """The folder at `rel` only if no component of it is a symlink (for whiteouts)."""
        current = self.root
        for part in [p for p in rel.split("/") if p]:
            current = current / part
            try:
                if not stat.S_ISDIR(os.lstat(current).st_mode):
                    return None
            except OSError:
                return None
        return current


def _whiteout(tree: _Tree, parent_rel: str, name: str) -> None:
    """Delete one entry a whiteout names: a plain name, in a folder reached without links, never the root."""
    if name in ("", ".", "..") or "/" in name:
        return
    folder = tree.plain_folder(parent_rel)
    if folder is None:
        return
    victim = folder / name
    if victim == tree.root or os.path.lexists(victim) is False:
        return
    remove_tree(victim)
    tree.forget()


def _opaque(tree: _Tree, parent_rel: str) -> None:
    folder = tree.plain_folder(parent_rel)
    if folder is None:
        return
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for child in names:
        remove_tree(folder / child)
    tree.forget()


def _write_file(target: Path, src: IO[bytes], mode: int, budget: _Budget) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        while block := src.read(_COPY_BLOCK):
            budget.spend(len(block))
            out.write(block)
    os.chmod(target, (mode & 0o777) | 0o600)


def apply_layer(root: Path, layer: IO[bytes], label: str, budget: _Budget | None = None, stored: int = 0) -> None:
    """Apply one layer tar stream (gzip or plain) onto `root`, within the budget (SCAN-9033 past it)."""
    budget = budget or _Budget(Limits())
    budget.start_layer(stored, label)
    tree = _Tree(Path(root))
    head = layer.read(2)
    layer.seek(0)
    raw: IO[bytes] = gzip.GzipFile(fileobj=layer) if head == b"\x1f\x8b" else layer  # type: ignore[assignment]
    stream = _Counted(raw, budget)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[arg-type]
            for member in tar:
                budget.member()
                _apply_member_entry(tree, tar, member, budget)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _fail(label, f"layer unreadable: {exc}") from exc


def _apply_member_entry(tree: _Tree, tar: tarfile.TarFile, member: tarfile.TarInfo, budget: _Budget) -> None:
    rel = _clean(member.name)
    if rel is None:
        return
    base = posixpath.basename(rel)
    parent_rel = posixpath.dirname(rel)
    if base == OPAQUE:
        _opaque(tree, parent_rel)
        return
    if base.startswith(WHITEOUT):
        _whiteout(tree, parent_rel, base[len(WHITEOUT):])
        return
    if not (member.isdir() or member.isreg() or member.issym() or member.islnk()):
        return  # devices, FIFOs: nothing a package scanner needs
    folder = tree.folder(parent_rel, create=True)
    if folder is None:
        return
    target = folder / base
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not (member.isdir() and stat.S_ISDIR(st.st_mode)):
        remove_tree(target)
        if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
            tree.forget()
    if member.isdir():
        if st is None or not stat.S_ISDIR(st.st_mode):
            os.mkdir(target, 0o755)
    elif member.isreg():
        src = tar.extractfile(member)
        if src is not None:
            _write_file(target, src, member.mode, budget)
    elif member.issym():
        os.symlink(member.linkname, target)  # read later through the resolver: absolute targets stay inside
    else:
        _hardlink(tree, member, target)


def _hardlink(tree: _Tree, member: tarfile.TarInfo, target: Path) -> None:
    """A hard link to an earlier regular file of the image: linked, never copied (no size blow-up)."""
    source_rel = _clean(member.linkname)
    if source_rel is None:
        return
    folder = tree.folder(posixpath.dirname(source_rel), create=False)
    if folder is None:
        return
    source = folder / posixpath.basename(source_rel)
    try:
        if stat.S_ISREG(os.lstat(source).st_mode):
            os.link(source, target, follow_symlinks=False)
    except OSError:
        return


def _read_json(tar: tarfile.TarFile, name: str, label: str) -> Any:
    try:
        member = tar.getmember(name)
        if member.size > MAX_JSON_BYTES:
            raise ValueError(f"{name} is {member.size} bytes")
        handle = tar.extractfile(member)
        if handle is None:
            raise KeyError(name)
        return safe_json_loads(handle.read(MAX_JSON_BYTES + 1), max_bytes=MAX_JSON_BYTES)
    except (KeyError, ValueError) as exc:
        raise _fail(label, f"missing or unreadable {name} ({exc})") from exc


def blob_name(digest: str) -> str:
    """`blobs/<algo>/<hex>` of a digest; anything else (`sha256:../../etc/passwd`) is SCAN-9015."""
    if not _DIGEST.match(str(digest)):
        raise _fail("image", f"digest {str(digest)[:80]!r} is not <algorithm>:<hex>")
    algo, _, value = str(digest).partition(":")
    return f"blobs/{algo}/{value}"


def unpack(image: Path, dest: Path, limits: Limits | None = None) -> ImageInfo:
    """Unpack a `docker save` tar or an OCI layout (folder or tar) into `dest`, layers applied in order.

    SCAN-9015 for a damaged image, SCAN-9033 for one that expands beyond `limits`.
    """
    budget = _Budget(limits or Limits())
    try:
        return _unpack(Path(image), dest, budget)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise _fail(image, f"damaged archive ({type(exc).__name__}: {exc})") from exc


def _names(tar: tarfile.TarFile, budget: _Budget, label: str) -> set[str]:
    """Member names of the outer archive, counted against the member limit (it may hold millions)."""
    names: set[str] = set()
    budget.label = label
    for member in tar:
        budget.member()
        names.add(member.name.removeprefix("./"))
    return names


def _unpack(image: Path, dest: Path, budget: _Budget) -> ImageInfo:
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    if image.is_dir():
        return _unpack_oci_dir(image, dest, budget)
    with _open_tar(image) as tar:
        names = _names(tar, budget, str(image))
        if "manifest.json" in names:
            manifest = _read_json(tar, "manifest.json", str(image))
            if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict) \
                    or not isinstance(manifest[0].get("Layers"), list):
                raise _fail(image, "manifest.json has no Layers")
            first = manifest[0]
            info = ImageInfo(str(image), "docker-save", [str(t) for t in first.get("RepoTags") or []],
                             "sha256:" + posixpath.basename(str(first.get("Config", ""))).removesuffix(".json"),
                             [str(layer) for layer in first["Layers"]])
            for layer_name in info.layers:
                _apply_member(tar, layer_name, dest, str(image), budget)
            return info
        if "index.json" in names and "oci-layout" in names:
            index = _read_json(tar, "index.json", str(image))
            manifest = _read_json(tar, blob_name(_first_manifest(index, image)), str(image))
            info = ImageInfo(str(image), "oci", _oci_tags(index), _config_digest(manifest), _layer_digests(manifest))
            for digest in info.layers:
                _apply_member(tar, blob_name(digest), dest, str(image), budget)
            return info
    raise _fail(image, "neither a `docker save` archive (manifest.json) nor an OCI layout (index.json)")


def _config_digest(manifest: Any) -> str | None:
    config = manifest.get("config") if isinstance(manifest, dict) else None
    return str(config["digest"]) if isinstance(config, dict) and config.get("digest") else None


def _layer_digests(manifest: Any) -> list[str]:
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    if not isinstance(layers, list) or not all(isinstance(x, dict) and "digest" in x for x in layers):
        raise _fail("image", "manifest has no valid `layers` list")
    return [str(x["digest"]) for x in layers]


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _fail(path, f"not a tar archive ({exc})") from exc


def _apply_member(tar: tarfile.TarFile, name: str, dest: Path, label: str, budget: _Budget) -> None:
    """Stream one layer member of the outer archive (never read whole into memory)."""
    try:
        member = tar.getmember(name)
    except KeyError as exc:
        raise _fail(label, f"layer {name} missing from the archive") from exc
    handle = tar.extractfile(member)
    if handle is None:
        raise _fail(label, f"layer {name} is not a file")
    apply_layer(dest, handle, f"{label}!{name}", budget, member.size)


def _first_manifest(index: Any, label: Path) -> str:
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests or not isinstance(manifests[0], dict) \
            or "digest" not in manifests[0]:
        raise _fail(label, "index.json lists no manifest")
    return str(manifests[0]["digest"])


def _oci_tags(index: dict[str, Any]) -> list[str]:
    out = []
    for m in index.get("manifests") or []:
        tag = (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") if isinstance(m, dict) else None
        if tag:
            out.append(str(tag))
    return out


def _layout_json(layout: Path, name: str) -> Any:
    from hostwarden.scan.safefiles import read_regular_file

    return safe_json_loads(read_regular_file(layout / name, MAX_JSON_BYTES), max_bytes=MAX_JSON_BYTES)


def _unpack_oci_dir(layout: Path, dest: Path, budget: _Budget) -> ImageInfo:
    try:
        index = _layout_json(layout, "index.json")
        manifest = _layout_json(layout, blob_name(_first_manifest(index, layout)))
    except (OSError, ValueError) as exc:
        raise _fail(layout, f"not an OCI layout ({exc})") from exc
    info = ImageInfo(str(layout), "oci", _oci_tags(index), _config_digest(manifest), _layer_digests(manifest))
    for layer_digest in info.layers:
        path = layout / blob_name(layer_digest)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            with os.fdopen(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise _fail(path, "layer blob is not a regular file")
                apply_layer(dest, handle, str(path), budget, st.st_size)
        except OSError as exc:
            raise _fail(path, f"layer unreadable: {exc}") from exc
    return info


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()
