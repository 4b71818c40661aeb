"""The detection part of `hostwarden scan`: run the rule pack over the logs found under <root>/var/log.

When the scan has a data dir, the log scanner has already ingested those files into its store
(scanners run in registry order), so this one only reads the rows of those files; otherwise it
ingests them into a temporary store itself. Alerts become findings graded from their severity,
and with a data dir they are also stored as `event.kind=alert` records.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from hostwarden.core.errors import CSA_RULE_INVALID
from hostwarden.detect.batch import detect_store
from hostwarden.detect.ruleset import load_rules
from hostwarden.detect.settings import DetectSettings
from hostwarden.pipelines.scan.logs import LogScanner, log_files
from hostwarden.scan.base import ScanContext, finding
from hostwarden.store.eventstore import EventStore

GRADES = {1: "L1", 2: "L2", 3: "L3"}


class DetectionScanner:
    name = "detect"

    def __init__(self, rule_paths: list[Path] | None = None) -> None:
        self.rule_paths = rule_paths
        self.summary: dict[str, Any] = {}

    def scan(self, ctx: ScanContext) -> list[dict[str, Any]]:
        files = [str(p) for p in log_files(ctx.root)]
        if not files:
            self.summary = {"files": 0}
            return []
        if self.rule_paths is not None:
            ruleset = load_rules(self.rule_paths)
        else:  # `detect` options: the [detect] config section's keys (rules, builtin, thresholds)
            ruleset = DetectSettings.from_section(ctx.options.get("detect")).load()
        for file, title, reason in ruleset.errors:
            ctx.notice(CSA_RULE_INVALID.code, f"{file}: {title}: {reason}")
        tmp = None
        data_dir = ctx.data_dir or (Path(ctx.options["scratch_dir"]) if ctx.options.get("scratch_dir") else None)
        if data_dir is None or not _has_rows(data_dir, files):
            tmp = tempfile.TemporaryDirectory(prefix="hostwarden-detect-")
            data_dir = Path(tmp.name)
            LogScanner().scan(dataclasses.replace(ctx, data_dir=data_dir, notices=[]))
        try:
            with EventStore(data_dir) as store:
                result = detect_store(store, ruleset, paths=files, append=tmp is None)
        finally:
            if tmp is not None:
                tmp.cleanup()
        self.summary = {"files": len(files), "rules": len(ruleset.rules), "matches": result.matches,
                        "alerts": len(result.alerts)}
        return [_finding(a) for a in result.alerts]


def _has_rows(data_dir: Path, files: list[str]) -> bool:
    if not (data_dir / "events.duckdb").exists():
        return False
    with EventStore(data_dir) as store:
        row = store.query('SELECT count(*) FROM events WHERE list_contains(?, "log.file.path")', [files])
    return bool(row and row[0][0])


def _finding(alert: dict[str, Any]) -> dict[str, Any]:
    detail = json.loads(alert.get("hostwarden.detail") or "{}")
    keep = ("rule.id", "rule.name", "rule.author", "threat.technique.id", "threat.tactic.name",
            "source.ip", "user.name", "host.name", "@timestamp")
    return finding(
        scanner="detect",
        kind="intrusion_detection",
        title=str(alert.get("message")),
        severity=GRADES.get(int(alert.get("event.severity") or 2), "L2"),
        evidence=detail,
        fix=detail.get("fix") or None,
        **{k: alert[k] for k in keep if alert.get(k) is not None},
    )
