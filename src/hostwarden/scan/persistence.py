"""Inventory every place a program can be made to start again, judge each entry, report drift.

Cron (system, cron.d, cron.*, user crontabs), at jobs, systemd units and timers (system and
per-user), init.d and rc.local, shell start-up files of every user, authorized_keys (one entry
per key), ld.so.preload, sudoers, kernel modules loaded at boot (and modprobe `install` hooks),
the PAM stack, udev rules and MOTD scripts. Each entry is fingerprinted (SHA-256 of its content)
and remembered through `StateStore`, so the next scan reports what was added, changed or removed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostwarden.scan.base import ScanContext, finding
from hostwarden.scan.baseline.host import dpkg_owned_files, usr_aliases
from hostwarden.scan.integrity_state import state_store
from hostwarden.scan.persistence_heuristics import judge, worst
from hostwarden.scan.rootfs import RootFS

MAX_BYTES = 1024 * 1024

# category → host-path globs (files); `**` recurses.
LOCATIONS: dict[str, list[str]] = {
    "cron": ["/etc/crontab", "/etc/cron.d/*", "/etc/cron.hourly/*", "/etc/cron.daily/*", "/etc/cron.weekly/*",
             "/etc/cron.monthly/*", "/var/spool/cron/crontabs/*", "/var/spool/cron/*", "/etc/anacrontab"],
    "at": ["/var/spool/cron/atjobs/*", "/var/spool/at/*"],
    "systemd": ["/etc/systemd/system/**/*", "/etc/systemd/user/**/*", "/usr/local/lib/systemd/system/*",
                "/run/systemd/system/*", "/etc/systemd/system.conf.d/*"],
    "systemd_packaged": ["/lib/systemd/system/*", "/usr/lib/systemd/system/*"],
    "initd": ["/etc/init.d/*", "/etc/rc.local"],
    "shell": ["/etc/profile", "/etc/profile.d/*", "/etc/bash.bashrc", "/etc/environment", "/etc/zsh/zshrc"],
    "preload": ["/etc/ld.so.preload"],
    "sudoers": ["/etc/sudoers", "/etc/sudoers.d/*"],
    "modules": ["/etc/modules", "/etc/modules-load.d/*", "/etc/modprobe.d/*"],
    "pam": ["/etc/pam.d/*"],
    "udev": ["/etc/udev/rules.d/*"],
    "motd": ["/etc/update-motd.d/*"],
}
USER_FILES = {
    "shell": [".bashrc", ".profile", ".bash_profile", ".bash_login", ".bash_logout", ".zshrc"],
    "systemd": [".config/systemd/user/*", ".config/systemd/user/**/*"],
    "ssh_keys": [".ssh/authorized_keys", ".ssh/authorized_keys2"],
}


@dataclass
class Item:
    category: str
    path: str
    content: str
    key_suffix: str = ""
    reasons: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.category}:{self.path}{self.key_suffix}"

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.content.encode("utf-8", "surrogateescape")).hexdigest()


def homes(fs: RootFS) -> list[str]:
    """Home folders of every account in the root's passwd, plus /root."""
    found = {"/root"}
    passwd = fs.read_text("/etc/passwd") or ""
    for line in passwd.splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[5].startswith("/") and parts[5] not in ("/", "/nonexistent"):
            found.add(parts[5])
    return sorted(found)


def _files(fs: RootFS, pattern: str) -> list[str]:
    """Host paths of files (or links that are not folders) matching a pattern, resolved in the root."""
    if "*" not in pattern:
        return [pattern] if fs.is_file(pattern) else []
    return [p for p in fs.glob(pattern, hidden=True) if fs.is_file(p) or (fs.is_symlink(p) and not fs.is_dir(p))]


