"""Real audit logs (go-libaudit, audit-userspace): all parse, coalesced goldens match."""

import json
from pathlib import Path

import pytest
import yaml

from hostwarden.normalize.auditd import AuditdParser
from hostwarden.normalize.base import ParseContext, RawLine

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
AUDITD = CORPORA / "realworld-logs" / "auditd"
pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora not present")


def raw_logs():
    return sorted(AUDITD.glob("go-libaudit/auparse/testdata/*.log")) + [AUDITD / "go-libaudit/testdata/normal.log"] + sorted(
        AUDITD.glob("audit-userspace/auparse/test/*.log"))


@pytest.mark.parametrize("path", raw_logs(), ids=lambda p: p.name)
def test_every_line_is_covered(path):
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    raw = [RawLine(i, t) for i, t in enumerate(lines)]
    events = AuditdParser().parse_batch(raw, ParseContext())
    covered = sum(ev["event.original"].count("\n") + 1 for ev in events)
    assert covered == len(lines)
    understood = [ev for ev in events if "parse_failure" not in (ev.get("tags") or [])]
    assert len(understood) >= 0.95 * len(events)


def test_coalesced_goldens_match_executable_arguments_and_user():
    checked = 0
    for golden_file in sorted(AUDITD.glob("go-libaudit/aucoalesce/testdata/*.json.golden")):
        tests = yaml.safe_load(golden_file.with_name(golden_file.name.replace(".json.golden", ".yaml")).read_text())["tests"]
        for case in json.loads(golden_file.read_text()):
            text = tests[case["test_name"]]
            lines = [RawLine(i, t) for i, t in enumerate(text.strip().splitlines())]
            events = AuditdParser().parse_batch(lines, ParseContext())
            assert len(events) == 1, case["test_name"]
            ev, want = events[0], case["event"]
            process, ids = want.get("process", {}), want.get("user", {}).get("ids", {})
            assert ev.get("process.executable") == process.get("exe"), case["test_name"]
            if process.get("args"):
                assert ev["process.args"] == process["args"], case["test_name"]
            if ids.get("uid"):
                assert ev["user.id"] == ids["uid"], case["test_name"]
            checked += 1
    assert checked >= 40
