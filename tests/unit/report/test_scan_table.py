"""The terminal report at 80 columns: sections with summaries, and no fix command broken inside a word."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from hostwarden.core.records import Evidence, EvidenceItem, Finding, Grade, ScanReport
from hostwarden.pipelines.scan.runner import run_scan
from hostwarden.report.scan_table import fit_words, render_scan_table
from hostwarden.report.terminal import inert

DEMO = Path(__file__).resolve().parents[3] / "examples"


def _render(report: ScanReport, width: int = 80) -> list[str]:
    buf = io.StringIO()
    render_scan_table(report, Console(file=buf, width=width, color_system=None))
    return buf.getvalue().splitlines()


def _rendered_fixes(lines: list[str]) -> list[str]:
    fixes, current = [], None
    for line in lines:
        if line.startswith("    fix: "):
            current = [line[len("    fix: "):]]
            fixes.append(current)
        elif current is not None and line.startswith(" " * 9) and line.strip():
            current.append(line.strip())
        else:
            current = None
    return [" ".join(parts) for parts in fixes]


def _whole_words_of(rendered: str, full: list[str]) -> bool:
    """`rendered` is one of the fixes, or the start of one cut between two words and marked …"""
    if rendered in full:
        return True
    if not rendered.endswith("…"):
        return False
    start = rendered[:-1].rstrip()
    return any(f.startswith(start + " ") or (not start and f) for f in full)


@pytest.fixture(scope="module")
def demo_report() -> ScanReport:
    return run_scan(DEMO / "demo-host", options={"advisories": str(DEMO / "advisories")})


def test_demo_table_at_80_columns_never_breaks_a_fix_inside_a_word(demo_report: ScanReport) -> None:
    lines = _render(demo_report, 80)
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80][:3]
    full = [" ".join(inert(f.fix).split()) for f in demo_report.findings if f.fix]
    rendered = _rendered_fixes(lines)
    assert len(rendered) == len(full)
    broken = [r for r in rendered if not _whole_words_of(r, full)]
    assert broken == []


def test_demo_table_has_a_section_per_scanner_with_a_summary(demo_report: ScanReport) -> None:
    text = "\n".join(_render(demo_report, 80))
    for title in ("── Detections", "── Vulnerabilities", "── Baseline", "── Persistence", "── File integrity",
                  "── Malware", "── Firewall", "── Logs", "── Processes"):
        assert title in text, title
    assert "score" in text.split("── Baseline", 1)[1].splitlines()[0]  # the section's one-line summary


def test_a_long_unbreakable_command_is_cut_at_a_word_boundary() -> None:
    fix = "sysctl -w net.ipv6.conf.all.accept_source_route_but_much_longer_than_any_line_could_ever_hold=0 && reload"
    lines = fit_words(fix, 30)
    assert lines == ["sysctl -w …"]
    assert all(len(line) <= 30 for line in fit_words("a " * 200, 30))


def test_row_says_what_is_wrong_and_where_and_data_is_inert() -> None:
    f = Finding(scanner="baseline", rule_id="HW-X-1", title="t", message="UID 0 account other than root",
                grade=Grade.L1, evidence=Evidence((EvidenceItem(file="/etc/passwd", line=23, value="toor\x1b[2J"),)),
                fix="usermod -L toor [/b]")
    report = ScanReport(host={"root": "/r"}, findings=[f], summary={"sections": {}})
    text = "\n".join(_render(report, 80))
    assert "UID 0 account other than root — toor\\x1b[2J, /etc/passwd:23" in text
    assert "\x1b" not in text and "[/b]" in text
