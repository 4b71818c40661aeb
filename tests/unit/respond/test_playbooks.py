"""Playbooks: the shipped set loads and its samples behave; bad playbooks get RESP- codes that
name the key; YAML aliases and tags are refused; conditions and triggers mean what they say."""

from __future__ import annotations

from pathlib import Path

import pytest
from respond_helpers import SSH_FAST, alert, playbook

from hostwarden.core.errors import HostwardenError
from hostwarden.respond.playbook import check_samples, load_playbooks
from hostwarden.respond.settings import BUILTIN_PLAYBOOKS, RespondSettings

RULE_IDS = {line.split("id:", 1)[1].strip() for f in (BUILTIN_PLAYBOOKS.parents[1] / "rules" / "detect").glob("*.yml")
            for line in f.read_text().splitlines() if line.startswith("id:")}


def test_shipped_playbooks_load_and_every_one_has_both_samples() -> None:
    books, errors = load_playbooks([BUILTIN_PLAYBOOKS])
    assert errors == []
    assert len(books) >= 6
    for pb in books:
        assert pb.samples.get("match") and pb.samples.get("nomatch"), pb.id
        for sample in pb.samples["match"]:
            assert pb.matches(sample)
        for sample in pb.samples["nomatch"]:
            assert not pb.matches(sample)


def test_shipped_playbooks_name_existing_detection_rules() -> None:
    books, _ = load_playbooks([BUILTIN_PLAYBOOKS])
    for pb in books:
        for pattern in pb.rules.patterns:
            if "*" not in pattern:
                assert pattern in RULE_IDS, f"{pb.id}: {pattern} is not a rule in rules/detect"


def test_shipped_disruptive_actions_wait_for_approval() -> None:
    books, _ = load_playbooks([BUILTIN_PLAYBOOKS])
    approvals = {(pb.id, a.name): a.approval for pb in books for a in pb.actions}
    for (pid, name), approval in approvals.items():
        if name in ("kill_process", "quarantine_file", "disable_user", "isolate_host"):
            assert approval == "manual", pid
    assert approvals[("ssh-brute-force-block", "block_ip")] == "auto"