def inventory(root: Path | RootFS) -> list[Item]:
    fs = root if isinstance(root, RootFS) else RootFS(Path(root))
    items: list[Item] = []
    packaged: set[str] | None = None
    seen: set[str] = set()

    def add(category: str, host: str) -> None:
        parent, _, name = host.rpartition("/")
        real_parent = fs.local(parent or "/")  # /lib and /usr/lib are one folder on merged-/usr hosts
        real = f"{real_parent}/{name}" if real_parent is not None else host
        if real in seen:
            return
        seen.add(real)
        if fs.is_symlink(host):
            items.append(Item(category, host, f"symlink -> {fs.readlink(host) or '?'}"))
            return
        text = fs.read_text(host, limit=MAX_BYTES)
        if text is None:
            return
        if category == "ssh_keys":
            for line in text.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    items.append(Item(category, host, line.strip(), key_suffix=f"#{_key_id(line)}"))
            return
        items.append(Item(category, host, text))

    for category, patterns in LOCATIONS.items():
        for pattern in patterns:
            for host in _files(fs, pattern):
                if category == "systemd_packaged":
                    packaged = dpkg_owned_files(fs) if packaged is None else packaged
                    if not packaged or any(a in packaged for a in usr_aliases(host)):
                        continue
                    add("systemd", host)
                    continue
                add(category, host)
    for home in homes(fs):
        for category, names in USER_FILES.items():
            for name in names:
                for host in _files(fs, f"{home}/{name}"):
                    add(category, host)
    for item in items:
        item.reasons = judge(item.category, item.content)
        if item.category == "systemd" and item.path.startswith(("/lib/", "/usr/lib/")):
            item.reasons.append(("unpackaged_unit", "L2", "unit file in a package folder but owned by no package"))
    return items


def _key_id(line: str) -> str:
    """Identify an authorized key by its base64 body (stable when options or the comment change)."""
    for word in line.split():
        if word.startswith("AAAA"):
            return hashlib.sha256(word.encode()).hexdigest()[:16]
    return hashlib.sha256(line.encode()).hexdigest()[:16]


class PersistenceScanner:
    name = "persistence"

    def __init__(self) -> None:
        self.summary: dict[str, Any] = {}

    def scan(self, ctx: ScanContext) -> list[dict[str, Any]]:
        items = inventory(ctx.fs)
        store = state_store(ctx)
        previous = store.load("persistence") if store else None
        current = {i.key: {"fp": i.fingerprint, "category": i.category, "path": i.path} for i in items}
        out: list[dict[str, Any]] = []
        old = (previous or {}).get("items", {})
        for item in items:
            change = None
            if previous is not None:
                if item.key not in old:
                    change = "added"
                elif old[item.key]["fp"] != item.fingerprint:
                    change = "changed"
            if change or item.reasons:
                out.append(_finding(item, change))
        if previous is not None:
            for key, meta in sorted(old.items()):
                if key not in current:
                    out.append(finding(
                        scanner=self.name, kind="configuration", severity="L3",
                        title=f"persistence removed: {meta['category']} {meta['path']}",
                        evidence={"category": meta["category"], "path": meta["path"], "drift": "removed"},
                        **{"rule.id": "persistence.removed", "rule.name": "persistence removed",
                           "event.action": "persistence-removed", "file.path": meta["path"]}))
        if store:
            store.save("persistence", {"items": current})
        by_cat: dict[str, int] = {}
        for i in items:
            by_cat[i.category] = by_cat.get(i.category, 0) + 1
        self.summary = {"items": len(items), "by_category": by_cat, "suspicious": sum(bool(i.reasons) for i in items),
                        "baseline": previous is None}
        return out


def rule_id(item: Item, change: str | None) -> str:
    """The finding's stable id: its most severe heuristic (first listed on a tie), else the drift kind."""
    if item.reasons:
        return f"persistence.{min(item.reasons, key=lambda r: r[1])[0]}"
    return f"persistence.{change or 'suspicious'}"


def _finding(item: Item, change: str | None) -> dict[str, Any]:
    grade = worst([g for _, g, _ in item.reasons] + (["L3"] if change else []))
    flags = [r[0] for r in item.reasons]
    what = f"persistence {change}" if change else "suspicious persistence"
    return finding(
        scanner="persistence", kind="configuration", severity=grade,
        title=f"{what}: {item.category} {item.path}" + (f" ({', '.join(flags)})" if flags else ""),
        evidence={"category": item.category, "path": item.path, "drift": change, "fingerprint": item.fingerprint,
                  "flags": [{"heuristic": n, "grade": g, "snippet": s} for n, g, s in item.reasons],
                  "snippet": item.content[:300]},
        **{"rule.id": rule_id(item, change), "rule.name": what, "event.action": f"persistence-{change or 'suspicious'}",
           "file.path": item.path,
           "hostwarden.fix": "Check who created this entry and why; remove it if unknown, then rotate credentials."},
    )
