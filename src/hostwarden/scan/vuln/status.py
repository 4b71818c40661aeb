"""The `vuln` line of `hostwarden status`: advisory count and freshness, unhealthy when stale."""

from __future__ import annotations

from typing import Any

from hostwarden.core.health import Component
from hostwarden.scan.vuln.db import DB_NAME, AdvisoryDB
from hostwarden.scan.vuln.freshness import assess


def status_component(cfg: Any) -> Any:

    path = cfg.data_dir / DB_NAME
    if not path.exists():
        return Component("vulndb", True, "SCAN-9014: no advisory database yet, so vulnerabilities are not checked; "
                                         "run `hostwarden vulndb import PATH` (OSV files or all.zip)", degraded=True)
    with AdvisoryDB(path) as db:
        info = db.status()
    fresh = assess(info["newest_modified"], cfg.scan.advisory_max_age_days)
    detail = f"{info['advisories']} advisories, KEV {info['kev_entries']}; "
    detail += f"{fresh.code}: {fresh.message}" if fresh.stale else f"newest {fresh.age_days:.1f} days old"
    return Component("vulndb", not fresh.stale, detail)
