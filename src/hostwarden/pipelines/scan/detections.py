"""The detection part of `hostwarden scan`: run the rule pack over the logs found under <root>/var/log.

When the scan has a data dir, the log scanner has already ingested those files into its store
(scanners run in registry order), so this one only reads the rows of those files; otherwise it
ingests them into a temporary store itself. Alerts become findings graded from their severity
(the report's detection section); the alerts themselves are kept in `alerts`, which the scan
runner sends down the alert path (the store sink keeps them when there is a data dir).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from hostwarden.core.errors import CSA_RULE_INVALID
from hostwarden.core.records import Alert, Finding
from hostwarden.detect.batch import detect_store
from hostwarden.detect.ruleset import load_rules
from hostwarden.detect.settings import DetectSettings
from hostwarden.pipelines.scan.logs import LogScanner, log_files
from hostwarden.scan.base import ScanContext
from hostwarden.store.eventstore import EventStore


class DetectionScanner:
    name = "detect"

    def __init__(self, rule_paths: list[Path] | None = None) -> None:
        self.rule_paths = rule_paths
        self.summary: dict[str, Any] = {}
        self.alerts: list[Alert] = []

    def scan(self, ctx: ScanContext) -> list[dict[str, Any]]:
        files = [str(p) for p in log_files(ctx.fs)]
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
                result = detect_store(store, ruleset, paths=files, append=False)
        finally:
            if tmp is not None:
                tmp.cleanup()
        self.summary = {"files": len(files), "rules": len(ruleset.rules), "matches": result.matches,
                        "alerts": len(result.alerts)}
        self.alerts = [Alert.from_ecs(a) for a in result.alerts]
        return [_finding(a) for a in self.alerts]


def _has_rows(data_dir: Path, files: list[str]) -> bool:
    if not (data_dir / "events.duckdb").exists():
        return False
    with EventStore(data_dir) as store:
        row = store.query('SELECT count(*) FROM events WHERE list_contains(?, "log.file.path")', [files])
    return bool(row and row[0][0])


def _finding(alert: Alert) -> Finding:
    keep = {"threat.technique.id": list(alert.techniques) or None, "threat.tactic.name": list(alert.tactics) or None,
            "source.ip": alert.source_ip, "user.name": alert.user_name, "host.name": alert.host_name,
            "@timestamp": alert.time, "rule.author": alert.fields.get("rule.author")}
    return Finding(
        scanner="detect",
        rule_id=alert.rule_id,
        title=alert.rule_name,
        message=alert.message,
        grade=alert.grade,
        kind="intrusion_detection",
        evidence=alert.evidence,
        fix=alert.fix,
        fields={k: v for k, v in keep.items() if v is not None and k != "@timestamp"},
    )