BAD = {
    "unknown key": ("id: x\ntrigger: {grades: [L1]}\nactions: [{block_ip: {}}]\nfoo: 1\n", "unknown key"),
    "no trigger": ("id: x\nactions: [{block_ip: {}}]\n", "trigger"),
    "bad grade": ("id: x\ntrigger: {grades: [L9]}\nactions: [{block_ip: {}}]\n", "trigger.grades"),
    "unknown action": ("id: x\ntrigger: {grades: [L1]}\nactions: [{nuke: {}}]\n", "actions[0]: unknown action"),
    "bad ttl": ("id: x\ntrigger: {grades: [L1]}\nactions: [{block_ip: {ttl: forever}}]\n", "actions[0].block_ip.ttl"),
    "ttl too long": ("id: x\ntrigger: {grades: [L1]}\nactions: [{block_ip: {ttl: 90d}}]\n", "actions[0].block_ip.ttl"),
    "unknown param": ("id: x\ntrigger: {grades: [L1]}\nactions: [{block_ip: {bogus: 1}}]\n", "block_ip.bogus"),
    "bad approval": ("id: x\ntrigger: {grades: [L1]}\nactions: [{block_ip: {}}]\napproval: maybe\n", "approval"),
    "bad regex": ("id: x\ntrigger: {grades: [L1]}\nconditions: [{field: m, regex: '(?=x)'}]\n"
                  "actions: [{block_ip: {}}]\n", "conditions[0]"),
    "bad cidr": ("id: x\ntrigger: {grades: [L1]}\nconditions: [{field: source.ip, cidr: [10.0.0.0/33]}]\n"
                 "actions: [{block_ip: {}}]\n", "conditions[0]"),
    "two operators": ("id: x\ntrigger: {grades: [L1]}\nconditions: [{field: a, equals: 1, in: [1]}]\n"
                      "actions: [{block_ip: {}}]\n", "exactly one"),
    "no actions": ("id: x\ntrigger: {grades: [L1]}\nactions: []\n", "actions"),
    "no id": ("trigger: {grades: [L1]}\nactions: [{block_ip: {}}]\n", "`id`"),
    "bad signal": ("id: x\ntrigger: {grades: [L1]}\nactions: [{kill_process: {signal: HUP}}]\n", "kill_process.signal"),
    "sample fails": ("id: x\ntrigger: {grades: [L1]}\nactions: [{block_ip: {}}]\n"
                     "samples: {match: [{hostwarden.grade: L2, source.ip: 203.0.113.5}]}\n", "samples.match[0]"),
    "sample without target": ("id: x\ntrigger: {grades: [L1]}\nactions: [{block_ip: {}}]\n"
                              "samples: {match: [{hostwarden.grade: L1, source.ip: not-an-ip}]}\n", "samples.match[0]"),
    "nomatch triggers": ("id: x\ntrigger: {grades: [L1]}\nactions: [{block_ip: {}}]\n"
                         "samples: {nomatch: [{hostwarden.grade: L1}]}\n", "samples.nomatch[0]"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_playbook_is_resp_6002_naming_the_key(tmp_path: Path, name: str) -> None:
    text, where = BAD[name]
    (tmp_path / "bad.yml").write_text(text)
    (tmp_path / "good.yml").write_text("id: good\ntrigger: {grades: [L1]}\nactions: [{block_ip: {}}]\n")
    books, errors = load_playbooks([tmp_path])
    assert [b.id for b in books] == ["good"]  # one bad playbook does not stop the others
    assert len(errors) == 1
    assert errors[0].code.code == "RESP-6002"
    assert where in errors[0].message and "bad.yml" in errors[0].message


@pytest.mark.parametrize("text", [
    "id: x\ntrigger: &t {grades: [L1]}\nactions: [{block_ip: {}}]\n",
    "base: &b {grades: [L1]}\nid: x\ntrigger: *b\nactions: [{block_ip: {}}]\n",
    "id: !!python/name:os.system x\ntrigger: {grades: [L1]}\nactions: [{block_ip: {}}]\n",
    "id: x\ntrigger: {grades: !!set {L1: null}}\nactions: [{block_ip: {}}]\n",
    "id: !custom x\ntrigger: {grades: [L1]}\nactions: [{block_ip: {}}]\n",
])
def test_yaml_anchors_aliases_and_tags_are_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "p.yml").write_text(text)
    books, errors = load_playbooks([tmp_path])
    assert books == []
    assert [e.code.code for e in errors] == ["RESP-6003"]


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    doc = "id: same\ntrigger: {grades: [L1]}\nactions: [{block_ip: {}}]\n"
    (tmp_path / "a.yml").write_text(doc)
    (tmp_path / "b.yml").write_text(doc)
    books, errors = load_playbooks([tmp_path])
    assert len(books) == 1 and "already used" in errors[0].message


def test_triggers_combine_rules_grades_and_tags() -> None:
    pb = playbook(f"""
    id: t
    trigger: {{rules: ["{SSH_FAST}", "Web*scanner*"], grades: [L1, L2], tags: ["attack.t1110*"]}}
    actions: [{{block_ip: {{}}}}]
    """)
    assert pb.matches(alert(tags=["attack.t1110.001"]))
    assert pb.matches(alert(**{"threat.technique.id": ["T1110.001"]}))  # technique ids count as tags
    assert not pb.matches(alert(tags=["attack.t1059"]))
    assert pb.matches({"rule.name": "Web Scanner or bad bot", "event.severity": 1, "tags": ["attack.t1110"]})
    assert not pb.matches({**alert(tags=["attack.t1110"]), "hostwarden.grade": "L3"})
    assert not pb.matches({**alert(tags=["attack.t1110"]), "rule.id": "other"})


def test_conditions() -> None:
    pb = playbook("""
    id: c
    trigger: {grades: [L1, L2]}
    conditions:
      - {field: source.ip, cidr: [203.0.113.0/24, "2001:db8::/32"]}
      - {field: user.name, in: [root, admin]}
      - {field: message, regex: "(?i)brute"}
      - {field: host.name, glob: ["web-*"]}
      - {field: event.severity, equals: 2}
      - {field: process.pid, exists: false}
      - {field: source.ip, cidr: [203.0.113.128/25], negate: true}
    actions: [{block_ip: {}}]
    """)
    good = {"hostwarden.grade": "L2", "event.severity": 2, "source.ip": "203.0.113.5", "user.name": ["x", "root"],
            "message": "SSH BRUTE force", "host.name": "web-01"}
    assert pb.matches(good)
    assert pb.matches({**good, "source.ip": "::ffff:203.0.113.5", "event.severity": "2"})
    for change in ({"source.ip": "198.51.100.1"}, {"source.ip": "203.0.113.200"}, {"user.name": "bob"},
                   {"message": "nothing"}, {"host.name": "db-01"}, {"process.pid": 1}, {"event.severity": 3},
                   {"source.ip": "garbage"}):
        assert not pb.matches({**good, **change}), change


def test_regex_conditions_run_in_linear_time() -> None:
    pb = playbook("""
    id: r
    trigger: {grades: [L1]}
    conditions: [{field: message, regex: "(a+)+$"}]
    actions: [{block_ip: {}}]
    """)
    # exponential for a backtracking engine; RE2 answers at once
    assert not pb.matches({"hostwarden.grade": "L1", "message": "a" * 5000 + "!"})


def test_approval_defaults() -> None:
    pb = playbook("""
    id: a
    trigger: {grades: [L1]}
    actions:
      - block_ip: {}
      - kill_process: {}
      - quarantine_file: {}
        approval: auto
    approval: auto
    """)
    assert [a.approval for a in pb.actions] == ["auto", "manual", "auto"]
    held = playbook("""
    id: m
    trigger: {grades: [L1]}
    actions: [{block_ip: {}}]
    approval: manual
    """)
    assert held.actions[0].approval == "manual"


def test_check_samples_rejects_a_sample_whose_target_is_invalid() -> None:
    pb = playbook("""
    id: s
    trigger: {grades: [L1]}
    actions: [{disable_user: {}}]
    samples: {match: [{hostwarden.grade: L1, user.name: "-rf /"}]}
    """)
    with pytest.raises(HostwardenError) as exc:
        check_samples(pb, RespondSettings())
    assert exc.value.code.code == "RESP-6002"
