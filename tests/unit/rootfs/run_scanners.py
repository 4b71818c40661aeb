"""Run every registered scanner over a root in this process and print the report as JSON.

The every-scanner test runs this as a subprocess so that a scanner that hangs (a FIFO opened
without O_NONBLOCK) fails the test by its timeout instead of hanging the test run.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from hostwarden.core.records import ecs_records
from hostwarden.pipelines.scan.registry import load_scanners
from hostwarden.scan.base import ScanContext


def main(root: str, data_dir: str) -> None:
    ctx = ScanContext(root=Path(root), data_dir=Path(data_dir), options={"cpu_cap": 0, "advisories": sys.argv[3]})
    report: dict[str, object] = {"findings": [], "summaries": {}, "failed": []}
    for scanner in load_scanners():
        try:
            report["findings"] += ecs_records(scanner.scan(ctx))  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - the test wants to see which scanner failed and how
            report["failed"].append(f"{scanner.name}: {type(exc).__name__}: {exc}")  # type: ignore[union-attr]
        report["summaries"][scanner.name] = getattr(scanner, "summary", None)  # type: ignore[index]
    report["notices"] = ctx.notices
    report["max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    json.dump(report, sys.stdout, default=str)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
