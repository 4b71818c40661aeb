"""Runs every registered scanner over one root and assembles the single report.

A scanner that fails or overruns its budget never sinks the scan: its error becomes a notice
with a SCAN- code and the other scanners' findings are still reported.
"""

from __future__ import annotations

import platform
import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from hostwarden import __version__
from hostwarden.core.errors import SCAN_ROOT_INVALID, SCAN_SCANNER_FAILED, SCAN_TIMEOUT, HostwardenError
from hostwarden.pipelines.scan.registry import load_scanners
from hostwarden.scan.base import ScanContext

GRADE_ORDER = {"L1": 1, "L2": 2, "L3": 3}


def host_facts(root: Path, live: bool) -> dict[str, Any]:
    facts: dict[str, Any] = {"root": str(root), "live": live}
    os_release = root / "etc" / "os-release"
    if os_release.is_file():
        for line in os_release.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key in ("ID", "VERSION_ID", "PRETTY_NAME", "VERSION_CODENAME"):
                facts[f"os.{key.lower()}"] = value.strip().strip('"')
    hostname_file = root / "etc" / "hostname"
    if live:
        facts["name"] = socket.gethostname()
        facts["os.kernel"] = platform.release()
    elif hostname_file.is_file():
        facts["name"] = hostname_file.read_text(encoding="utf-8", errors="replace").strip() or None
    machine_id = root / "etc" / "machine-id"
    if machine_id.is_file():
        facts["id"] = machine_id.read_text(encoding="utf-8", errors="replace").strip() or None
    return facts


def run_scan(
    root: Path,
    *,
    data_dir: Path | None = None,
    options: dict[str, Any] | None = None,
    only: list[str] | None = None,
    timeout: float = 600.0,
) -> dict[str, Any]:
    root = Path(root)
    if not root.is_dir():
        raise HostwardenError(SCAN_ROOT_INVALID, f"{root} is not a readable folder")
    live = root.resolve() == Path("/")
    ctx = ScanContext(root=root, data_dir=data_dir, live=live, options=dict(options or {}))
    with tempfile.TemporaryDirectory(prefix="hostwarden-scan-") as scratch:
        # Without a data folder, the log-reading scanners share one throw-away store.
        ctx.options.setdefault("scratch_dir", scratch)
        return _run(ctx, root, live, only, timeout)


def _run(ctx: ScanContext, root: Path, live: bool, only: list[str] | None, timeout: float) -> dict[str, Any]:
    findings: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    sections: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        for scanner in load_scanners(only):
            started = time.monotonic()
            future = pool.submit(lambda s=scanner: list(s.scan(ctx)))
            try:
                findings.extend(future.result(timeout=timeout))
            except FutureTimeout:
                ctx.notice(SCAN_TIMEOUT.code, f"scanner {scanner.name} exceeded {timeout:.0f}s", scanner=scanner.name)
            except HostwardenError as exc:
                ctx.notice(exc.code.code, exc.message, scanner=scanner.name)
            except Exception as exc:  # one scanner's bug must not lose the others' findings
                ctx.notice(SCAN_SCANNER_FAILED.code, f"{scanner.name}: {type(exc).__name__}: {exc}", scanner=scanner.name)
            timings[scanner.name] = round(time.monotonic() - started, 3)
            summary = getattr(scanner, "summary", None)
            if summary:
                sections[scanner.name] = summary
    findings.sort(key=lambda f: (GRADE_ORDER.get(f.get("hostwarden.grade", "L3"), 3), f.get("message", "")))
    return {
        "host": host_facts(root, live),
        "findings": findings,
        "summary": {
            "hostwarden.version": __version__,
            "counts": {g: sum(1 for f in findings if f.get("hostwarden.grade") == g) for g in GRADE_ORDER},
            "timings_seconds": timings,
            "sections": sections,
        },
        "notices": ctx.notices,
    }
