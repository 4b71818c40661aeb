"""Response state survives a restart: expired actions are undone, active ones re-asserted with
their remaining time, interrupted ones wait for approval, a damaged file is kept aside."""

from __future__ import annotations

import re
import time

from respond_helpers import alert, block_playbook, playbook

from hostwarden.respond.audit import verify


def test_restart_expires_what_ran_out_and_reasserts_the_rest(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, log = recorder
    s = make_settings(firewall={"backend": "nft", "nft": [str(tool)]})
    t0 = 1_800_000_000.0
    first = make_responder(s, [playbook(block_playbook(ttl="60s")), playbook(block_playbook(ttl="1h", pid="long"))],
                           clock=lambda: t0)
    short = make_responder(s, [playbook(block_playbook(ttl="60s"))], clock=lambda: t0)
    assert short.handle(alert("198.51.100.1"), wait=True)[0].status == "applied"
    first.handle(alert("2001:db8::9"), wait=True)  # 60 s and 1 h playbooks: the longest wins
    entries = {e["target"]["value"]: e for e in first.list_actions(("active",))}
    first.close()
    short.close()
    assert entries["198.51.100.1"]["expires"] == t0 + 60
    assert entries["2001:db8::9"]["expires"] == t0 + 3600
    log.write_text("")

    later = make_responder(s, [], clock=lambda: t0 + 120)
    outcomes = later.start()
    by_target = {o.target: o.status for o in outcomes}
    assert by_target == {"ip:198.51.100.1": "expired", "ip:2001:db8::9": "active"}
    calls = log.read_text()
    assert "delete element inet hostwarden v4 { 198.51.100.1 }" in calls
    assert re.search(r"(?:add|create) element inet hostwarden v6 \{ 2001:db8::9 timeout 3480s \}", calls)
    assert sorted(e["status"] for e in later.list_actions()) == ["active", "expired"]
    kinds = [rec["kind"] for rec in later.audit.records()]
    assert kinds[-2:] == ["expire", "reassert"] and verify(s.audit_file).ok


def test_the_longest_ttl_wins_whatever_order_the_workers_run(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, log = recorder
    s = make_settings(firewall={"backend": "nft", "nft": [str(tool)]})
    for round_ in range(5):
        books = [playbook(block_playbook(ttl="60s", pid="a")), playbook(block_playbook(ttl="1h", pid="b"))]
        r = make_responder(s, books if round_ % 2 else books[::-1])
        ip = f"198.51.100.{round_ + 1}"
        r.handle(alert(ip), wait=True)
        (entry,) = [e for e in r.list_actions(("active",)) if e["target"]["value"] == ip]
        assert entry["expires"] - time.time() > 3500
        timeouts = re.findall(rf"(?:add|create) element inet hostwarden v4 {{ {re.escape(ip)} timeout (\d+)s }}", log.read_text())
        assert timeouts[-1] == "3600"  # the kernel holds the long one


def test_expiry_timer_undoes_on_time(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, log = recorder
    s = make_settings(firewall={"backend": "nft", "nft": [str(tool)]})
    r = make_responder(s, [playbook(block_playbook(ttl="1s"))])
    r.start()
    assert r.handle(alert(), wait=True)[0].status == "applied"
    deadline = time.monotonic() + 30
    while r.list_actions(("active",)):
        assert time.monotonic() < deadline, "the block did not expire"
        time.sleep(0.05)
    assert r.list_actions(("expired",))
    assert "delete element inet hostwarden v4 { 203.0.113.5 }" in log.read_text()


def test_an_action_interrupted_by_a_crash_waits_for_approval(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, _ = recorder
    s = make_settings(firewall={"backend": "nft", "nft": [str(tool)]})
    r = make_responder(s, [playbook(block_playbook())])
    (out,) = r.handle(alert(), wait=True)
    r.state.update(out.id, status="submitted")  # as a crash between submission and outcome leaves it
    r.close()
    again = make_responder(s, [])
    again.start()
    (entry,) = again.list_actions()
    assert entry["status"] == "pending" and "restart" in entry["reason"]["message"]


def test_an_action_allowlisted_since_is_undone_on_start(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, log = recorder
    r = make_responder(make_settings(firewall={"backend": "nft", "nft": [str(tool)]}), [playbook(block_playbook())])
    r.handle(alert(), wait=True)
    r.close()
    s = make_settings(firewall={"backend": "nft", "nft": [str(tool)]}, allowlist={"cidrs": ["203.0.113.0/24"]})
    outcomes = make_responder(s, []).start()
    assert [o.status for o in outcomes] == ["undone"]
    assert "delete element inet hostwarden v4 { 203.0.113.5 }" in log.read_text()


def test_a_damaged_state_file_is_kept_aside(make_settings, make_responder) -> None:  # type: ignore[no-untyped-def]
    s = make_settings()
    s.state_file.parent.mkdir(parents=True, exist_ok=True)
    s.state_file.write_bytes(b"this is not a database" * 100)
    r = make_responder(s, [])
    assert r.list_actions() == []
    assert any(n.startswith("RESP-6011") for n in r.state.notes)
    kept = list(s.state_file.parent.glob("state.sqlite.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"this is not a database")
    assert r.handle(alert(), wait=True) == []  # the new state works


def test_state_is_private_and_shared_between_processes(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, _ = recorder
    s = make_settings(firewall={"backend": "nft", "nft": [str(tool)]})
    r = make_responder(s, [playbook(block_playbook())])
    (out,) = r.handle(alert(), wait=True)
    assert s.state_file.stat().st_mode & 0o777 == 0o600
    other = make_responder(s, [])  # e.g. the CLI while watch runs
    assert other.undo(out.id).status == "undone"
    assert r.list_actions(("active",)) == [] and r.state.get(out.id)["status"] == "undone"


def test_many_active_entries_keep_changes_cheap(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hostwarden.respond.state import StateStore

    store = StateStore(tmp_path / "s.sqlite", fsync=False, history_keep=10)
    for i in range(5000):
        store.put({"id": f"a{i}", "status": "active", "action": "block_ip", "target": {"kind": "ip", "value": f"10.{i}"},
                   "created": i, "expires": 10_000 + i, "plan": {}})
    assert store.live("block_ip", "ip:10.4321")["id"] == "a4321"
    assert [e["id"] for e in store.due(10_002)] == ["a0", "a1", "a2"]
    assert store.next_expiry() == 10_000
    for i in range(30):
        store.update(f"a{i}", status="expired", finished=20_000 + i)
    assert store.prune() == 20 and len(store.entries()) == 4980  # the 10 newest finished stay, live ones too
