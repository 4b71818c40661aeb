"""The firewall part of `hostwarden scan`: analyse the host's saved rules under the scan root.

Reads `etc/iptables/rules.v4`, `etc/iptables/rules.v6` and nftables JSON (`etc/nftables.json`,
`etc/nftables/*.json`). A file that cannot be parsed becomes a notice with its FW- code; the
other files are still analysed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hostwarden.core.errors import HostwardenError
from hostwarden.scan.base import ScanContext, finding
from hostwarden.scan.firewall.loader import load_file
from hostwarden.scan.firewall.report import full_analysis

CANDIDATES = (("etc/iptables/rules.v4", "iptables"), ("etc/iptables/rules.v6", "ip6tables"),
              ("etc/nftables.json", "nft"))
CATEGORY = {"anomaly": "configuration", "exposure": "network", "health-check": "network"}


def rule_files(root: Path) -> list[tuple[Path, str]]:
    found = [(root / rel, fmt) for rel, fmt in CANDIDATES if (root / rel).is_file()]
    nft_dir = root / "etc" / "nftables"
    if nft_dir.is_dir():
        found += [(p, "nft") for p in sorted(nft_dir.glob("*.json")) if p.is_file()]
    return found


class FirewallScanner:
    name = "firewall"

    def __init__(self) -> None:
        self.summary: dict[str, Any] = {}

    def scan(self, ctx: ScanContext) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        files = rule_files(ctx.root)
        self.summary = {"files": len(files)}
        for path, fmt in files:
            try:
                report = full_analysis(load_file(path, fmt))
            except HostwardenError as exc:
                ctx.notice(exc.code.code, exc.message, path=str(path))
                continue
            rel = "/" + str(path.relative_to(ctx.root))
            for note in report["notices"]:
                if "code" in note:
                    ctx.notice(note["code"], note["message"], path=rel)
            for f in report["findings"]:
                evidence = {k: v for k, v in f.items() if k not in ("message", "grade", "category")}
                out.append(finding(
                    scanner=self.name, kind=CATEGORY.get(f["category"], "configuration"),
                    title=f"{rel}: {f['message']}", severity=f["grade"], evidence=evidence,
                    **{"file.path": rel, "rule.id": f"firewall.{f['type']}", "rule.name": f"firewall.{f['type']}",
                       "event.action": f["type"]},
                ))
        return out
