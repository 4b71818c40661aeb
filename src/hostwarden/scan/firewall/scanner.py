"""The firewall part of `hostwarden scan`: analyse the host's saved rules under the scan root.

Reads `etc/iptables/rules.v4`, `etc/iptables/rules.v6` and nftables JSON (`etc/nftables.json`,
`etc/nftables/*.json`). A file that cannot be parsed becomes a notice with its FW- code; the
other files are still analysed.
"""

from __future__ import annotations

from typing import Any

from hostwarden.core.errors import HostwardenError
from hostwarden.scan.base import ScanContext, finding
from hostwarden.scan.firewall.loader import load_from_root
from hostwarden.scan.firewall.report import full_analysis
from hostwarden.scan.rootfs import RootFS

CANDIDATES = (("etc/iptables/rules.v4", "iptables"), ("etc/iptables/rules.v6", "ip6tables"),
              ("etc/nftables.json", "nft"))
CATEGORY = {"anomaly": "configuration", "exposure": "network", "health-check": "network"}


def rule_files(fs: RootFS) -> list[tuple[str, str]]:
    """(host path, format) of the saved rule files under the root, resolved inside it."""
    found = [("/" + rel, fmt) for rel, fmt in CANDIDATES if fs.is_file("/" + rel)]
    found += [(p, "nft") for p in fs.glob("/etc/nftables/*.json") if fs.is_file(p)]
    return found


class FirewallScanner:
    name = "firewall"

    def __init__(self) -> None:
        self.summary: dict[str, Any] = {}

    def scan(self, ctx: ScanContext) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        files = rule_files(ctx.fs)
        self.summary = {"files": len(files)}
        for rel, fmt in files:
            try:
                rules = load_from_root(ctx.fs, rel, fmt)
                if rules is None:
                    continue
                report = full_analysis(rules)
            except HostwardenError as exc:
                ctx.notice(exc.code.code, exc.message, path=rel)
                continue
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
