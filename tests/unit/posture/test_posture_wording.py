"""A failed check's row says what is wrong and where; the check's title (the passing state) stays `rule.name`."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from hostwarden.scan.base import ScanContext
from hostwarden.scan.baseline.engine import run_policy
from hostwarden.scan.baseline.loader import builtin_policy_files, load_policy
from hostwarden.scan.baseline.model import FAIL, Check, Evidence, Outcome, Policy, Result
from hostwarden.scan.baseline.scanner import result_finding
from hostwarden.scan.baseline.wording import VALUE_MAX, failure_message

POLICY = load_policy(builtin_policy_files()[0])
IS_ROOT = os.geteuid() == 0
NEEDS_ROOT = {"file_mode", "file_scan"}  # as in test_posture_builtin_policy: owners need root


STOP = {"the", "not", "and", "are", "any", "other", "than", "least", "most", "with", "without"}


def _stems(text: str) -> set[str]:
    """Content words cut to five letters, so "password" and "passwords" are one word."""
    return {w[:5] for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) >= 3 and w not in STOP}


def test_every_builtin_check_states_its_own_problem() -> None:
    problems = [c.problem for c in POLICY.checks]
    for c in POLICY.checks:
        assert c.problem, f"{c.id} has no problem text"
        assert c.problem.lower() != c.title.lower(), c.id
        assert "\n" not in c.problem and len(c.problem) <= 80, c.id
        assert not c.problem.lower().startswith(("not met", "check failed", "fail")), c.id
        assert c.problem_text == c.problem
    dupes = {p for p in problems if problems.count(p) > 1}
    assert not dupes, f"problem texts shared by several checks: {dupes}"


def test_problem_and_title_describe_the_same_thing() -> None:
    """The problem is the title's failing state, not an unrelated text: they share a content word."""
    for c in POLICY.checks:
        assert _stems(c.problem) & _stems(c.title), (c.id, c.title, c.problem)


@pytest.fixture(scope="module")
def weakened(posture_roots: dict[str, Path]) -> dict[str, Result]:
    return {r.check.id: r for r in run_policy(POLICY, ScanContext(root=posture_roots["weakened"]))}


@pytest.mark.parametrize("check_id", [c.id for c in POLICY.checks])
def test_failed_row_starts_with_problem_and_cites_evidence(check_id: str, weakened: dict[str, Result]) -> None:
    r = weakened[check_id]
    if r.check.kind in NEEDS_ROOT and not IS_ROOT:
        pytest.skip("needs root to give test files root ownership")
    assert r.status == FAIL
    f = result_finding(POLICY, r)
    assert f.message.startswith(r.check.problem + ": ") or f.message.startswith(r.check.problem + " ("), f.message
    assert not f.message.startswith(check_id) and "\n" not in f.message
    assert f.rule_id == check_id and f.title == r.check.title
    cited = [e for e in r.outcome.evidence if e.file and f"({e.file}" in f.message or
             e.line and f"{e.file}:{e.line})" in f.message]
    shown = [e for e in r.outcome.evidence if e.value and (e.value in f.message or e.value[:VALUE_MAX - 1] in f.message)]
    assert cited or shown, (f.message, r.outcome.evidence)


def test_rows_on_the_weakened_host_read_as_in_the_issue(weakened: dict[str, Result], posture_roots: dict[str, Path]) -> None:
    """Exact rows built from the fixture's own lines (not typed in): account, setting, list entry, sysctl."""
    root = posture_roots["weakened"]
    passwd = (root / "etc/passwd").read_text().splitlines()
    n, line = next((i, x) for i, x in enumerate(passwd, 1) if x.split(":")[2] == "0" and not x.startswith("root:"))
    assert _message(weakened["HW-ACC-001"]) == f"UID 0 account other than root: {line} (/etc/passwd:{n})"
    dropin = "/etc/ssh/sshd_config.d/10-convenience.conf"
    conf = (root / dropin.lstrip("/")).read_text().splitlines()
    at = next(i for i, x in enumerate(conf, 1) if x.startswith("PermitRootLogin"))
    assert _message(weakened["HW-SSH-001"]) == f"SSH root login allowed: PermitRootLogin yes ({dropin}:{at})"
    at = next(i for i, x in enumerate(conf, 1) if x.startswith("Ciphers"))
    weak = [c for c in conf[at - 1].split()[1].split(",") if c.endswith("-cbc")]
    assert _message(weakened["HW-SSH-007"]) == f"SSH offers weak ciphers: {', '.join(weak)} in Ciphers ({dropin}:{at})"
    assert _message(weakened["HW-SYS-001"]).startswith("ASLR not fully enabled: kernel.randomize_va_space = ")


def _message(r: Result) -> str:
    return failure_message(r.check, r.outcome)


def _check(problem: str = "Thing broken", spec: dict | None = None, title: str = "Thing works") -> Check:
    return Check("T-1", title, "high", lambda host: Outcome(FAIL), problem=problem, spec=spec or {"kind": "file_regex"})


