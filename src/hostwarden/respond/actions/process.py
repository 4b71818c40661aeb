"""kill_process: signal a process by pid — only the process the alert is about.

A pid alone is not an identity: it is reused. The process's start time (field 22 of
/proc/PID/stat, in clock ticks since boot) is. `plan` reads it and checks it against the
alert: equal to the alert's `process.start` (within a tolerance), or — when the alert has no
start time — not later than the alert's own time (a process that started after the event
cannot be the one that caused it). `apply` then opens a pidfd (which pins that very process),
re-reads the start time through it, and signals through the pidfd, so no pid reuse between
check and signal can redirect the signal. A mismatch refuses with RESP-6008.

SIGSTOP is offered as a reversible alternative (undo sends SIGCONT); TERM and KILL cannot be
undone and are audited as such. Shipped playbooks run this action with manual approval.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from hostwarden.core.errors import RESP_PROCESS_MISMATCH, RESP_TARGET_INVALID, HostwardenError
from hostwarden.respond.actions.base import Action, ActionContext, ActionParams, Plan, Target

SIGNALS = {"STOP": signal.SIGSTOP, "TERM": signal.SIGTERM, "KILL": signal.SIGKILL}
PROC = Path("/proc")


def boot_time(proc: Path = PROC) -> float:
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def read_stat(pid: int, proc: Path = PROC) -> dict[str, Any]:
    """start ticks, ppid, state and name of a live process; RESP-6008 when it is gone."""
    try:
        raw = (proc / str(pid) / "stat").read_bytes().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError):
        raise HostwardenError(RESP_PROCESS_MISMATCH, f"process {pid} no longer exists") from None
    name = raw[raw.index("(") + 1:raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2:].split()  # fields from 3 (state) on
    return {"ticks": int(rest[19]), "ppid": int(rest[1]), "state": rest[0], "name": name}


def start_epoch(ticks: int, proc: Path = PROC) -> float:
    return boot_time(proc) + ticks / os.sysconf("SC_CLK_TCK")


def _epoch(value: Any) -> float | None:
    """A time from an alert field: datetime, ISO 8601 text or epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise HostwardenError(RESP_TARGET_INVALID, f"{str(value)[:40]!r} is not a time") from None


class KillParams(ActionParams):
    signal: str = Field("KILL", pattern="^(STOP|TERM|KILL)$")
    start_field: str = Field("process.start", description="alert field with the process start time")
    tolerance: float = Field(2.0, ge=0, le=60, description="seconds the start times may differ")


class KillProcess(Action):
    name = "kill_process"
    Params = KillParams
    target_kind = "pid"
    default_field = "process.pid"
    default_approval = "manual"

    def target(self, value: Any, alert: Mapping[str, Any], params: ActionParams) -> Target:
        assert isinstance(params, KillParams)
        try:
            pid = int(value)
        except (TypeError, ValueError):
            raise HostwardenError(RESP_TARGET_INVALID, f"{str(value)[:40]!r} is not a pid") from None
        if pid <= 0:
            raise HostwardenError(RESP_TARGET_INVALID, f"{pid} is not a pid")
        return Target("pid", str(pid), {"start": _epoch(alert.get(params.start_field)),
                                        "event_time": _epoch(alert.get("@timestamp"))})

    def plan(self, target: Target, params: ActionParams) -> Plan:
        assert isinstance(params, KillParams)
        pid = int(target.value)
        stat = read_stat(pid)
        started = start_epoch(stat["ticks"])
        expected, event_time = target.detail.get("start"), target.detail.get("event_time")
        if expected is not None:
            if abs(started - expected) > params.tolerance:
                raise HostwardenError(RESP_PROCESS_MISMATCH, f"pid {pid} started at {started:.2f}, the alert's "
                                      f"process at {expected:.2f}: a different process now has this pid")
        elif event_time is not None:
            if started > event_time + params.tolerance:
                raise HostwardenError(RESP_PROCESS_MISMATCH, f"pid {pid} started after the alert's event: "
                                      "a different process now has this pid")
        else:
            raise HostwardenError(RESP_PROCESS_MISMATCH, f"the alert gives no start time or event time for pid {pid}; "
                                  "without one a reused pid could be hit")
        undo = "undo sends SIGCONT" if params.signal == "STOP" else "cannot be undone"
        return Plan(self.name, target, params.model_dump(),
                    f"send SIG{params.signal} to pid {pid} ({stat['name']!r}, started {started:.2f}); {undo}",
                    steps=[f"pidfd_open({pid}); check start ticks == {stat['ticks']}; pidfd_send_signal(SIG{params.signal})"],
                    reversible=params.signal == "STOP", facts={"ticks": stat["ticks"], "name": stat["name"],
                                                              "ppid": stat["ppid"]})

    @staticmethod
    def _signal(pid: int, ticks: int, sig: int) -> None:
        """Signal the process only if it is still the one with start time `ticks`."""
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            raise HostwardenError(RESP_PROCESS_MISMATCH, f"process {pid} no longer exists") from None
        try:
            now = read_stat(pid)["ticks"]  # the pidfd pins the process: a match now means this one
            if now != ticks:
                raise HostwardenError(RESP_PROCESS_MISMATCH, f"pid {pid} now belongs to a process started at tick "
                                      f"{now}, not {ticks}; it was not signalled")
            signal.pidfd_send_signal(fd, sig)
        except ProcessLookupError:
            raise HostwardenError(RESP_PROCESS_MISMATCH, f"process {pid} exited before the signal") from None
        finally:
            os.close(fd)

    def apply(self, plan: Plan, ctx: ActionContext) -> dict[str, Any]:
        self._signal(int(plan.target.value), int(plan.facts["ticks"]), SIGNALS[plan.params["signal"]])
        return {"signal": plan.params["signal"], "ticks": plan.facts["ticks"]}

    def undo(self, plan: Plan, undo: dict[str, Any], ctx: ActionContext) -> None:
        if undo.get("signal") != "STOP":
            super().undo(plan, undo, ctx)
        self._signal(int(plan.target.value), int(undo["ticks"]), signal.SIGCONT)

    def reassert(self, plan: Plan, undo: dict[str, Any], ctx: ActionContext, remaining: float | None) -> dict[str, Any]:
        return undo  # a signal is not state to re-assert
