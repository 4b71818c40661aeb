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
from hostwarden.scan.baseline.host import usr_aliases
from hostwarden.scan.integrity_state import state_store
from hostwarden.scan.persistence_heuristics import judge, worst

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


def _read(p: Path) -> str | None:
    try:
        with p.open("rb") as fh:
            return fh.read(MAX_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def homes(root: Path) -> list[str]:
    """Home folders of every account in the root's passwd, plus /root."""
    found = {"/root"}
    passwd = _read(root / "etc/passwd") or ""
    for line in passwd.splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[5].startswith("/") and parts[5] not in ("/", "/nonexistent"):
            found.add(parts[5])
    return sorted(found)


def _packaged(root: Path) -> set[str]:
    owned: set[str] = set()
    info = root / "var/lib/dpkg/info"
    if info.is_dir():
        for lst in info.glob("*.list"):
            owned.update((_read(lst) or "").splitlines())
    return owned


def _files(root: Path, pattern: str) -> list[Path]:
    base = root / pattern.lstrip("/")
    if "*" not in pattern:
        return [base] if base.is_file() else []
    head = Path(pattern.lstrip("/"))
    parts = head.parts
    star = next(i for i, part in enumerate(parts) if "*" in part)
    folder = root.joinpath(*parts[:star])
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("/".join(parts[star:])) if p.is_file() or (p.is_symlink() and not p.is_dir()))


def inventory(root: Path) -> list[Item]:
    items: list[Item] = []
    packaged: set[str] | None = None
    seen: set[str] = set()

    def add(category: str, p: Path, host: str) -> None:
        real = str(p.parent.resolve() / p.name)  # /lib and /usr/lib are one folder on merged-/usr hosts
        if real in seen:
            return
        seen.add(real)
        if p.is_symlink():
            try:
                target = str(p.readlink())
            except OSError:
                target = "?"
            items.append(Item(category, host, f"symlink -> {target}"))
            return
        text = _read(p)
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
            for p in _files(root, pattern):
                host = "/" + p.relative_to(root).as_posix()
                if category == "systemd_packaged":
                    packaged = _packaged(root) if packaged is None else packaged
                    if not packaged or any(a in packaged for a in usr_aliases(host)):
                        continue
                    add("systemd", p, host)
                    continue
                add(category, p, host)
    for home in homes(root):
        for category, names in USER_FILES.items():
            for name in names:
                for p in _files(root, f"{home}/{name}"):
                    add(category, p, "/" + p.relative_to(root).as_posix())
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
        items = inventory(Path(ctx.root))
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
