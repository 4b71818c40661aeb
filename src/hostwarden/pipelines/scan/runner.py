"""Runs every registered scanner over one root and assembles the single report.

A scanner that fails or overruns its budget never sinks the scan: its error becomes a notice
with a SCAN- code and the other scanners still run. Each scanner runs on its own daemon thread
and is waited for at most `timeout` seconds: a scanner that never returns is left behind (it
cannot be killed, but nothing waits for it and the process can exit), so a scan always ends.

Findings and the detection alerts leave through the alert path; with a data dir the store
sink keeps them, stamped with this scan's id, and each finding is compared with the last
stored scan of the same target (new, still open, fixed).
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hostwarden import __version__
from hostwarden.core.errors import SCAN_ROOT_INVALID, SCAN_SCANNER_FAILED, SCAN_TIMEOUT, HostwardenError
from hostwarden.core.records import Alert, Finding, ScanReport
from hostwarden.core.sink import AlertPath
from hostwarden.pipelines.scan.compare import Reader, compare_with_previous
from hostwarden.pipelines.scan.registry import load_scanners
from hostwarden.scan.base import ScanContext, Scanner
from hostwarden.scan.hostfacts import host_facts


def run_scan(
    root: Path,
    *,
    data_dir: Path | None = None,
    options: dict[str, Any] | None = None,
    only: list[str] | None = None,
    timeout: float = 600.0,
    extra_scanners: Sequence[str] = (),
    alert_path: AlertPath | None = None,
    target: str | None = None,
    tenant: str = "default",
    previous: Reader | None = None,
) -> ScanReport:
    """Run the scanners over `root`. With `previous` (reads the store) each finding is compared
    with the last stored scan of the same target; with `alert_path` the results go down it."""
    root = Path(root)
    if not root.is_dir():
        raise HostwardenError(SCAN_ROOT_INVALID, f"{root} is not a readable folder")
    scanners = load_scanners(only, extra_scanners)  # unknown names are refused before any work
    live = root.resolve() == Path("/")
    ctx = ScanContext(root=root, data_dir=data_dir, live=live, options=dict(options or {}))
    started = datetime.now(UTC)
    scan_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="hostwarden-scan-") as scratch:
        # Without a data folder, the log-reading scanners share one throw-away store.
        ctx.options.setdefault("scratch_dir", scratch)
        findings, alerts, summary, completed = _run_all(ctx, scanners, timeout)
    # Through the scan's resolver, like every scanner read: `etc/machine-id -> /proc/self/environ`
    # must not put this process's environment in host.id, and its refusals join the notices.
    host = host_facts(root, live, ctx.fs)
    stamp = {"hostwarden.scan.target": target or str(root.resolve()), "host.name": host.get("name"),
             "host.id": host.get("id"), "organization.id": tenant}
    stamp = {k: v for k, v in stamp.items() if v}
    findings = [f.with_scan(scan_id, started, **stamp) for f in findings]
    comparison = None
    if previous is not None:
        findings, comparison = compare_with_previous(previous, findings, completed, scan_id=scan_id,
                                                     target=stamp["hostwarden.scan.target"], tenant=tenant)
    findings.sort(key=lambda f: (f.grade.rank, f.scanner, f.rule_id, f.message))
    summary["hostwarden.version"] = __version__
    report = ScanReport(host=host, findings=findings, summary=summary, notices=ctx.notices, scan_id=scan_id,
                        started=started, comparison=comparison)
    if alert_path is not None:
        # A line that names no host (an access log, auditd) was still written on the scanned one:
        # incidents group alerts by host, and "on unknown host" helps nobody.
        if host.get("name"):
            alerts = [a if a.host_name else replace(a, host_name=host["name"]) for a in alerts]
        alert_path.emit(alerts)
        alert_path.emit([*findings, *(comparison or {}).get("fixed", [])])
        report.notices.extend(alert_path.notices)
    return report


def _run_all(ctx: ScanContext, scanners: list[Scanner], timeout: float
             ) -> tuple[list[Finding], list[Alert], dict[str, Any], set[str]]:
    findings: list[Finding] = []
    alerts: list[Alert] = []
    timings: dict[str, float] = {}
    sections: dict[str, Any] = {}
    completed: set[str] = set()  # scanners that ran to the end: only their findings can be "fixed"
    for scanner in scanners:
        started = time.monotonic()
        done, result, error = call_with_deadline(lambda s=scanner: list(s.scan(ctx)), timeout,
                                                 name=f"hostwarden-scan-{scanner.name}")
        if not done:
            ctx.notice(SCAN_TIMEOUT.code, f"scanner {scanner.name} did not finish within {timeout:g}s and was "
                                          "left behind; the other scanners ran", scanner=scanner.name)
        elif isinstance(error, HostwardenError):
            ctx.notice(error.code.code, error.message, scanner=scanner.name)
        elif error is not None:  # one scanner's bug must not lose the others' findings
            ctx.notice(SCAN_SCANNER_FAILED.code, f"{scanner.name}: {type(error).__name__}: {error}",
                       scanner=scanner.name)
        else:
            findings.extend(result)
            alerts.extend(getattr(scanner, "alerts", []))
            completed.add(scanner.name)
        timings[scanner.name] = round(time.monotonic() - started, 3)
        summary = getattr(scanner, "summary", None)
        if summary:
            sections[scanner.name] = summary
    return findings, alerts, {"timings_seconds": timings, "sections": sections}, completed


def call_with_deadline(fn: Callable[[], Any], timeout: float, *, name: str) -> tuple[bool, Any, BaseException | None]:
    """Run `fn` on a daemon thread; (finished, result, error). An unfinished call is abandoned:
    a thread cannot be killed, but a daemon thread keeps neither this caller nor the exit waiting."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # reported to the caller, whatever it was
            box["error"] = exc

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return False, None, None
    return True, box.get("result"), box.get("error")

