"""Every Sigma modifier the SigmaHQ Linux and web rules use, converted by pySigma into our IR and
run by both executors (inline rules, so this runs without the corpus)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from hostwarden.core.schema import to_arrow
from hostwarden.detect.matcher import compile_node
from hostwarden.detect.sigma import load_sigma_text
from hostwarden.detect.sqlcompile import match_arrow

HEAD = "title: t\nid: 11111111-2222-3333-4444-555555555555\nlogsource: {product: linux, service: auditd}\n"
B64 = base64.b64encode(b"xx/bin/sh -c id").decode()


def _rule(detection: str) -> Any:
    rules, errors = load_sigma_text(HEAD + "detection:\n" + detection + "\n  condition: sel\n")
    assert errors == [], errors
    return rules[0].detection


AUDITD = {"event.dataset": "auditd"}

CASES = [
    ("  sel: {a0|contains: 'BASH'}", {"a0": "/usr/bin/bash"}, {"a0": "/usr/bin/sh"}),
    ("  sel: {a0|startswith: '/usr'}", {"a0": "/USR/bin"}, {"a0": "/bin/usr"}),
    ("  sel: {a0|endswith: '.so'}", {"a0": "x.SO"}, {"a0": "x.so.1"}),
    ("  sel: {a0|contains|all: [curl, '| sh']}", {"a0": "curl x | sh"}, {"a0": "curl x"}),
    ("  sel: {a0|re: '^-[a-z]c$'}", {"a0": "-xc"}, {"a0": "-XC"}),
    ("  sel: {a0|re|i: '^-[a-z]c$'}", {"a0": "-XC"}, {"a0": "-x c"}),
    ("  sel: {a0|re|m: '^id$'}", {"a0": "x\nid\ny"}, {"a0": "x id y"}),
    ("  sel: {a0|re|s: 'a.b'}", {"a0": "a\nb"}, {"a0": "ab"}),
    ("  sel: {a0|cidr: '10.0.0.0/8'}", {"a0": "10.2.3.4"}, {"a0": "11.2.3.4"}),
    ("  sel: {a0|exists: true}", {"a0": ""}, {"a1": "x"}),
    ("  sel: {a0|exists: false}", {"a1": "x"}, {"a0": "x"}),
    ("  sel: {a0|gt: 5}", {"a0": "6"}, {"a0": "5"}),
    ("  sel: {a0|gte: 5}", {"a0": "5"}, {"a0": "4.9"}),
    ("  sel: {a0|lt: 5}", {"a0": "-1"}, {"a0": "five"}),
    ("  sel: {a0|lte: 5}", {"a0": "5"}, {"a0": "6"}),
    ("  sel: {a0|fieldref: a1}", {"a0": "Root", "a1": "root"}, {"a0": "root", "a1": "toor"}),
    ("  sel: {a0|cased: Root}", {"a0": "Root"}, {"a0": "root"}),
    ("  sel: {a0|contains|cased: Root}", {"a0": "xRootx"}, {"a0": "xrootx"}),
    ("  sel: {a0|windash|contains: ' -c '}", {"a0": "sh /c id"}, {"a0": "sh c id"}),
    ("  sel: {a0|base64offset|contains: '/bin/sh'}", {"a0": B64}, {"a0": base64.b64encode(b"/bin/ls").decode()}),
    ("  sel: {a0: null}", {"a1": "x"}, {"a0": "x"}),
    ("  sel: {a0: 'ba*h'}", {"a0": "BASH"}, {"a0": "bas"}),
    ("  sel: {a0: 'b?sh'}", {"a0": "bash"}, {"a0": "baash"}),
    ("  sel: {a0: 'a\\*b'}", {"a0": "a*b"}, {"a0": "axb"}),
    ("  sel: ['/dev/tcp/', 'nc -e']", {"event.original": "x nc -e y"}, {"event.original": "x nc y"}),
    ("  sel: {type: EXECVE}", {"record_types": "SYSCALL,EXECVE"}, {"record_types": "SYSCALL,PATH"}),
]


@pytest.mark.parametrize(("detection", "hit", "miss"), CASES, ids=[c[0].strip() for c in CASES])
def test_modifier(detection: str, hit: dict[str, Any], miss: dict[str, Any]) -> None:
    node = _rule(detection)
    hit, miss = {**AUDITD, **hit}, {**AUDITD, **miss}
    check = compile_node(node)
    assert check(hit) is True
    assert check(miss) is False
    assert match_arrow(to_arrow([hit, miss]), node) == [0]


def test_logsource_guard_keeps_rules_on_their_source() -> None:
    node = _rule("  sel: {a0: bash}")
    assert not compile_node(node)({"a0": "bash", "event.dataset": "sshd"})


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("title: x\nlogsource: {product: linux}\ndetection: {sel: {a: 1}, condition: sel and missing}\n", "missing"),
        ("title: x\nlogsource: {product: linux}\ndetection: {sel: {a|nosuchmod: 1}, condition: sel}\n", "nosuchmod"),
        ("title: [unclosed\n", "YAML"),
        ("- just a list\n", "mapping"),
        ("title: x\nlogsource: {product: linux}\ndetection: {sel: {a: 1}, condition: sel}\ntests: [1]\n", "tests:"),
        ("title: x\nlogsource: {product: linux}\ndetection: {sel: {a: 1}, condition: sel}\ntests: {match: [x]}\n",
         "tests.match"),
        ("title: x\ncorrelation: {type: value_percentile, rules: [a], timespan: 1h, group-by: [h],"
         " condition: {field: f, lte: 1}}\n", "value_percentile"),
    ],
)
def test_bad_rules_fail_with_a_reason(text: str, reason: str) -> None:
    rules, errors = load_sigma_text(text, "bad.yml")
    assert rules == []
    assert errors and reason in errors[0][1]


@pytest.mark.parametrize(("category", "fires_on", "silent_on"), [
    ("proxy", "squid.access", "nginx.access"),
    ("webserver", "nginx.access", "sshd"),
])
def test_proxy_rules_read_proxy_logs_only_and_webserver_rules_every_access_log(category, fires_on, silent_on):
    rules, errors = load_sigma_text(
        "title: ua\nid: 11111111-2222-3333-4444-666666666666\n"
        f"logsource: {{category: {category}}}\n"
        "detection:\n  sel: {c-useragent|contains: Googlebot}\n  condition: sel\n")
    assert errors == [], errors
    node = rules[0].detection

    def ev(dataset: str) -> dict[str, Any]:
        return {"event.category": ["web"] if dataset != "sshd" else ["authentication"], "event.dataset": dataset,
                "user_agent.original": "Mozilla/5.0 (compatible; Googlebot/2.1)"}
    hit, miss = ev(fires_on), ev(silent_on)
    assert compile_node(node)(hit) and not compile_node(node)(miss)
    assert match_arrow(to_arrow([hit, miss]), node) == [0]
