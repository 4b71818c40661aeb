"""A scan report whose every data value is attacker-written: markup, attribute breakouts, script
URLs, terminal escapes, bidi overrides and a lone surrogate (a file name that was not UTF-8).

Shared by the HTML report's unit test (parses the page) and its Chromium test (opens it)."""

from __future__ import annotations

from datetime import UTC, datetime

from hostwarden.core.records import Evidence, EvidenceItem, Finding, Grade, ScanReport

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
SINGLE = "' onmouseover='alert(1)' x='"
JS_URL = "javascript:alert(document.domain)"
DATA_URL = "data:text/html,<script>alert(1)</script>"
CONTROL = "ok\x1b[31mRED\x1b]0;title\x07\x08\x00\u202eexe.txt\ud800"
PAYLOADS = (SCRIPT, BREAKOUT, SINGLE, JS_URL, DATA_URL, CONTROL)
EVIL = " ".join(PAYLOADS)


def hostile_finding(grade: Grade = Grade.L1, scanner: str = "vuln") -> Finding:
    return Finding(
        scanner=scanner,
        rule_id=f"CVE-{SCRIPT}",
        title=f"title {BREAKOUT}",
        message=f"message {EVIL}",
        grade=grade,
        kind="vulnerability",
        evidence=Evidence(
            items=(EvidenceItem(file=f"/etc/{BREAKOUT}", line=3, value=EVIL, note=SINGLE,
                                event_ids=(SCRIPT,), advisory=JS_URL, time=CONTROL),),
            details={SCRIPT: EVIL, "nested": {BREAKOUT: [SCRIPT, {"url": JS_URL, "x": DATA_URL}]},
                     "rows": [{"href": JS_URL, SINGLE: CONTROL}, {"src": DATA_URL}]},
        ),
        fix=f"`{SCRIPT}` then {BREAKOUT}",
        fields={"package.name": SCRIPT, "package.version": BREAKOUT, "source.ip": SINGLE, "file.path": CONTROL,
                "url.original": JS_URL, "vulnerability.reference": DATA_URL, "user.name": EVIL,
                "hostwarden.mlps": [SCRIPT, "身份鉴别"], "hostwarden.cis": [BREAKOUT]},
        status=f"new{BREAKOUT}",
    )


def hostile_report() -> ScanReport:
    findings = [hostile_finding(Grade.L1), hostile_finding(Grade.L3, scanner=SCRIPT),
                hostile_finding(Grade.L2, scanner=BREAKOUT)]
    summary = {
        "sections": {
            "vuln": {"packages": EVIL, "by_dataset": {SCRIPT: BREAKOUT}},
            SCRIPT: {"skipped": EVIL, "sources": [{"path": BREAKOUT, "events": SCRIPT, "first": JS_URL}]},
            "baseline": {"policies": {BREAKOUT: {"total": {"pass": 1, "fail": 1, "score": 50.0},
                                                 "mlps": {SCRIPT: {"pass": 1, "fail": 0, "score": 100.0}}}}},
        },
        "timings_seconds": {SCRIPT: 1.0},
        "hostwarden.version": BREAKOUT,
    }
    return ScanReport(
        host={"name": EVIL, "root": BREAKOUT, "os.pretty_name": SCRIPT, "id": JS_URL, SINGLE: CONTROL},
        findings=findings, summary=summary,
        notices=[{"code": SCRIPT, "message": EVIL, "scanner": SCRIPT}],
        scan_id=BREAKOUT, started=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        comparison={"previous": SCRIPT, "new": 2, "open": 1, "fixed": [hostile_finding(Grade.L2)]},
    )
