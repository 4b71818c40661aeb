"""The responder's safety rails: dry-run, rate cap, circuit breaker, timeouts and hung commands,
the program allowlist, refresh instead of duplicates, approval and undo — all audited."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from respond_helpers import alert, block_playbook, playbook, script

from hostwarden.core.errors import HostwardenError
from hostwarden.respond.audit import verify
from hostwarden.respond.runner import Command, Runner
from hostwarden.respond.safety import Breaker, RateCap


def _kinds(r) -> list[str]:  # type: ignore[no-untyped-def]
    return [rec["kind"] for rec in r.audit.records()]


def test_dry_run_changes_nothing_and_is_audited(make_settings, make_responder, recorder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    tool, log = recorder
    deny = tmp_path / "deny.conf"
    deny.write_text("allow all;\n")
    s = make_settings(dry_run=True, firewall={"backend": "nft", "nft": [str(tool)]},
                      waf={"deny_file": str(deny), "modsecurity_file": None, "test": [], "reload": []})
    pbs = [playbook(block_playbook()), playbook(block_playbook(action="waf_deny", pid="w"))]
    r = make_responder(s, pbs)
    out = r.handle(alert(), wait=True)
    assert [o.status for o in out] == ["dry_run", "dry_run"]
    assert "203.0.113.5" in out[0].plan["commands"][0]["stdin"]  # the exact command it would run
    assert not log.exists()  # no command ran
    assert deny.read_text() == "allow all;\n"
    assert r.list_actions() == []
    assert _kinds(r) == ["dry_run", "dry_run"]


def test_dry_run_api_of_a_named_playbook(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, log = recorder
    r = make_responder(make_settings(firewall={"backend": "nft", "nft": [str(tool)]}), [playbook(block_playbook())])
    out = r.dry_run("test-block", alert())
    assert [o.status for o in out] == ["dry_run"] and not log.exists()
    assert r.dry_run("test-block", alert(**{"hostwarden.grade": "L3"}))[0].status == "skipped"


def test_block_then_repeat_is_one_action_and_undo_by_command(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, log = recorder
    r = make_responder(make_settings(firewall={"backend": "nft", "nft": [str(tool)]}), [playbook(block_playbook())])
    first = r.handle(alert(), wait=True)[0]
    assert first.status == "applied"
    again = r.handle(alert(), wait=True)[0]
    assert (again.status, again.id) == ("active", first.id)  # same TTL: nothing re-run
    assert log.read_text().count("timeout 3600s") == 1
    entry = r.list_actions(("active",))[0]
    assert entry["expires"] > time.time() + 3500
    undone = r.undo(first.id)
    assert undone.status == "undone"
    assert "delete element inet hostwarden v4 { 203.0.113.5 }" in log.read_text()
    assert r.list_actions(("active",)) == []
    try:
        r.undo(first.id)
        raise AssertionError("undo of an undone action must fail")
    except HostwardenError as exc:
        assert exc.code.code == "RESP-6012"
    assert _kinds(r) == ["apply", "undo"] and verify(r.settings.audit_file).ok


def test_rate_cap_queues_the_excess_for_approval_nothing_dropped(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, log = recorder
    s = make_settings(firewall={"backend": "nft", "nft": [str(tool)]}, rate={"blocks_per_minute": 3})
    r = make_responder(s, [playbook(block_playbook())])
    outs = [r.handle(alert(f"198.51.100.{i}"), wait=True)[0] for i in range(1, 8)]
    assert [o.status for o in outs] == ["applied"] * 3 + ["pending"] * 4
    assert {o.code for o in outs[3:]} == {"RESP-6004"}
    assert len(r.list_actions(("active",))) + len(r.list_actions(("pending",))) == 7
    assert [rec for rec in r.audit.records() if rec["kind"] == "notice"][0]["code"] == "RESP-6004"
    approved = r.approve(outs[5].id)  # a person may approve past the cap
    assert approved.status == "applied" and "198.51.100.6" in log.read_text()


def test_a_capped_action_is_released_when_the_cap_allows_again(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, log = recorder
    now = [0.0]
    s = make_settings(firewall={"backend": "nft", "nft": [str(tool)]}, rate={"blocks_per_minute": 1})
    r = make_responder(s, [playbook(block_playbook())], monotonic=lambda: now[0])
    assert r.handle(alert("198.51.100.1"), wait=True)[0].status == "applied"
    held = r.handle(alert("198.51.100.2"), wait=True)[0]
    assert (held.status, held.code) == ("pending", "RESP-6004")
    still = r.handle(alert("198.51.100.2"), wait=True)[0]
    assert (still.id, still.status) == (held.id, "pending")  # the same entry, not a second one
    now[0] = 61.0
    released = r.handle(alert("198.51.100.2"), wait=True)[0]
    assert (released.id, released.status) == (held.id, "applied")
    assert "198.51.100.2" in log.read_text()
    assert "released" in _kinds(r)


def test_rate_cap_window_slides() -> None:
    now = [0.0]
    cap = RateCap(2, clock=lambda: now[0])
    assert [cap.take(), cap.take(), cap.take()] == [True, True, False]
    now[0] = 59.9
    assert not cap.take()
    now[0] = 60.0
    assert cap.take()


def test_breaker_turns_automatic_to_manual_after_repeated_failures(make_settings, make_responder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    failing = script(tmp_path / "nft", "echo 'Error: Could not process rule' >&2\nexit 1\n")
    s = make_settings(firewall={"backend": "nft", "nft": [str(failing)]}, breaker={"failures": 3, "window_seconds": 60})
    r = make_responder(s, [playbook(block_playbook())])
    outs = [r.handle(alert(f"198.51.100.{i}"), wait=True)[0] for i in range(1, 6)]
    assert [(o.status, o.code) for o in outs] == [("failed", "RESP-6006")] * 3 + [("pending", "RESP-6007")] * 2
    notices = [rec for rec in r.audit.records() if rec["kind"] == "notice"]
    assert notices and notices[0]["code"] == "RESP-6007"


def test_breaker_half_opens_after_cooldown() -> None:
    now = [0.0]
    b = Breaker(failures=2, window=10, cooldown=30, clock=lambda: now[0])
    assert not b.record("x", ok=False) and b.record("x", ok=False)
    assert not b.allow("x") and b.allow("y")  # per action kind
    now[0] = 31
    assert b.allow("x") and not b.allow("x")  # one trial
    assert b.record("x", ok=False)  # trial failed: open again
    now[0] = 62
    assert b.allow("x")
    b.record("x", ok=True)
    assert b.allow("x") and b.allow("x")


def test_failures_outside_the_window_do_not_open_the_breaker() -> None:
    now = [0.0]
    b = Breaker(failures=2, window=10, cooldown=30, clock=lambda: now[0])
    b.record("x", ok=False)
    now[0] = 11
    assert not b.record("x", ok=False) and b.allow("x")


def test_hung_command_times_out_and_the_next_action_runs_promptly(make_settings, make_responder, tmp_path,
                                                                  recorder) -> None:  # type: ignore[no-untyped-def]
    hung = script(tmp_path / "nft", "sleep 3600\n")  # never returns (its child holds the pipes too)
    deny = tmp_path / "deny.conf"
    s = make_settings(command_timeout=3, firewall={"backend": "nft", "nft": [str(hung)]},
                      waf={"deny_file": str(deny), "modsecurity_file": None, "test": [], "reload": []})
    r = make_responder(s, [playbook(block_playbook()), playbook(block_playbook(action="waf_deny", pid="w"))])
    blocking = r.handle(alert("198.51.100.1"))  # both actions for this incident are submitted
    hung_block = next(o for o in blocking if o.action == "block_ip")
    deny_first = next(o for o in blocking if o.action == "waf_deny")
    assert deny_first.future.result(timeout=60).status == "applied"
    next_incident = r.handle(alert("198.51.100.2"))
    waf = next(o for o in next_incident if o.action == "waf_deny").future.result(timeout=60)
    assert waf.status == "applied"
    assert not hung_block.future.done()  # the next incident was answered while the hung one waited
    result = hung_block.future.result(timeout=60)
    assert (result.status, result.code) == ("failed", "RESP-6005")
    assert "198.51.100.2" in deny.read_text()


def test_runner_kills_the_whole_process_group_on_timeout(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    tool = script(tmp_path / "tool", f"sleep 3600 & echo $! > {marker}\nwait\n")
    runner = Runner({str(tool)}, [], timeout=0.5)
    try:
        runner.run(Command([str(tool)]))
        raise AssertionError("must time out")
    except HostwardenError as exc:
        assert exc.code.code == "RESP-6005"
    pid = int(marker.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline, "the grandchild survived the timeout"
        time.sleep(0.05)


def test_runner_refuses_unconfigured_programs(tmp_path: Path) -> None:
    runner = Runner({"nft"}, [["ip", "netns", "exec", "x"]], timeout=1)
    for cmd in (Command(["rm", "-rf", str(tmp_path)]), Command(["nft"], prefix=["sudo"]), Command([])):
        try:
            runner.run(cmd)
            raise AssertionError(cmd)
        except HostwardenError as exc:
            assert exc.code.code == "RESP-6018"
    assert tmp_path.exists()


def test_missing_notify_channel_is_skipped_not_a_crash(make_settings, make_responder) -> None:  # type: ignore[no-untyped-def]
    r = make_responder(make_settings(), [playbook("""
    id: n
    trigger: {grades: [L2]}
    actions: [{notify: {channel: nowhere}}]
    """)])
    out = r.handle(alert(), wait=True)
    assert [(o.status, o.code) for o in out] == [("skipped", "RESP-6014")]


def test_handle_is_safe_from_many_threads(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, log = recorder
    s = make_settings(firewall={"backend": "nft", "nft": [str(tool)]}, rate={"blocks_per_minute": 1000})
    r = make_responder(s, [playbook(block_playbook())])
    threads = [threading.Thread(target=lambda k=k: [r.handle(alert(f"198.51.{k}.{i}"), wait=True) for i in range(10)])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(r.list_actions(("active",))) == 40
    assert verify(s.audit_file).ok
