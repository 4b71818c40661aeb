"""The `vuln` scanner: inventory under the root, matched against the advisory database.

Advisories come from `ctx.options["advisories"]` (a path imported into memory for this run
only) or the database in the data dir. Findings are ECS-shaped (`package.*`,
`vulnerability.*`) with the evidence that produced them; stale or missing advisory data and
unreadable inventories become notices with SCAN- codes, never silent gaps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hostwarden.core.errors import (
    SCAN_ADVISORY_INVALID,
    SCAN_INVENTORY_INVALID,
    SCAN_NO_ADVISORIES,
    HostwardenError,
)
from hostwarden.core.safeload import safe_json_loads
from hostwarden.scan.base import ScanContext, finding
from hostwarden.scan.rootfs import RootFS
from hostwarden.scan.safefiles import read_regular_file
from hostwarden.scan.vuln import digest, supply
from hostwarden.scan.vuln.db import DB_NAME, AdvisoryDB
from hostwarden.scan.vuln.freshness import DEFAULT_MAX_AGE_DAYS, assess
from hostwarden.scan.vuln.image import Limits, unpack
from hostwarden.scan.vuln.inventory.files import Inventory, collect
from hostwarden.scan.vuln.inventory.model import Package
from hostwarden.scan.vuln.loader import LoadError, iter_records
from hostwarden.scan.vuln.match import Match, match_packages
from hostwarden.scan.vuln.workdir import image_workdir


def matchable(pkg: Package) -> bool:
    """Only exact versions are matched: a `>=` line in requirements.txt says nothing installed."""
    if not pkg.version:
        return False
    op = pkg.extra.get("operator")
    return op in (None, "==", "===")


def open_advisories(ctx: ScanContext) -> AdvisoryDB | None:
    source = ctx.options.get("advisories")
    if source:
        db = AdvisoryDB(":memory:")
        errors: list[LoadError] = []
        paths = [Path(p) for p in str(source).split(",")]
        catalogs = [p for p in paths if is_kev_catalog(p)]
        db.import_records(iter_records([p for p in paths if p not in catalogs], errors))
        for catalog in catalogs:  # CISA's KEV catalog beside the advisories: the same marks as vulndb import-kev
            try:
                db.import_kev(safe_json_loads(read_regular_file(catalog, KEV_MAX_BYTES)))
            except (OSError, ValueError) as exc:
                errors.append(LoadError(str(catalog), f"KEV catalog unreadable: {exc}"))
        for err in errors[:20]:
            ctx.notice(SCAN_ADVISORY_INVALID.code, f"{err.source}: {err.reason}")
        return db
    # The CLI passes the configured data dir as `advisory_dir` (its --config may move it) while
    # leaving ctx.data_dir unset, so scanned logs go to a scratch store, not the user's one.
    data_dir = ctx.data_dir or ctx.options.get("advisory_dir") or _default_data_dir()
    path = Path(data_dir) / DB_NAME
    if not path.exists():
        return None
    return AdvisoryDB(path)


KEV_MAX_BYTES = 64 << 20


def is_kev_catalog(path: Path) -> bool:
    """CISA's known_exploited_vulnerabilities.json (or a copy under another name): a JSON file
    whose first bytes name its catalog fields, not an OSV record."""
    if path.suffix != ".json" or not path.is_file():
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b'"catalogVersion"' in head or (b'"vulnerabilities"' in head and b'"cveID"' in head)


def _default_data_dir() -> Path:
    from hostwarden.core.config import load_config

    return load_config().data_dir


# What a finding's title says when no fixed version is known, per match status.
NO_FIX_TEXT = {"unfixed": "no fix yet", "will-not-fix": "the distribution will not fix it",
               "end-of-life": "release end-of-life: no fix will come", "fixed": "fixed version not stated"}


def fix_text(m: Match) -> str:
    """`fixed in X`, or what the status says when no version is known (never "fixed in None")."""
    if m.fixed and str(m.fixed) not in ("None", "null"):
        return f"fixed in {m.fixed}"
    return NO_FIX_TEXT.get(m.status, m.status or "no fix yet")


def to_finding(m: Match) -> dict[str, Any]:
    pkg = m.package
    cves = [a for a in [m.advisory_id, *m.aliases] if a.startswith("CVE-")]
    title = f"{'malicious package' if m.malicious else m.advisory_id} in {pkg.name} {pkg.version} ({fix_text(m)})"
    evidence: dict[str, Any] = {
        "package": pkg.to_dict(), "advisory": m.advisory_id, "aliases": m.aliases, "status": m.status,
        "fixed_version": m.fixed, "last_affected": m.last_affected, "matched_by": m.reason,
        "priority_reason": m.priority.reason, "references": m.references,
    }
    fields: dict[str, Any] = {
        "package.name": pkg.name, "package.version": pkg.version, "package.type": pkg.ecosystem,
        "package.path": pkg.location or None,
        "vulnerability.id": m.advisory_id, "vulnerability.enumeration": m.advisory_id.split("-", 1)[0],
        "vulnerability.description": m.summary, "vulnerability.reference": m.references[0] if m.references else None,
        "vulnerability.scanner.vendor": "hostwarden", "vulnerability.category": ["malicious"] if m.malicious else [],
        "rule.id": m.advisory_id, "rule.name": m.summary or m.advisory_id, "file.path": pkg.location or None,
        "hostwarden.vuln.aliases": m.aliases, "hostwarden.vuln.cve": cves,
        "hostwarden.vuln.fixed_version": m.fixed, "hostwarden.vuln.status": m.status,
        "hostwarden.vuln.source_package": pkg.source_name, "hostwarden.vuln.source_version": pkg.source_version,
        "hostwarden.vuln.kev": m.kev is not None, "hostwarden.vuln.malicious": m.malicious,
        "hostwarden.priority_reason": m.priority.reason, "hostwarden.fix": m.fix,
    }
    if m.score is not None:
        fields.update({"vulnerability.score.base": m.score.base, "vulnerability.score.version": m.score.version,
                       "vulnerability.classification": "CVSS" if m.score.vector else None,
                       "vulnerability.severity": m.score.label, "hostwarden.vuln.cvss_vector": m.score.vector,
                       "hostwarden.vuln.severity_source": m.score.source})
        evidence["cvss"] = {"vector": m.score.vector, "base": m.score.base, "source": m.score.source}
    if m.kev:
        evidence["kev"] = m.kev
    return finding(scanner="vuln", kind="vulnerability" if not m.malicious else "malware", title=title,
                   severity=m.priority.grade, evidence=evidence, **fields)


def hook_finding(report: supply.HookReport) -> dict[str, Any]:
    verdicts = "; ".join(report.verdicts)
    return finding(
        scanner="vuln", kind="malware",
        title=f"install hook of {report.ecosystem} package {report.package} {verdicts}",
        severity="L1",
        evidence={"hook": report.hook, "capabilities": report.capabilities, "file": report.location},
        **{"package.name": report.package, "package.version": report.version or None,
           "package.type": report.ecosystem, "package.path": report.location, "file.path": report.location,
           "rule.id": "hostwarden.supply_chain.install_hook", "rule.name": "suspicious install-time hook",
           "hostwarden.priority_reason": f"install-time hook {verdicts}",
           "hostwarden.fix": f"remove {report.package} and rotate credentials reachable from this host"},
    )


class VulnScanner:
    name = "vuln"

    def __init__(self) -> None:
        self.summary: dict[str, Any] = {}
        self.image: dict[str, Any] | None = None

    def inventory(self, ctx: ScanContext) -> Inventory:
        """The root's inventory, or an image's final filesystem when `options["image"]` is set."""
        image = ctx.options.get("image")
        if not image:
            return collect(ctx.fs)
        with image_workdir() as tmp:
            info = unpack(Path(image), tmp / "rootfs", Limits.from_options(ctx.options))
            # the extracted tree is read through the same resolver: its absolute links stay inside it
            inv = collect(RootFS(tmp / "rootfs", notify=ctx.notice))
        self.image = {"source": info.source, "format": info.format, "tags": info.tags,
                      "config_digest": info.config_digest, "layers": len(info.layers)}
        return inv

    def image_checks(self, ctx: ScanContext) -> list[dict[str, Any]]:
        """Digest allowlist of the scanned image: `options["image"]`, or `options["image_source"]`
        when the caller (the CLI) already unpacked it into ctx.root. See digest.py."""
        image = ctx.options.get("image") or ctx.options.get("image_source")
        if not image:
            return []
        try:
            configured = digest.load_allowlist(ctx.options)
        except HostwardenError as exc:
            ctx.notice(exc.code.code, exc.message)
            configured, reason = (set(), []), f"allowlist unreadable: {exc.message}"
        else:
            reason = None
        try:
            digests = digest.image_digests(Path(str(image)))
        except HostwardenError as exc:
            if configured is None:
                return []  # nothing asked to be verified: the digest would only have been informational
            ctx.notice(exc.code.code, exc.message)
            digests, reason = digest.ImageDigests(), reason or f"digest not computable: {exc.message}"
        for mismatch in digests.mismatches:
            ctx.notice(digest.SCAN_IMAGE_INVALID.code, f"{image}: {mismatch}")
        info = {"config_digest": digests.config_digest, "manifest_digest": digests.manifest_digest}
        self.image = {**(self.image or {"source": str(image)}), **info}
        if configured is None:
            return []
        hit = digest.allowlist_finding(str(image), digests, *configured, reason=reason)
        self.image["allowlisted"] = hit is None
        return [hit] if hit else []

    def scan(self, ctx: ScanContext) -> list[dict[str, Any]]:
        inv = self.inventory(ctx)
        for err in inv.errors:
            ctx.notice(SCAN_INVENTORY_INVALID.code, str(err), file=err.path)
        image_findings = self.image_checks(ctx)
        db = open_advisories(ctx)
        if db is None:
            ctx.notice(SCAN_NO_ADVISORIES.code, "no advisory database: vulnerabilities were not checked")
            self.summary = {"packages": len(inv.packages), "advisories": 0}
            if self.image:
                self.summary["image"] = self.image
            return image_findings
        with db:
            info = db.status()
            max_age = float(ctx.options.get("advisory_max_age_days") or DEFAULT_MAX_AGE_DAYS)
            fresh = assess(info["newest_modified"], max_age)
            if fresh.stale:
                ctx.notice(fresh.code, fresh.message, age_days=fresh.age_days)
            result = match_packages(db, [p for p in inv.packages if matchable(p)])
        findings = image_findings + [to_finding(m) for m in result.matches]
        if ctx.options.get("supply_chain", True) and not ctx.options.get("image"):
            findings += [hook_finding(r) for r in supply.scan_root(ctx.fs)]
        self.summary = {
            "os": inv.os.pretty_name if inv.os else None,
            "ecosystem": inv.os.ecosystem() if inv.os else None,
            "packages": len(inv.packages), "advisories": info["advisories"], "findings": len(findings),
            "not_comparable": len(result.unknown),
        }
        if self.image:
            self.summary["image"] = self.image
        return findings
