"""Typed results: strict grades, schema-checked fields, one ECS mapping both ways; bounded waits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostwarden.core.errors import HostwardenError
from hostwarden.core.locks import held, join
from hostwarden.core.records import Alert, Evidence, EvidenceItem, Finding, Grade

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, grade", [("L1", Grade.L1), ("l2", Grade.L2), (" L3 ", Grade.L3)])
def test_grade_parse_accepts_grades_in_any_case(text: str, grade: Grade) -> None:
    assert Grade.parse(text) is grade


@pytest.mark.parametrize("text", ["high", "critical", "1", "L9", "L0", "", "LL1"])
def test_grade_parse_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="not a grade"):
        Grade.parse(text)


def test_grade_order() -> None:
    assert Grade.L1.at_least(Grade.L2) and Grade.L2.at_least(Grade.L2) and not Grade.L3.at_least(Grade.L2)
    assert Grade.from_rank(1) is Grade.L1 and Grade.from_rank(None) is Grade.L3 and Grade.from_rank("x", Grade.L2) is Grade.L2


def test_a_finding_refuses_fields_the_schema_does_not_know() -> None:
    with pytest.raises(KeyError, match="package.colour"):
        Finding(scanner="vuln", rule_id="X", title="t", message="m", grade=Grade.L2, fields={"package.colour": "red"})


def _finding(**over: object) -> Finding:
    base: dict = dict(scanner="vuln", rule_id="PYSEC-1", title="advisory", message="PYSEC-1 in requests 2.25.0",
                      grade=Grade.L2, kind="vulnerability",
                      evidence=Evidence((EvidenceItem(file="/srv/app/requirements.txt", line=1, advisory="PYSEC-1"),),
                                        {"fixed_version": "2.31.0"}),
                      fix="pip install 'requests>=2.31.0'",
                      fields={"package.name": "requests", "package.version": "2.25.0", "package.type": "PyPI",
                              "vulnerability.score.base": 6.1, "hostwarden.vuln.aliases": ["CVE-1"]})
    base.update(over)
    return Finding(**base)


def test_finding_ecs_round_trip() -> None:
    f = _finding().with_scan("scan-1", T0, **{"host.name": "web-01"})
    back = Finding.from_ecs(f.to_ecs())
    assert back == f
    assert back.to_ecs()["hostwarden.evidence"]["items"][0] == {"file": "/srv/app/requirements.txt", "line": 1,
                                                                "advisory": "PYSEC-1"}


def test_the_same_subject_keeps_its_fingerprint_across_wording_and_version() -> None:
    a = _finding()
    b = _finding(message="PYSEC-1 in requests 2.26.0 (fixed in 2.31.0)",
                 fields={**a.fields, "package.version": "2.26.0"})
    other = _finding(fields={**a.fields, "package.name": "urllib3"})
    assert a.fingerprint == b.fingerprint != other.fingerprint
    assert a.with_scan("s1", T0).id != a.with_scan("s2", T0).id  # one row per scan


@given(st.text(), st.integers(min_value=1, max_value=10**6), st.sampled_from(list(Grade)))
def test_alert_ecs_round_trip(message: str, count: int, grade: Grade) -> None:
    alert = Alert(id="a1", rule_id="ssh-bf", rule_name="SSH brute force", message=message, grade=grade, time=T0,
                  detail={"count": count, "events": [{"id": "e1", "time": "t", "excerpt": "Failed password"}],
                          "fix": "block it"},
                  host_name="web-01", source_ip="203.0.113.9", user_name="root", techniques=("T1110",),
                  tactics=("credential-access",), fields={"event.kind": "alert", "log.file.path": "hostwarden:detect"})
    back = Alert.from_ecs(alert.to_ecs())
    assert back == alert
    assert back.count == count and back.fix == "block it"
    assert back.evidence.items[0].event_ids == ("e1",)


def test_held_gives_up_with_a_code_when_the_holder_is_stuck() -> None:
    lock = threading.Lock()
    lock.acquire()  # a stuck holder
    with pytest.raises(HostwardenError) as err, held(lock, "the store", timeout=0.1):
        pass
    assert err.value.code.code == "CSA-5006" and "the store" in err.value.message
    lock.release()
    with held(lock, "the store", timeout=0.1):
        assert lock.locked()
    assert not lock.locked()


def test_join_gives_up_on_a_thread_that_does_not_stop() -> None:
    never = threading.Event()
    thread = threading.Thread(target=never.wait, daemon=True)
    thread.start()
    with pytest.raises(HostwardenError, match="did not stop"):
        join(thread, "the worker", timeout=0.1)
    never.set()
    join(thread, "the worker", timeout=5)


def test_a_lone_surrogate_in_a_field_does_not_break_the_fingerprint() -> None:
    """File names that are not UTF-8 arrive as lone surrogates (os.fsdecode): still one finding."""
    f = _finding(fields={"file.path": "/var/www/sh\udcff.php"})
    g = _finding(fields={"file.path": "/var/www/sh\udcfe.php"})
    assert f.fingerprint != g.fingerprint and len(f.id) == 32
