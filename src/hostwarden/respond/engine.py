"""The responder: alerts in, playbooks matched, actions run safely — the one way actions run.

For each (playbook, action, target) an alert yields:

1. the target is checked against the allowlist (refused → audited, RESP-6001);
2. the action plans (reads only: no runner is handed to `plan`);
3. dry-run mode stops here (the plan is audited as `dry_run`);
4. an action already active on the same target is left alone or refreshed (a longer TTL),
   one already pending is not queued twice;
5. manual approval, an open circuit breaker or a reached rate cap queue it as `pending`
   (RESP-6007 / RESP-6004 say why) — nothing is dropped;
6. otherwise it goes to the worker pool, where `_execute` checks the plan once more
   (`Safety.check`: allowlist, protected targets) and applies it with an `ActionContext`
   whose runner enforces timeouts and the program allowlist.

Every apply, undo, expiry, refusal, approval and failure is an audit record. Active actions
with a TTL are undone when they expire (a timer thread; on restart `start()` undoes what
expired while hostwarden was down and re-asserts the rest).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from hostwarden.core.errors import (
    RESP_BREAKER_OPEN,
    RESP_COMMAND_FAILED,
    RESP_NO_BACKEND,
    RESP_NO_SUCH_ACTION,
    RESP_RATE_CAPPED,
    RESP_TARGET_INVALID,
    HostwardenError,
)
from hostwarden.respond.actions import ACTION_TYPES, Action, ActionContext, Plan, Target
from hostwarden.respond.allowlist import Allowlist, discover_host_addresses
from hostwarden.respond.audit import AuditLog
from hostwarden.respond.fileops import FileOps
from hostwarden.respond.outcome import Outcome, public_undo
from hostwarden.respond.playbook import ActionSpec, Playbook, load_playbooks
from hostwarden.respond.runner import Runner
from hostwarden.respond.safety import Breaker, RateCap, Safety
from hostwarden.respond.settings import RespondSettings
from hostwarden.respond.state import StateStore

log = logging.getLogger(__name__)

REFRESH_MARGIN = 0.1  # re-apply an active block only if the new expiry is this much (of the TTL) later


class KeyedLocks:
    """One lock per key (an action on a target), dropped when nobody holds or waits for it:
    work on one target is serialised, unrelated targets never wait on each other."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class Responder:
    def __init__(self, settings: RespondSettings, playbooks: list[Playbook] | None = None, *,
                 host_addresses: list[str] | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if settings.state_file is None or settings.audit_file is None or settings.quarantine_dir is None:
            raise ValueError("settings must be resolved against a data dir (RespondSettings.resolved)")
        self.settings = settings
        self.clock = clock
        if playbooks is None:
            playbooks, errors = load_playbooks(settings.playbook_paths(), settings)
            for err in errors:
                log.error("%s", err)
        self.playbooks = playbooks
        self.actions: dict[str, Action] = {name: cls(settings) for name, cls in ACTION_TYPES.items()}
        if host_addresses is None:
            host_addresses = discover_host_addresses(settings.firewall.prefix) if settings.allowlist.include_host else []
        self.allowlist = Allowlist.build(settings.allowlist, host_addresses)
        self.safety = Safety(settings, self.allowlist)
        self.runner = Runner(settings.programs(), [settings.firewall.prefix], settings.command_timeout)
        self.files = FileOps(fsync=settings.audit_fsync)
        self.audit = AuditLog(settings.audit_file, fsync=settings.audit_fsync)
        self.state = StateStore(settings.state_file, fsync=settings.audit_fsync, history_keep=settings.history_keep)
        self.blocks_cap = RateCap(settings.rate.blocks_per_minute, monotonic)
        self.actions_cap = RateCap(settings.rate.actions_per_minute, monotonic)
        self.breaker = Breaker(settings.breaker.failures, settings.breaker.window_seconds,
                               settings.breaker.cooldown_seconds, monotonic)
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="hw-respond")
        self._inflight: set[Future[Outcome]] = set()
        self._inflight_lock = threading.Lock()
        self._capped_notice = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._target_locks = KeyedLocks()

    # -- the alert path ----------------------------------------------------------------------
    def handle(self, alert: Mapping[str, Any], *, wait: bool = False) -> list[Outcome]:
        """Run every matching playbook for one alert (an ECS mapping). Actions run on the
        worker pool; `wait=True` returns their final outcomes instead of `submitted`."""
        outcomes: list[Outcome] = []
        futures: list[tuple[int, Future[Outcome]]] = []
        for pb in self.playbooks:
            if not pb.matches(alert):
                continue
            for spec in pb.actions:
                try:
                    dispatched = self._dispatch(pb, spec, alert, self.settings.dry_run)
                except Exception as exc:  # noqa: BLE001 - the alert path must go on whatever one action does
                    log.exception("response %s/%s failed", pb.id, spec.name)
                    dispatched = [Outcome("", pb.id, spec.name, "", "failed", RESP_COMMAND_FAILED.code,
                                          f"{type(exc).__name__}: {exc}")]
                for outcome in dispatched:
                    if outcome.future is not None:
                        futures.append((len(outcomes), outcome.future))
                    outcomes.append(outcome)
        if wait:
            for i, fut in futures:
                outcomes[i] = fut.result()
        return outcomes

    def _context(self) -> ActionContext:
        return ActionContext(run=self.runner.run, files=self.files, settings=self.settings, now=self.clock)

    def _origin(self, pb: Playbook, alert: Mapping[str, Any]) -> dict[str, Any]:
        return {"playbook": pb.id, "alert_id": alert.get("event.id"), "rule_id": alert.get("rule.id")}

    def _dispatch(self, pb: Playbook, spec: ActionSpec, alert: Mapping[str, Any], dry_run: bool) -> list[Outcome]:
        action = self.actions[spec.name]
        origin = self._origin(pb, alert)
        try:
            targets = action.targets(alert, spec.params)
        except HostwardenError as exc:
            self.audit.append("skipped", action=spec.name, **origin, code=exc.code.code, message=exc.message)
            return [Outcome("", pb.id, spec.name, "", "skipped", exc.code.code, exc.message)]
        return [self._one(pb, spec, action, target, origin, dry_run) for target in targets]

    def _one(self, pb: Playbook, spec: ActionSpec, action: Action, target: Target, origin: dict[str, Any],
             dry_run: bool) -> Outcome:
        out = Outcome("", pb.id, action.name, target.key, "refused")
        refusal = self.safety.check_target(target)
        plan: Plan | None = None
        if refusal is None:
            try:
                plan = action.plan(target, spec.params)
                refusal = self.safety.check(plan)
            except HostwardenError as exc:
                refusal = exc
            except OSError as exc:  # e.g. a file that cannot be read while planning
                refusal = HostwardenError(RESP_TARGET_INVALID, f"{target.value}: {exc.strerror or exc}")
        if refusal is not None or plan is None:
            assert refusal is not None
            # no such target or no tool/channel configured: nothing to do (skipped); else refused
            status = "skipped" if refusal.code in (RESP_TARGET_INVALID, RESP_NO_BACKEND) else "refused"
            self.audit.append(status, action=action.name, target=target.to_dict(), **origin,
                              code=refusal.code.code, message=refusal.message)
            return out.but(status=status, code=refusal.code.code, message=refusal.message)
        if dry_run:
            self.audit.append("dry_run", action=action.name, target=target.to_dict(), **origin, plan=plan.to_dict())
            return out.but(status="dry_run", message=plan.summary, plan=plan.to_dict())
        # a notification is sent once per alert; a host change is not repeated while it is in force
        statuses = ("pending", "submitted", "active") if action.changes_host else ("pending", "submitted", "done")
        live = self.state.live(action.name, target.key, statuses)
        held = live is not None and live["status"] == "pending" and spec.approval == "auto" and \
            (live.get("reason") or {}).get("code") in (RESP_RATE_CAPPED.code, RESP_BREAKER_OPEN.code)
        if live is not None and not held:
            return self._again(live, plan, out)
        approval, reason = spec.approval, None
        if approval == "auto" and action.changes_host:
            if not self.breaker.allow(action.name):
                approval, reason = "manual", HostwardenError(RESP_BREAKER_OPEN, f"{action.name} failed repeatedly")
            elif (action.capped and not self.blocks_cap.take()) or not self.actions_cap.take():
                approval, reason = "manual", HostwardenError(RESP_RATE_CAPPED, "rate cap reached")
                self._notice_cap()
        if live is not None:  # held back by the cap or the breaker: let it run now if they allow
            if approval == "manual":
                return out.but(id=live["id"], status="pending", message="still held back", **_code(reason))
            self.state.update(live["id"], status="submitted", plan=plan.to_dict())
            self.audit.append("released", id=live["id"], action=action.name, target=target.to_dict(), **origin)
            return out.but(id=live["id"], status="submitted", message=plan.summary, plan=plan.to_dict(),
                           future=self._submit(self._execute, live["id"], plan, "apply"))
        entry_id = self._new_entry(plan, origin, approval, reason)
        if approval == "manual":
            self.audit.append("pending", id=entry_id, action=action.name, target=target.to_dict(), **origin,
                              summary=plan.summary, **_reason(reason))
            return out.but(id=entry_id, status="pending", message=plan.summary, plan=plan.to_dict(), **_code(reason))
        return out.but(id=entry_id, status="submitted", message=plan.summary, plan=plan.to_dict(),
                       future=self._submit(self._execute, entry_id, plan, "apply"))

    def _again(self, live: dict[str, Any], plan: Plan, out: Outcome) -> Outcome:
        """An action already pending, submitted or active on this target: extend its TTL when
        this plan's is longer (the longest wins), else leave it alone."""
        if live["status"] not in ("active", "submitted"):
            return out.but(id=live["id"], status=live["status"], message=f"already {live['status']}")
        now = self.clock()
        if live["status"] == "active":
            current = live.get("expires")
        else:  # submitted: it will run for its plan's TTL from about now
            ttl = (live.get("plan") or {}).get("ttl")
            current = None if ttl is None else now + ttl
        if current is None or (plan.ttl is not None and now + plan.ttl <= current + REFRESH_MARGIN * plan.ttl):
            return out.but(id=live["id"], status=live["status"], message=f"already {live['status']}")
        return out.but(id=live["id"], status="submitted", message=f"extend: {plan.summary}",
                       future=self._submit(self._execute, live["id"], plan, "refresh"))

    def _notice_cap(self) -> None:
        now = self.clock()
        if now - self._capped_notice >= 60:
            self._capped_notice = now
            msg = (f"rate cap reached ({self.settings.rate.blocks_per_minute} blocks / "
                   f"{self.settings.rate.actions_per_minute} actions per minute): further actions wait for approval")
            log.warning("%s: %s", RESP_RATE_CAPPED.code, msg)
            self.audit.append("notice", code=RESP_RATE_CAPPED.code, message=msg)

    def _new_entry(self, plan: Plan, origin: dict[str, Any], approval: str, reason: HostwardenError | None) -> str:
        entry_id = secrets.token_hex(6)
        self.state.put({  # auto: not fsynced, the outcome follows in milliseconds (fsynced)
            "id": entry_id, "status": "pending" if approval == "manual" else "submitted", "action": plan.action,
            **origin, "target": plan.target.to_dict(), "plan": plan.to_dict(), "undo": None, "approval": approval,
            "created": self.clock(), "applied": None, "expires": None, "finished": None,
            "reason": {"code": reason.code.code, "message": reason.message} if reason else None,
        }, durable=approval == "manual")
        return entry_id

    def _submit(self, fn: Callable[..., Outcome], *args: Any) -> Future[Outcome]:
        fut = self._pool.submit(fn, *args)
        with self._inflight_lock:
            self._inflight.add(fut)
        fut.add_done_callback(self._done)
        return fut

    def _done(self, fut: Future[Outcome]) -> None:
        with self._inflight_lock:
            self._inflight.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:  # e.g. the audit log's disk is full
            log.error("response action crashed: %r", fut.exception())

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no action is running or queued (tests, shutdown). False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._inflight_lock:
                pending = list(self._inflight)
            if not pending:
                return True
            for fut in pending:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    fut.result(timeout=left)
                except Exception:  # noqa: BLE001, S112 - outcomes are recorded by the action itself
                    if deadline is not None and time.monotonic() >= deadline:
                        return False

    # -- the one execution path --------------------------------------------------------------
    def _execute(self, entry_id: str, plan: Plan, kind: str) -> Outcome:
        """Check and apply one plan; record the outcome in state and audit log. Plans for one
        target run one at a time, and a plan that would not extend what is in force is a no-op,
        so the longest TTL wins whatever order the workers run in."""
        with self._target_locks.hold(f"{plan.action}:{plan.target.key}"):
            return self._execute_locked(entry_id, plan, kind)

    def _execute_locked(self, entry_id: str, plan: Plan, kind: str) -> Outcome:
        action = self.actions[plan.action]
        entry = self.state.get(entry_id) or {}
        out = Outcome(entry_id, entry.get("playbook") or "", plan.action, plan.target.key, "failed")
        if kind == "refresh" and entry.get("status") not in ("active", "submitted"):
            return out.but(status=entry.get("status") or "unknown", message="no longer in force; not extended")
        if entry.get("status") == "active":
            cur = entry.get("expires")
            if cur is None or (plan.ttl is not None and self.clock() + plan.ttl <= cur):
                return out.but(status="active", message="already in force")
        refusal = self.safety.check(plan)
        if refusal is not None:
            self._finish(entry_id, "refused", refusal)
            self.audit.append("refused", id=entry_id, action=plan.action, target=plan.target.to_dict(),
                              code=refusal.code.code, message=refusal.message)
            return out.but(status="refused", code=refusal.code.code, message=refusal.message)
        started = time.monotonic()
        try:
            undo = action.apply(plan, self._context())
        except Exception as exc:  # noqa: BLE001 - any failure is an outcome, never a dead worker
            err = exc if isinstance(exc, HostwardenError) else HostwardenError(
                RESP_COMMAND_FAILED, f"{type(exc).__name__}: {exc}")
            if action.changes_host and self.breaker.record(plan.action, ok=False):
                msg = f"{plan.action} failed {self.settings.breaker.failures} times; automatic mode suspended"
                log.error("%s: %s", RESP_BREAKER_OPEN.code, msg)
                self.audit.append("notice", code=RESP_BREAKER_OPEN.code, message=msg, action=plan.action)
            if kind != "refresh":
                self._finish(entry_id, "failed", err)
            self.audit.append(f"{kind}_failed", id=entry_id, action=plan.action, target=plan.target.to_dict(),
                              code=err.code.code, message=err.message, seconds=round(time.monotonic() - started, 4))
            return out.but(code=err.code.code, message=err.message)
        seconds = round(time.monotonic() - started, 4)
        if action.changes_host:
            self.breaker.record(plan.action, ok=True)
        now = self.clock()
        expires = now + plan.ttl if plan.ttl else None
        status = "active" if plan.reversible and action.changes_host else "done"
        self.state.update(entry_id, status=status, undo=undo, plan=plan.to_dict(), applied=entry.get("applied") or now,
                          expires=expires, finished=None if status == "active" else now)
        self.audit.append(kind, id=entry_id, action=plan.action, target=plan.target.to_dict(),
                          playbook=entry.get("playbook"), alert_id=entry.get("alert_id"), summary=plan.summary,
                          expires=expires, undo=public_undo(plan.action, undo), seconds=seconds)
        if expires is not None:
            self._wake.set()
        return out.but(status="applied" if kind != "refresh" else "refreshed", message=plan.summary,
                       plan=plan.to_dict(), seconds=seconds)

    def _finish(self, entry_id: str, status: str, reason: HostwardenError | None = None) -> None:
        fields: dict[str, Any] = {"status": status, "finished": self.clock()}
        if reason is not None:
            fields["reason"] = {"code": reason.code.code, "message": reason.message}
        self.state.update(entry_id, **fields)

    # -- commands: list, approve, reject, undo, dry-run --------------------------------------
    def list_actions(self, statuses: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        return self.state.entries(statuses)

    def _entry(self, action_id: str, *statuses: str) -> dict[str, Any]:
        entry = self.state.get(action_id)
        if entry is None or entry.get("status") not in statuses:
            state = "unknown" if entry is None else entry.get("status")
            raise HostwardenError(RESP_NO_SUCH_ACTION, f"action {action_id} is {state}, not {' or '.join(statuses)}")
        return entry

    def approve(self, action_id: str, *, by: str = "cli") -> Outcome:
        """Run a pending action now (past the rate cap and breaker: a person decided)."""
        entry = self._entry(action_id, "pending")
        self.audit.append("approve", id=action_id, action=entry["action"], target=entry["target"], by=by)
        return self._execute(action_id, Plan.from_dict(entry["plan"]), "apply")

    def reject(self, action_id: str, *, by: str = "cli") -> Outcome:
        entry = self._entry(action_id, "pending")
        self._finish(action_id, "rejected")
        self.audit.append("reject", id=action_id, action=entry["action"], target=entry["target"], by=by)
        return Outcome(action_id, entry.get("playbook") or "", entry["action"], _key(entry), "rejected")

    def undo(self, action_id: str, *, by: str = "cli") -> Outcome:
        """Undo an active action (a pending one is rejected instead)."""
        entry = self._entry(action_id, "active", "pending")
        if entry["status"] == "pending":
            return self.reject(action_id, by=by)
        return self._undo(entry, "undo", by=by)

    def _undo(self, entry: dict[str, Any], kind: str, **extra: Any) -> Outcome:
        """Undo (or expire) an active entry, under its target's lock: an extension that won the
        race is not expired, and an entry undone meanwhile (another process) is left alone."""
        with self._target_locks.hold(f"{entry['action']}:{_key(entry)}"):
            current = self.state.get(entry["id"]) or entry
            out = Outcome(entry["id"], entry.get("playbook") or "", entry["action"], _key(entry), "failed")
            if current.get("status") != "active":
                return out.but(status=current.get("status") or "unknown", message="no longer active")
            if kind == "expire" and (current.get("expires") is None or current["expires"] > self.clock()):
                return out.but(status="active", message="extended meanwhile")
            return self._undo_locked(current, kind, out, **extra)

    def _undo_locked(self, entry: dict[str, Any], kind: str, out: Outcome, **extra: Any) -> Outcome:
        action = self.actions[entry["action"]]
        plan = Plan.from_dict(entry["plan"])
        try:
            note = action.undo(plan, entry.get("undo") or {}, self._context())
        except Exception as exc:  # noqa: BLE001 - recorded, the entry stays active for another try
            err = exc if isinstance(exc, HostwardenError) else HostwardenError(RESP_COMMAND_FAILED, str(exc))
            self.audit.append(f"{kind}_failed", id=entry["id"], action=entry["action"], target=entry["target"],
                              code=err.code.code, message=err.message, **extra)
            return out.but(code=err.code.code, message=err.message)
        status = "expired" if kind == "expire" else "undone"
        self._finish(entry["id"], status)
        self.audit.append(kind, id=entry["id"], action=entry["action"], target=entry["target"], note=note, **extra)
        return out.but(status=status, message=note or "")

    def dry_run(self, playbook: Playbook | str, alert: Mapping[str, Any]) -> list[Outcome]:
        """What the playbook would do for this alert (plans; nothing changes; audited as dry-run)."""
        pb = playbook if isinstance(playbook, Playbook) else self._playbook(playbook)
        out: list[Outcome] = []
        if not pb.matches(alert):
            out.append(Outcome("", pb.id, "", "", "skipped", message="the alert does not trigger this playbook"))
            return out
        for spec in pb.actions:
            out += self._dispatch(pb, spec, alert, True)
        return out

    def _playbook(self, name: str) -> Playbook:
        for pb in self.playbooks:
            if pb.id == name:
                return pb
        raise HostwardenError(RESP_NO_SUCH_ACTION, f"no playbook {name!r} is loaded")

    # -- life cycle: restore on start, expire on time ----------------------------------------
    def start(self) -> list[Outcome]:
        """Undo what expired while we were down, re-assert what is still active, start the timer.
        An action caught between submission and outcome by a crash waits for approval."""
        for e in self.state.entries(("submitted",)):
            self.state.update(e["id"], status="pending", reason={
                "code": RESP_NO_SUCH_ACTION.code, "message": "interrupted by a restart before its outcome"})
        outcomes = self.expire_due()
        now = self.clock()
        for entry in self.list_actions(("active",)):
            if entry.get("expires") is None or entry["expires"] > now:
                outcomes.append(self._reassert(entry, now))
        if self._timer is None:
            self._timer = threading.Thread(target=self._timer_loop, name="hw-respond-expiry", daemon=True)
            self._timer.start()
        return outcomes

    def _reassert(self, entry: dict[str, Any], now: float) -> Outcome:
        plan = Plan.from_dict(entry["plan"])
        refusal = self.safety.check(plan)
        if refusal is not None:  # allowlisted since: undo it rather than keep it in force
            return self._undo(entry, "undo", reason=refusal.message, code=refusal.code.code)
        remaining = None if entry.get("expires") is None else max(1.0, entry["expires"] - now)
        try:
            undo = self.actions[entry["action"]].reassert(plan, entry.get("undo") or {}, self._context(), remaining)
        except HostwardenError as exc:
            self.audit.append("reassert_failed", id=entry["id"], action=entry["action"], target=entry["target"],
                              code=exc.code.code, message=exc.message)
            return Outcome(entry["id"], entry.get("playbook") or "", entry["action"], _key(entry), "failed",
                           exc.code.code, exc.message)
        self.state.update(entry["id"], undo=undo)
        self.audit.append("reassert", id=entry["id"], action=entry["action"], target=entry["target"],
                          expires=entry.get("expires"))
        return Outcome(entry["id"], entry.get("playbook") or "", entry["action"], _key(entry), "active")

    def expire_due(self) -> list[Outcome]:
        """Undo every active action whose expiry has passed (each once, even across processes)."""
        return [self._undo(e, "expire") for e in self.state.due(self.clock())]

    def _timer_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.expire_due()
            except Exception:  # noqa: BLE001 - the timer must survive one bad entry
                log.exception("expiring response actions failed")
            upcoming = self.state.next_expiry()  # re-read: another process may have changed the state
            delay = 30.0 if upcoming is None else min(30.0, max(0.05, upcoming - self.clock()))
            self._wake.wait(delay)
            self._wake.clear()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=False)
        self.state.close()


def _key(entry: Mapping[str, Any]) -> str:
    return f"{entry['target']['kind']}:{entry['target']['value']}"


def _reason(err: HostwardenError | None) -> dict[str, Any]:
    return {} if err is None else {"code": err.code.code, "message": err.message}


def _code(err: HostwardenError | None) -> dict[str, Any]:
    return {} if err is None else {"code": err.code.code}
