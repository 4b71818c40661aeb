"""quarantine_file: move a file out of reach, keeping everything needed to put it back exactly.

The file is moved (never copied-and-deleted without a verified copy, never deleted) into
`<quarantine_dir>/<id>/content` with a manifest beside it: original path, SHA-256, size,
owner, group, mode, access and modification times (ns) and every extended attribute (values
base64). The quarantined copy is made unreadable (mode 000) and the folder root-only. `undo`
(restore) moves it back — refusing if something now occupies the original path — and
re-applies owner, mode, xattrs and times, then verifies the hash.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

from hostwarden.core.errors import RESP_RESTORE_CONFLICT, RESP_TARGET_INVALID, HostwardenError
from hostwarden.respond.actions.base import Action, ActionContext, Plan, Target
from hostwarden.respond.fileops import file_sha256
from hostwarden.respond.util import sha256_hex


def read_xattrs(path: Path) -> dict[str, str]:
    """Every extended attribute we can read (name → base64 value); none where unsupported."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for name in names:
        try:
            out[name] = base64.b64encode(os.getxattr(path, name, follow_symlinks=False)).decode()
        except OSError:
            continue
    return out


def snapshot(path: Path) -> dict[str, Any]:
    """What `restore` must reproduce: content hash and metadata of a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise HostwardenError(RESP_TARGET_INVALID, f"{path} does not exist") from None
    if not stat.S_ISREG(st.st_mode):
        raise HostwardenError(RESP_TARGET_INVALID, f"{path} is not a regular file (symlinks are not followed)")
    return {"sha256": file_sha256(path), "size": st.st_size, "uid": st.st_uid, "gid": st.st_gid,
            "mode": stat.S_IMODE(st.st_mode), "mtime_ns": st.st_mtime_ns, "atime_ns": st.st_atime_ns,
            "xattrs": read_xattrs(path), "dev": st.st_dev, "ino": st.st_ino}


class QuarantineFile(Action):
    name = "quarantine_file"
    target_kind = "path"
    default_field = "file.path"
    default_approval = "manual"

    def _folder(self, path: str, facts: dict[str, Any]) -> Path:
        qdir = self.settings.quarantine_dir
        assert qdir is not None, "settings must be resolved (RespondSettings.resolved)"
        return Path(qdir) / f"{facts['sha256'][:16]}-{sha256_hex(path)[:8]}-{facts['mtime_ns']}"

    def plan(self, target: Target, params: Any) -> Plan:
        facts = snapshot(Path(target.value))
        folder = self._folder(target.value, facts)
        facts["folder"] = str(folder)
        return Plan(self.name, target, params.model_dump(),
                    f"move {target.value} ({facts['size']} bytes, sha256 {facts['sha256'][:12]}…) into quarantine",
                    steps=[f"move {target.value} -> {folder}/content (mode 000; metadata in manifest.json)"],
                    ttl=params.ttl, facts=facts)

    def apply(self, plan: Plan, ctx: ActionContext) -> dict[str, Any]:
        src = Path(plan.target.value)
        now = snapshot(src)
        if (now["dev"], now["ino"], now["sha256"]) != (plan.facts["dev"], plan.facts["ino"], plan.facts["sha256"]):
            # changed since the plan (or replaced): quarantine what is there now, recorded as such
            now["changed_since_plan"] = True
        folder = Path(plan.facts["folder"])
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder.parent, 0o700)
        content = folder / "content"
        manifest = {"path": str(src), **{k: v for k, v in now.items() if k not in ("dev", "ino")}}
        ctx.files.write_atomic(folder / "manifest.json", json.dumps(manifest, indent=1).encode(), mode=0o600)
        ctx.files.move(src, content, expected_sha256=now["sha256"])
        os.chmod(content, 0)
        return {"folder": str(folder), "manifest": manifest}

    def undo(self, plan: Plan, undo: dict[str, Any], ctx: ActionContext) -> str | None:
        """Restore: the original bytes, owner, mode, xattrs and times, at the original path."""
        m = undo["manifest"]
        dst, content = Path(m["path"]), Path(undo["folder"]) / "content"
        if os.path.lexists(dst):
            raise HostwardenError(RESP_RESTORE_CONFLICT, f"{dst} exists again; the quarantined copy stays in {content}")
        if file_sha256(content) != m["sha256"]:
            raise HostwardenError(RESP_RESTORE_CONFLICT, f"{content} no longer matches its recorded hash; not restored")
        ctx.files.move(content, dst, expected_sha256=m["sha256"])
        os.chown(dst, m["uid"], m["gid"], follow_symlinks=False)
        os.chmod(dst, m["mode"])  # after chown, which clears set-id bits
        failed = []
        for name in sorted(set(os.listxattr(dst)) - set(m["xattrs"])):
            os.removexattr(dst, name)  # an attribute the copy gained (e.g. on a cross-fs move)
        for name, value in m["xattrs"].items():
            try:
                os.setxattr(dst, name, base64.b64decode(value))
            except OSError as exc:
                failed.append(f"{name}: {exc.strerror}")
        os.utime(dst, ns=(m["atime_ns"], m["mtime_ns"]), follow_symlinks=False)
        return f"restored without xattrs {'; '.join(failed)}" if failed else None

    def reassert(self, plan: Plan, undo: dict[str, Any], ctx: ActionContext, remaining: float | None) -> dict[str, Any]:
        return undo  # the file stays where it is; nothing to redo
