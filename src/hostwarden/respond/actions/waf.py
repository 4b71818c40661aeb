"""waf_deny: the address goes into an nginx `deny` include (and a ModSecurity rule file).

Each file holds whatever it held before plus one block between marker lines that hostwarden
owns; the entries (address, action id, expiry) live in that block, so the file alone says
what is denied and any process can add or remove one entry. Removing the last entry gives the
previous content back byte for byte (a file that did not exist is removed again, but only
while it holds exactly what hostwarden generated). Every change is written atomically, tested
with `nginx -t` (when the configured binary exists), reloaded, and reverted if either fails.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hostwarden.core.errors import RESP_WEB_CONFIG_INVALID, HostwardenError
from hostwarden.respond.actions.base import Action, ActionContext, Plan, Target
from hostwarden.respond.runner import Command
from hostwarden.respond.util import file_lock

BEGIN = b"# >>> hostwarden managed block: do not edit between these markers"
END = b"# <<< hostwarden managed block"
_ENTRY = re.compile(rb"^# entry (?P<addr>[0-9A-Fa-f:.]+) (?P<expires>\S+)$")


@dataclass
class Managed:
    """A file split into what we leave alone (before and after our block) and our entries."""

    base: bytes | None  # None: the file did not exist before hostwarden wrote it
    entries: dict[str, str]
    after: bytes = b""


def _line_start(content: bytes, prefix: bytes) -> int:
    """Offset of the first line that starts with `prefix`, or -1."""
    if content.startswith(prefix):
        return 0
    at = content.find(b"\n" + prefix)
    return at if at < 0 else at + 1


def parse(content: bytes | None) -> Managed:
    """Inverse of `render`: the marker line records how the block was attached (`new`: the
    file did not exist; `sep`: a newline was added after a base that lacked one; `plain`)."""
    if content is None:
        return Managed(None, {})
    at = _line_start(content, BEGIN)
    if at < 0:
        return Managed(content, {})
    block_end = content.find(b"\n" + END, at)
    if block_end < 0:  # a damaged block: leave the whole file as it is, add ours after it
        return Managed(content, {})
    lines = content[at:block_end].split(b"\n")
    flag = lines[0][len(BEGIN):].strip(b" ()")
    entries = {}
    for line in lines[1:]:
        m = _ENTRY.match(line)
        if m:
            entries[m["addr"].decode()] = m["expires"].decode()
    tail = content[block_end + 1 + len(END):]
    after = tail[1:] if tail.startswith(b"\n") else tail
    before = content[:at]
    if flag == b"sep" and before.endswith(b"\n"):
        before = before[:-1]
    base = None if flag == b"new" and not before else before
    return Managed(base, entries, after)


def render(m: Managed, body: list[str]) -> bytes | None:
    """The file content: what was there untouched, our block in between (None: no file)."""
    if not m.entries:
        if m.base is None and not m.after:
            return None
        return (m.base or b"") + m.after
    base = m.base or b""
    flag = b"new" if m.base is None else b"sep" if base and not base.endswith(b"\n") else b"plain"
    lines = [BEGIN + b" (" + flag + b")"]
    lines += [f"# entry {addr} {exp}".encode() for addr, exp in sorted(m.entries.items())]
    lines += [b.encode() for b in body] + [END]
    return base + (b"\n" if flag == b"sep" else b"") + b"\n".join(lines) + b"\n" + m.after


def nginx_body(addrs: list[str]) -> list[str]:
    return [f"deny {a};" for a in addrs]


def modsec_body(addrs: list[str], rule_id: int) -> list[str]:
    return [f'SecRule REMOTE_ADDR "@ipMatch {",".join(addrs)}" '
            f"\"id:{rule_id},phase:1,deny,status:403,log,msg:'hostwarden response: address denied'\""]


class WafDeny(Action):
    name = "waf_deny"
    target_kind = "ip"
    default_field = "source.ip"
    capped = True

    def _files(self) -> list[tuple[Path, str]]:
        waf = self.settings.waf
        out = [(waf.deny_file, "nginx")]
        if waf.modsecurity_file is not None:
            out.append((waf.modsecurity_file, "modsecurity"))
        return out

    def plan(self, target: Target, params: Any) -> Plan:
        waf = self.settings.waf
        ttl = f"for {params.ttl:g}s" if params.ttl else "until undone"
        steps = [f"add `deny {target.value};` to {waf.deny_file} (atomic write)"]
        if waf.modsecurity_file is not None:
            steps.append(f"add {target.value} to the @ipMatch rule in {waf.modsecurity_file}")
        commands = [Command(list(c)) for c in (waf.test, waf.reload) if c]
        steps += [f"{c.display()} (skipped when {c.argv[0]} is not installed)" for c in commands]
        return Plan(self.name, target, params.model_dump(), f"deny {target.value} at the web server {ttl}",
                    steps=steps, commands=commands, addresses=[target.value], ttl=params.ttl)

    def _change(self, ctx: ActionContext, addr: str, expires: str | None) -> dict[str, Any]:
        """Add (expires given) or remove one address in every file, test, reload; revert on failure."""
        waf = ctx.settings.waf
        lock = Path(str(ctx.settings.state_file or waf.deny_file) + ".waf.lock")
        with file_lock(lock):
            before: list[tuple[Path, bytes | None]] = []
            for path, kind in self._files():
                old = ctx.files.read_bytes(path)
                before.append((path, old))
                m = parse(old)
                if expires is None:
                    m.entries.pop(addr, None)
                else:
                    m.entries[addr] = expires
                addrs = sorted(m.entries)
                body = nginx_body(addrs) if kind == "nginx" else modsec_body(addrs, waf.rule_id)
                self._put(ctx, path, old, render(m, body))
            try:
                self._test_and_reload(ctx)
            except HostwardenError:
                for path, old in reversed(before):
                    self._put(ctx, path, ctx.files.read_bytes(path), old)
                raise
        return {"files": [str(p) for p, _ in before]}

    @staticmethod
    def _put(ctx: ActionContext, path: Path, current: bytes | None, new: bytes | None) -> None:
        if new == current:
            return
        if new is None:
            if current is not None and not ctx.files.retire_generated(path, current):
                ctx.files.write_atomic(path, b"")
            return
        ctx.files.write_atomic(path, new)

    @staticmethod
    def _test_and_reload(ctx: ActionContext) -> None:
        waf = ctx.settings.waf
        if waf.test and shutil.which(waf.test[0]):
            try:
                ctx.run(Command(list(waf.test)))
            except HostwardenError as exc:
                raise HostwardenError(RESP_WEB_CONFIG_INVALID, exc.message) from exc
        if waf.reload and shutil.which(waf.reload[0]):
            ctx.run(Command(list(waf.reload)))

    def apply(self, plan: Plan, ctx: ActionContext) -> dict[str, Any]:
        expires = "never"
        if plan.ttl:
            expires = datetime.fromtimestamp(ctx.now() + plan.ttl, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return self._change(ctx, plan.target.value, expires)

    def undo(self, plan: Plan, undo: dict[str, Any], ctx: ActionContext) -> None:
        self._change(ctx, plan.target.value, None)
