"""The checks every action passes before it may change anything, and the automatic-mode limits.

`Safety.check(plan)` is called by the responder's single execution path right before
`apply` (for automatic, approved and re-asserted actions alike), so no action reaches the host
around it: addresses against the allowlist, accounts against protected users, files against
protected paths and hostwarden's own data, processes against init, kernel threads and
hostwarden itself, and isolation against the lack of a management address.

`RateCap` and `Breaker` decide only whether an action may run *automatically*; what they
hold back is queued for approval, never dropped.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hostwarden.core.errors import (
    RESP_ISOLATION_UNSAFE,
    RESP_NOT_ALLOWED,
    HostwardenError,
)
from hostwarden.respond.actions.base import Plan, Target
from hostwarden.respond.allowlist import Allowlist
from hostwarden.respond.settings import RespondSettings


def _real(path: str) -> str:
    """The path with its folders resolved (the last component is not followed, as quarantine
    does not follow it): a symlinked folder cannot hide a protected file."""
    return os.path.join(os.path.realpath(os.path.dirname(path) or "/"), os.path.basename(path))


def _under(path: str, roots: list[str]) -> str | None:
    for root in roots:
        root = root.rstrip("/") or "/"
        if path == root or path.startswith(root + "/") or root == "/":
            return root
    return None


def _ancestors(pid: int) -> set[int]:
    out: set[int] = set()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
            pid = int(raw[raw.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


class Safety:
    def __init__(self, settings: RespondSettings, allowlist: Allowlist) -> None:
        self.settings = settings
        self.allowlist = allowlist
        own = [settings.state_file, settings.audit_file, settings.quarantine_dir]
        self.protected_paths = [_real(str(p)) for p in settings.allowlist.paths] + \
            [_real(str(Path(p).parent if p != settings.quarantine_dir else p)) for p in own if p is not None]
        self.protected_users = set(settings.allowlist.users)

    def check_target(self, target: Target) -> HostwardenError | None:
        if target.kind == "ip":
            entry = self.allowlist.protects(target.value)
            if entry is not None:
                return HostwardenError(RESP_NOT_ALLOWED, f"{target.value} is allowlisted ({entry.reason}: {entry.network})")
        elif target.kind == "user" and target.value in self.protected_users:
            return HostwardenError(RESP_NOT_ALLOWED, f"account {target.value} is protected ([respond.allowlist] users)")
        elif target.kind == "path":
            hit = _under(_real(target.value), self.protected_paths)
            if hit is not None:
                return HostwardenError(RESP_NOT_ALLOWED, f"{target.value} is protected (under {hit})")
        elif target.kind == "pid":
            pid = int(target.value)
            if pid <= 2 or pid in _ancestors(os.getpid()) or _is_kernel_thread(pid):
                return HostwardenError(RESP_NOT_ALLOWED, f"pid {pid} is init, a kernel thread or hostwarden itself")
        return None

    def check(self, plan: Plan) -> HostwardenError | None:
        """None when the plan may be applied, else the refusal (RESP-6001 / RESP-6019)."""
        refusal = self.check_target(plan.target)
        if refusal is not None:
            return refusal
        for addr in plan.addresses:
            entry = self.allowlist.protects(addr)
            if entry is not None:
                return HostwardenError(RESP_NOT_ALLOWED, f"{addr} is allowlisted ({entry.reason}: {entry.network})")
        if plan.action == "isolate_host" and not plan.facts.get("management"):
            return HostwardenError(RESP_ISOLATION_UNSAFE, "no management address configured; isolating would "
                                   "lock every administrator out")
        return None


def _is_kernel_thread(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        return int(raw[raw.rindex(")") + 2:].split()[1]) == 2
    except (OSError, ValueError, IndexError):
        return False


class RateCap:
    """At most `per_minute` takes in any 60 s window (0: none automatic)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self.clock()
            while self._times and now - self._times[0] >= 60.0:
                self._times.popleft()
            if len(self._times) >= self.per_minute:
                return False
            self._times.append(now)
            return True


@dataclass
class _BreakerState:
    failures: deque[float]
    opened: float | None = None
    trial: bool = False


class Breaker:
    """Per action kind: `failures` failures within `window` seconds open it (automatic → manual)
    for `cooldown` seconds; then one automatic try is let through — success closes it,
    failure opens it again."""

    def __init__(self, failures: int, window: float, cooldown: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures, self.window, self.cooldown, self.clock = failures, window, cooldown, clock
        self._kinds: dict[str, _BreakerState] = {}
        self._lock = threading.Lock()

    def _state(self, kind: str) -> _BreakerState:
        return self._kinds.setdefault(kind, _BreakerState(deque()))

    def allow(self, kind: str) -> bool:
        with self._lock:
            s = self._state(kind)
            if s.opened is None:
                return True
            if self.clock() - s.opened >= self.cooldown and not s.trial:
                s.trial = True  # half-open: one try
                return True
            return False

    def record(self, kind: str, ok: bool) -> bool:
        """Count an outcome; True when this failure has just opened the breaker."""
        with self._lock:
            s = self._state(kind)
            now = self.clock()
            if ok:
                if s.trial or s.opened is not None:
                    s.opened, s.trial = None, False
                    s.failures.clear()
                return False
            if s.trial:
                s.opened, s.trial = now, False
                return True
            s.failures.append(now)
            while s.failures and now - s.failures[0] > self.window:
                s.failures.popleft()
            if s.opened is None and len(s.failures) >= self.failures:
                s.opened = now
                return True
            return False

    def status(self) -> dict[str, str]:
        with self._lock:
            return {k: ("open" if s.opened is not None else "closed") for k, s in self._kinds.items()}
