"""This scan against the last stored scan of the same target: which findings are new, which are
still open, and which were fixed since (present then, absent now, from a scanner that ran to
the end this time: a scanner that failed or was skipped fixes nothing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hostwarden.core.records import Finding

Reader = Callable[[str, list[Any]], list[dict[str, Any]]]

NEW, OPEN, FIXED = "new", "open", "fixed"


def previous_findings(read: Reader, target: str, tenant: str, before_scan: str) -> tuple[str | None, list[Finding]]:
    """The newest other scan of `target` and its findings (not the ones it recorded as fixed)."""
    row = read(
        'SELECT "hostwarden.scan.id" FROM events WHERE "event.kind" = \'finding\' AND "organization.id" = ? '
        'AND "hostwarden.scan.target" = ? AND "hostwarden.scan.id" <> ? '
        'GROUP BY 1 ORDER BY max("@timestamp") DESC, 1 DESC LIMIT 1',
        [tenant, target, before_scan],
    )
    if not row:
        return None, []
    scan_id = row[0]["hostwarden.scan.id"]
    rows = read(
        'SELECT * FROM events WHERE "event.kind" = \'finding\' AND "organization.id" = ? '
        'AND "hostwarden.scan.id" = ? AND COALESCE("hostwarden.finding.status", \'\') <> ?',
        [tenant, scan_id, FIXED],
    )
    return scan_id, [Finding.from_ecs(r) for r in rows]


def compare_with_previous(read: Reader, findings: list[Finding], completed: set[str], *, scan_id: str,
                          target: str, tenant: str) -> tuple[list[Finding], dict[str, Any] | None]:
    """Findings with their status set, and the comparison (None when this target has no earlier scan)."""
    previous_id, previous = previous_findings(read, target, tenant, scan_id)
    if previous_id is None:
        return [replace(f, status=NEW) for f in findings], None
    before = {f.fingerprint for f in previous}
    now = {f.fingerprint for f in findings}
    marked = [replace(f, status=OPEN if f.fingerprint in before else NEW) for f in findings]
    scan_fields = {k: v for k, v in findings[0].fields.items() if k.startswith("host.")} if findings else {}
    fixed = [
        replace(f, status=FIXED, scan_id=scan_id, time=findings[0].time if findings else f.time,
                fields={**f.fields, **scan_fields, "hostwarden.scan.target": target})
        for f in previous if f.fingerprint not in now and f.scanner in completed
    ]
    return marked, {"previous": previous_id, NEW: sum(1 for f in marked if f.status == NEW),
                    OPEN: sum(1 for f in marked if f.status == OPEN), FIXED: fixed}
