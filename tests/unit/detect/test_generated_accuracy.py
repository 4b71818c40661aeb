"""Precision and recall on the bench generator's labelled logs (small size; the benchmark runs 1M).

The generator (bench/generate.py) writes auth.log and nginx access.log with ground truth:
fast/slow brute force, spray, a compromise after brute force, web attackers of nine kinds, a web
shell, login attackers (WordPress wp-login.php and XML-RPC, credential stuffing, one account from
many addresses), and benign users with look-alikes (one mistyped password then success, "select
chair", an editor's typo, Jetpack's and pingbacks' XML-RPC calls, the browser's basic-auth 401).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from hostwarden.collect.files import FileReader
from hostwarden.core.checkpoint import MemoryCheckpoints
from hostwarden.detect.batch import detect_store
from hostwarden.detect.ruleset import load_rules
from hostwarden.normalize.source import context_for
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import EventStore

GENERATOR = Path(__file__).resolve().parents[3] / "bench" / "generate.py"
LINES = 15_000

pytestmark = pytest.mark.skipif(not GENERATOR.exists(), reason="bench/generate.py absent")


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("hw_bench_generate", GENERATOR)
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    sys.modules["hw_bench_generate"] = gen
    spec.loader.exec_module(gen)
    return gen


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    gen = _generator()
    base = tmp_path_factory.mktemp("generated")
    paths = {kind: gen.generate(kind, LINES, base / "logs", seed=7) for kind in ("auth", "access")}
    truth = {k: json.loads((base / "logs" / f"{k}.log.truth.json").read_text()) for k in paths}
    with EventStore(base / "data") as store:
        for path in paths.values():
            ingest_chunks(store, FileReader(path, MemoryCheckpoints()).read_chunks(),
                          ctx=context_for(str(path), path.stat().st_mtime))
        alerts = detect_store(store, load_rules(), append=False).alerts
    return alerts, truth


def _flagged(alerts: list[dict[str, Any]], web: bool) -> set[str]:
    return {a["source.ip"] for a in alerts if a.get("source.ip")
            and ("SSH" not in a["rule.name"]) == web}


def _score(flagged: set[str], attackers: set[str], innocent: set[str]) -> tuple[float, float]:
    hit = flagged & attackers
    wrong = flagged & innocent
    precision = len(hit) / max(len(hit) + len(wrong), 1)
    return precision, len(hit) / len(attackers)


def test_ssh_attackers_found_with_precision_and_recall(run: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    alerts, truth = run
    classes = truth["auth"]["classes"]
    attackers = {x["ip"] for name in ("brute_force_fast", "brute_force_slow", "spray", "compromised_after_bruteforce")
                 for x in classes[name]}
    innocent = set(classes["benign"]["ips"])
    assert classes["benign"]["typo_then_success"] > 0  # the look-alike is in the data
    precision, recall = _score(_flagged(alerts, web=False), attackers, innocent)
    assert precision >= 0.99 and recall >= 0.99, (precision, recall)


def test_web_attackers_found_with_precision_and_recall(run: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    alerts, truth = run
    classes = truth["access"]["classes"]
    attackers = {x["ip"] for kind in classes["web_attackers"].values() for x in kind}
    attackers |= {x["ip"] for x in classes["webshell"]}
    attackers |= {x["ip"] for name in LOGIN_CLASSES for x in classes["login_attackers"][name]}
    innocent = set(classes["benign"]["ips"])
    assert classes["benign"]["lookalike_requests"] > 0
    precision, recall = _score(_flagged(alerts, web=True), attackers, innocent)
    assert precision >= 0.99 and recall >= 0.99, (precision, recall)


def test_compromise_is_one_l1_alert_with_what_happened_next(run: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    alerts, truth = run
    compromise = truth["auth"]["classes"]["compromised_after_bruteforce"][0]
    l1 = [a for a in alerts if a["event.severity"] == 1 and "SSH" in a["rule.name"]]
    assert [(a["rule.name"], a["source.ip"], a["user.name"]) for a in l1] == [
        ("SSH login success after brute force", compromise["ip"], compromise["user"])]
    follow = json.loads(l1[0]["hostwarden.detail"])["follow_up"]
    excerpts = " ".join(f["excerpt"] for f in follow)
    for cmd in compromise["post_compromise"]:
        assert cmd in excerpts


LOGIN_CLASSES = ("wordpress_bruteforce", "xmlrpc_bruteforce", "xmlrpc_multicall", "credential_stuffing")


@pytest.mark.parametrize("name", LOGIN_CLASSES)
def test_each_login_attack_class_found_by_its_rules_with_precision_and_recall_1(
        run: tuple[list[dict[str, Any]], dict[str, Any]], name: str) -> None:
    """The per-class accuracy table: a class's rules flag all its addresses and no benign one
    (editors' typos, customers' logins, Jetpack and pingbacks, staff's basic-auth 401s)."""
    alerts, truth = run
    classes = truth["access"]["classes"]
    rules = _generator().weblogin.CLASS_RULES[name]
    attackers = {x["ip"] for x in classes["login_attackers"][name]}
    innocent = set(classes["benign"]["ips"])
    assert classes["benign"]["login_typos"] > 0  # the look-alike is in the data
    flagged = {a["source.ip"] for a in alerts if a["rule.name"] in rules}
    assert _score(flagged, attackers, innocent) == (1.0, 1.0)
    assert flagged <= attackers | {x["ip"] for v in classes["login_attackers"].values() for x in v if "ip" in x}


def test_web_l1_alerts_are_exactly_the_logins_after_brute_force(run: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    alerts, truth = run
    login = truth["access"]["classes"]["login_attackers"]
    expected = {("WordPress login success after brute force", x["ip"]) for x in login["wordpress_bruteforce"]
                if "success_time" in x}
    expected |= {("Web login success after brute force", x["ip"]) for x in login["credential_stuffing"]
                 if x["hits"] and x["via"] == "form"}
    assert len(expected) >= 1
    l1 = {(a["rule.name"], a["source.ip"]) for a in alerts if a["event.severity"] == 1 and "SSH" not in a["rule.name"]}
    assert l1 == expected


def test_one_account_from_many_addresses_names_the_account(run: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    alerts, truth = run
    (campaign,) = truth["access"]["classes"]["login_attackers"]["distributed_basic_auth"]
    rule = _generator().weblogin.ACCOUNT_RULE
    named = {a["user.name"] for a in alerts if a["rule.name"] == rule}
    assert named == {campaign["user"]}
    assert {a["source.ip"] for a in alerts if a["rule.name"] == rule} <= set(campaign["ips"]) | {None}


def test_distributed_brute_force_names_the_targeted_account(run: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    alerts, truth = run
    target = truth["auth"]["classes"]["distributed_targets"][0]["user"]
    distributed = {a["user.name"] for a in alerts if a["rule.name"] == "SSH distributed brute force against one account"}
    assert target in distributed
    benign_users = set(truth["auth"]["classes"]["benign"]["users"]) - {target}
    assert not distributed & benign_users


def test_streaming_and_batch_raise_the_same_alerts(tmp_path: Path) -> None:
    """The per-event path (Python closures) and the bulk path (DuckDB) agree at the alert level."""
    from hostwarden.detect.engine import Engine

    gen = _generator()
    paths = [gen.generate(kind, 6000, tmp_path / "logs", seed=11) for kind in ("auth", "access")]
    rules = load_rules()
    with EventStore(tmp_path / "data") as store:
        for path in paths:
            ingest_chunks(store, FileReader(path, MemoryCheckpoints()).read_chunks(),
                          ctx=context_for(str(path), path.stat().st_mtime))
        batch = detect_store(store, rules, append=False).alerts
        order = 'SELECT * FROM events ORDER BY "@timestamp", "log.file.path", "log.offset"'
        events = store.con.sql(order).to_arrow_table().to_pylist()
    engine = Engine(rules)
    for ev in events:
        engine.feed(ev)
    engine.flush()

    def summary(alerts: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
        return {(a["rule.id"], a["message"], json.loads(a["hostwarden.detail"])["count"]) for a in alerts}

    assert len(batch) > 20
    assert summary(engine.alerts) == summary(batch)
