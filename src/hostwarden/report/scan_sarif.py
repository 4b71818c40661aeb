"""The scan report as SARIF 2.1.0, for code-scanning dashboards and CI gates."""

from __future__ import annotations

import json
from typing import Any

from hostwarden.core.records import Grade, ScanReport

SARIF_LEVEL = {Grade.L1: "error", Grade.L2: "warning", Grade.L3: "note"}


def scan_sarif(report: ScanReport) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for f in report.findings:
        rules.setdefault(f.rule_id, {"id": f.rule_id, "name": f.title or f.rule_id,
                                     "shortDescription": {"text": f.title or f.message}})
        location = f.fields.get("file.path") or f.evidence.where.rsplit(":", 1)[0] or f.fields.get("package.path")
        result: dict[str, Any] = {
            "ruleId": f.rule_id,
            "level": SARIF_LEVEL[f.grade],
            "message": {"text": f.message},
            "partialFingerprints": {"hostwarden/v1": f.fingerprint},
            "properties": {"grade": f.grade.value, "scanner": f.scanner, "evidence": f.evidence.to_dict(),
                           **({"fix": f.fix} if f.fix else {}), **({"status": f.status} if f.status else {})},
        }
        if location:
            result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": str(location)}}}]
        results.append(result)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "hostwarden", "version": report.summary.get("hostwarden.version"),
                                "rules": list(rules.values())}},
            "results": results,
        }],
    }
    return json.dumps(doc, default=str, indent=2)