def test_several_items_are_counted_and_duplicates_are_one() -> None:
    ev = [Evidence(file="/etc/passwd", line=3, value="a:x:0:0"), Evidence(file="/etc/passwd", line=3, value="a:x:0:0"),
          Evidence(file="/etc/passwd", line=9, value="b:x:0:0"), Evidence(note="stopped after 5 entries")]
    assert failure_message(_check(), Outcome(FAIL, ev)) == "Thing broken: a:x:0:0 (/etc/passwd:3) and 1 more"


def test_item_with_value_or_line_is_shown_before_a_bare_file() -> None:
    ev = [Evidence(file="/etc/a, /etc/b", note="no line matches 'x'"), Evidence(value="x.timer: disabled")]
    assert failure_message(_check(), Outcome(FAIL, ev)) == "Thing broken: x.timer: disabled and 1 more"


def test_no_value_gives_problem_and_where_only() -> None:
    ev = [Evidence(file="/etc/pam.d/common-auth", note="no line matches '^auth'")]
    assert failure_message(_check(), Outcome(FAIL, ev)) == "Thing broken (/etc/pam.d/common-auth)"
    assert failure_message(_check(), Outcome(FAIL, [])) == "Thing broken"


def test_long_values_are_cut_and_stay_on_one_line() -> None:
    value = "evil\r\n\tline " + "x" * 300
    msg = failure_message(_check(), Outcome(FAIL, [Evidence(file="/f", line=1, value=value)]))
    shown = msg.removeprefix("Thing broken: ").removesuffix(" (/f:1)")
    assert len(shown) == VALUE_MAX and shown.endswith("…") and shown.startswith("evil line xxx")
    assert "\n" not in msg and "\r" not in msg and "\t" not in msg


def test_config_and_sysctl_values_are_named_by_their_key_with_the_default_note() -> None:
    config = {"kind": "config", "file": "/etc/ssh/sshd_config", "key": "MaxAuthTries", "op": "le", "value": 4}
    ev = Evidence(file="/etc/ssh/sshd_config", value="6", note="not set; default applies")
    assert (failure_message(_check(spec=config), Outcome(FAIL, [ev]))
            == "Thing broken: MaxAuthTries 6 (/etc/ssh/sshd_config, not set; default applies)")
    both = {"kind": "all", "checks": [config, {**config, "op": "ge", "value": 1}]}
    assert failure_message(_check(spec=both), Outcome(FAIL, [ev, ev])).startswith("Thing broken: MaxAuthTries 6 (")
    mixed = {"kind": "any", "checks": [config, {"kind": "service", "unit": "x.service"}]}
    assert failure_message(_check(spec=mixed), Outcome(FAIL, [ev])).startswith("Thing broken: 6 (")
    sysctl = {"kind": "sysctl", "key": "net.ipv4.ip_forward", "op": "eq", "value": 0}
    note = "kernel default: not set in /etc/sysctl.d/a.conf, /etc/sysctl.d/b.conf; no runtime value under this root"
    assert (failure_message(_check(spec=sysctl), Outcome(FAIL, [Evidence(value="1", note=note)]))
            == "Thing broken: net.ipv4.ip_forward = 1 (kernel default)")


def test_forbidden_list_entries_are_named() -> None:
    spec = {"kind": "config", "file": "/etc/ssh/sshd_config", "key": "MACs", "op": "contains_none",
            "value": ["hmac-md5", "hmac-sha1"]}
    ev = Evidence(file="/etc/ssh/sshd_config", line=7, value="umac-128-etm@openssh.com," * 5 + "HMAC-SHA1")
    assert (failure_message(_check(spec=spec), Outcome(FAIL, [ev]))
            == "Thing broken: HMAC-SHA1 in MACs (/etc/ssh/sshd_config:7)")


def test_check_without_problem_says_which_title_is_not_met(tmp_path: Path) -> None:
    (tmp_path / "sca.yml").write_text(
        "policy: {id: t, name: t}\nchecks:\n  - id: 1\n    title: cron.allow exists\n    condition: all\n"
        "    rules: ['f:/etc/cron.allow']\n")
    policy = load_policy(tmp_path / "sca.yml")
    (r,) = run_policy(policy, ScanContext(root=tmp_path))
    assert r.status == FAIL
    f = result_finding(policy, r)
    assert f.message == "Not met: cron.allow exists (/etc/cron.allow)" and f.title == "cron.allow exists"
    assert r.to_dict()["problem"] == "Not met: cron.allow exists"
    own = Policy("p", "p", [_check(problem="")])
    assert own.checks[0].problem_text == "Not met: Thing works"


def test_problem_is_read_from_our_format(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text(
        "checks: [{id: A, title: cron.allow present, problem: 'cron open to all, no allow list', severity: low,"
        " check: {kind: file_exists, file: /etc/cron.allow}}]")
    (check,) = load_policy(tmp_path / "p.yml").checks
    assert check.problem == "cron open to all, no allow list"
    (r,) = run_policy(Policy("p", "p", [check]), ScanContext(root=tmp_path))
    assert result_finding(Policy("p", "p", [check]), r).message == "cron open to all, no allow list (/etc/cron.allow)"
