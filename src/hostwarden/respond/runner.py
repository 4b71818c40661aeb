"""The one way a response runs an external program.

Argument lists only (never a shell), a timeout on every call (the process group is killed,
so a wrapper script's children die too), and only the programs the `[respond]` section names:
an action cannot reach `rm` or any other tool through here. Every call is timed and kept in a
short log so an outcome can say exactly what ran.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from hostwarden.core.errors import (
    RESP_COMMAND_FAILED,
    RESP_COMMAND_NOT_PERMITTED,
    RESP_COMMAND_TIMEOUT,
    RESP_NO_BACKEND,
    HostwardenError,
)

MAX_OUTPUT = 2000  # characters of stderr/stdout kept in messages and the audit log


@dataclass
class Command:
    """One external command: `prefix` (a wrapper such as `ip netns exec NS`) + `argv`."""

    argv: list[str]
    stdin: str | None = None
    prefix: list[str] = field(default_factory=list)
    ok_codes: tuple[int, ...] = (0,)

    def full(self) -> list[str]:
        return [*self.prefix, *self.argv]

    def display(self) -> str:
        text = shlex.join(self.full())
        if self.stdin is not None:
            text += f"  <<< {self.stdin.strip()!r}"
        return text

    def to_dict(self) -> dict[str, object]:
        return {"argv": self.argv, "stdin": self.stdin, "prefix": self.prefix, "ok_codes": list(self.ok_codes)}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Command:
        return cls(list(d["argv"]), d.get("stdin"), list(d.get("prefix") or []),  # type: ignore[arg-type]
                   tuple(d.get("ok_codes") or (0,)))  # type: ignore[arg-type]


@dataclass
class Result:
    command: Command
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def clip(text: str, limit: int = MAX_OUTPUT) -> str:
    """Output of a tool, shortened and with control characters made visible (it may echo
    attacker-chosen text, e.g. a user name, back to a terminal)."""
    text = text if len(text) <= limit else text[:limit] + "…"
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text).strip()


class Runner:
    """Runs `Command`s for actions, under the safety rules above."""

    def __init__(self, programs: set[str], prefixes: Sequence[Sequence[str]], timeout: float) -> None:
        self.programs = set(programs)
        self.prefixes = {tuple(p) for p in prefixes} | {()}
        self.timeout = timeout

    def run(self, command: Command, *, timeout: float | None = None, check: bool = True) -> Result:
        if not command.argv or command.argv[0] not in self.programs:
            raise HostwardenError(RESP_COMMAND_NOT_PERMITTED, f"{command.display()}: "
                                  f"{command.argv[0] if command.argv else '(empty)'} is not a configured response tool")
        if tuple(command.prefix) not in self.prefixes:
            raise HostwardenError(RESP_COMMAND_NOT_PERMITTED, f"{command.display()}: prefix is not configured")
        limit = self.timeout if timeout is None else timeout
        started = time.monotonic()
        try:
            proc = subprocess.Popen(  # noqa: S603 - argument list from configuration and validated targets
                command.full(), stdin=subprocess.PIPE if command.stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                env={**os.environ, "LC_ALL": "C"},
            )
        except FileNotFoundError as exc:
            raise HostwardenError(RESP_NO_BACKEND, f"{command.display()}: {exc.strerror}") from exc
        except OSError as exc:
            raise HostwardenError(RESP_COMMAND_FAILED, f"{command.display()}: {exc.strerror}") from exc
        try:
            out, err = proc.communicate(command.stdin, timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise HostwardenError(RESP_COMMAND_TIMEOUT, f"{command.display()}: no answer within {limit:g}s; killed",
                                  command=command.full()) from None
        result = Result(command, proc.returncode, out, err, time.monotonic() - started)
        if check and proc.returncode not in command.ok_codes:
            raise HostwardenError(RESP_COMMAND_FAILED, f"{command.display()}: exit {proc.returncode}: "
                                  f"{clip(err or out)}", command=command.full(), returncode=proc.returncode)
        return result


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the command and everything it started (it runs in its own session), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # pipes held open by an escaped grandchild: stop reading
        for pipe in (proc.stdout, proc.stderr, proc.stdin):
            if pipe is not None:
                pipe.close()
        proc.wait(timeout=5)
