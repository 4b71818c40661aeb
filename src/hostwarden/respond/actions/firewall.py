"""block_ip and isolate_host: netfilter, through nft (preferred) or iptables + ipset.

block_ip keeps addresses in kernel sets whose elements carry their own timeout, so a block
expires on time even if hostwarden is down. With nft, one `nft -f -` transaction per block
declares the table, sets and drop rules (idempotently: `add` of an existing object is a no-op
and the chains are flushed and refilled in the same transaction) and replaces the element
(`add`+`delete`+`add` with the new timeout), so the path is one process, self-healing after
a `nft flush ruleset`, and a repeated block refreshes the timeout instead of failing. The
iptables fallback creates two ipsets (IPv4, IPv6) and DROP rules once per process, then each
block is one `ipset add … timeout N -exist`.

isolate_host replaces the host's traffic with nothing but loopback and the management
addresses (its own table, `policy drop`); undo deletes only that table.
"""

from __future__ import annotations

import ipaddress
import math
import shutil
import threading
from typing import Any, ClassVar

from pydantic import Field

from hostwarden.core.errors import RESP_COMMAND_FAILED, RESP_NO_BACKEND, HostwardenError
from hostwarden.respond.actions.base import Action, ActionContext, ActionParams, Plan, Target
from hostwarden.respond.runner import Command
from hostwarden.respond.settings import FirewallSettings

HOOKS = ("input", "forward")
ND_TYPES = "{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert }"


def _timeout(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, math.ceil(ttl))


def choose_backend(fw: FirewallSettings) -> str:
    """`nft` when configured or found; else `ipset` (iptables + ipset); RESP-6014 when neither."""
    if fw.backend != "auto":
        return fw.backend
    if shutil.which(fw.nft[0]):
        return "nft"
    if shutil.which(fw.ipset[0]) and shutil.which(fw.iptables[0]):
        return "ipset"
    raise HostwardenError(RESP_NO_BACKEND, "neither nft nor iptables with ipset is installed")


class NftSets:
    """The `inet <table>` with sets v4/v6 and drop rules in the input and forward hooks."""

    _ready: ClassVar[set[tuple[Any, ...]]] = set()

    def __init__(self, fw: FirewallSettings) -> None:
        self.fw = fw
        self.t = f"inet {fw.table}"
        self.key = (tuple(fw.prefix), tuple(fw.nft), fw.table)

    def _declare(self) -> list[str]:
        t = self.t
        lines = [f"add table {t}",
                 f"add set {t} v4 {{ type ipv4_addr; flags timeout; }}",
                 f"add set {t} v6 {{ type ipv6_addr; flags timeout; }}"]
        for hook in HOOKS:
            lines += [f"add chain {t} {hook} {{ type filter hook {hook} priority filter - 10; policy accept; }}",
                      f"flush chain {t} {hook}",
                      f"add rule {t} {hook} ip saddr @v4 counter drop",
                      f"add rule {t} {hook} ip6 saddr @v6 counter drop"]
        return lines

    def _script(self, lines: list[str]) -> Command:
        return Command([*self.fw.nft, "-f", "-"], "\n".join(lines) + "\n", list(self.fw.prefix))

    def _set(self, addr: str) -> str:
        return f"{self.t} {'v4' if ipaddress.ip_address(addr).version == 4 else 'v6'}"

    def create(self, addr: str, ttl: float | None) -> Command:
        """The fast path: one element into existing sets (fails if the element or set exists not)."""
        t = _timeout(ttl)
        return self._script([f"create element {self._set(addr)} {{ {addr}{'' if t is None else f' timeout {t}s'} }}"])

    def replace(self, addr: str, ttl: float | None) -> Command:
        """The self-healing path: declare table, sets and rules, and replace the element (so
        its timeout is exactly the new one). Deleting an element makes the kernel wait for an
        RCU grace period (~10 ms), hence not the common path."""
        s, t = self._set(addr), _timeout(ttl)
        element = addr if t is None else f"{addr} timeout {t}s"
        return self._script([*self._declare(), f"add element {s} {{ {addr} }}",
                             f"delete element {s} {{ {addr} }}", f"add element {s} {{ {element} }}"])

    def unblock(self, addr: str) -> Command:
        s = self._set(addr)
        return self._script([*self._declare(), f"add element {s} {{ {addr} }}", f"delete element {s} {{ {addr} }}"])

    def apply(self, ctx: ActionContext, fast: Command, full: Command) -> None:
        """`full` the first time in this process (rules declared) and whenever `fast` finds the
        element already there or the set gone; `fast` otherwise."""
        if self.key in self._ready:
            try:
                ctx.run(fast)
                return
            except HostwardenError as exc:
                if exc.code is not RESP_COMMAND_FAILED or not any(
                        m in exc.message for m in ("File exists", "No such file or directory")):
                    raise
        ctx.run(full)
        self._ready.add(self.key)


class IpsetSets:
    """ipsets (hash:ip with per-element timeout) matched by iptables/ip6tables DROP rules."""

    _ready: ClassVar[set[tuple[Any, ...]]] = set()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, fw: FirewallSettings) -> None:
        self.fw = fw
        self.key = (tuple(fw.prefix), tuple(fw.ipset), tuple(fw.iptables), fw.ipset_v4, fw.ipset_v6)

    def _cmd(self, argv: list[str], stdin: str | None = None, ok: tuple[int, ...] = (0,)) -> Command:
        return Command(argv, stdin, list(self.fw.prefix), ok)

    def set_name(self, addr: str) -> str:
        return self.fw.ipset_v4 if ipaddress.ip_address(addr).version == 4 else self.fw.ipset_v6

    def ready(self) -> bool:
        return self.key in self._ready

    def setup_steps(self) -> list[str]:
        return [f"ipset create {self.fw.ipset_v4}/{self.fw.ipset_v6} (hash:ip, timeout) if missing",
                f"iptables/ip6tables: DROP rule matching the set in {', '.join(h.upper() for h in HOOKS)} if missing"]

    def ensure(self, ctx: ActionContext) -> None:
        """Create the sets and rules once per process (idempotent: -exist, -C before -I)."""
        with self._lock:
            if self.key in self._ready:
                return
            fw = self.fw
            ctx.run(self._cmd([*fw.ipset, "restore", "-exist"],
                              f"create {fw.ipset_v4} hash:ip family inet timeout 0\n"
                              f"create {fw.ipset_v6} hash:ip family inet6 timeout 0\n"))
            for tool, name in ((fw.iptables, fw.ipset_v4), (fw.ip6tables, fw.ipset_v6)):
                for chain in HOOKS:
                    rule = [chain.upper(), "-m", "set", "--match-set", name, "src", "-j", "DROP"]
                    if ctx.run(self._cmd([*tool, "-C", *rule], ok=(0, 1))).returncode == 1:
                        ctx.run(self._cmd([*tool, "-I", rule[0], "1", *rule[1:]]))
            self._ready.add(self.key)

    def forget(self) -> None:
        with self._lock:
            self._ready.discard(self.key)

    def block(self, addr: str, ttl: float | None) -> Command:
        return self._cmd([*self.fw.ipset, "add", self.set_name(addr), addr, "timeout", str(_timeout(ttl) or 0), "-exist"])

    def unblock(self, addr: str) -> Command:
        return self._cmd([*self.fw.ipset, "del", self.set_name(addr), addr, "-exist"])


class BlockIpParams(ActionParams):
    backend: str | None = Field(None, pattern="^(nft|ipset)$", description="override the configured backend")


class BlockIp(Action):
    name = "block_ip"
    Params = BlockIpParams
    target_kind = "ip"
    default_field = "source.ip"
    capped = True

    def _backend(self, params: BlockIpParams) -> tuple[str, NftSets | IpsetSets]:
        fw = self.settings.firewall
        kind = params.backend or choose_backend(fw)
        return kind, (NftSets(fw) if kind == "nft" else IpsetSets(fw))

    def plan(self, target: Target, params: ActionParams) -> Plan:
        assert isinstance(params, BlockIpParams)
        kind, sets = self._backend(params)
        addr = target.value
        ttl = f"for {params.ttl:g}s" if params.ttl else "until undone"
        if isinstance(sets, NftSets):
            commands = [sets.create(addr, params.ttl), sets.replace(addr, params.ttl)]
            steps = [commands[0].display(), f"if the element exists or the table is missing: {commands[1].display()}"]
            how = f"nft set inet {sets.fw.table}"
        else:
            commands = [sets.block(addr, params.ttl)]
            steps = [*([] if sets.ready() else sets.setup_steps()), commands[0].display()]
            how = f"ipset {sets.set_name(addr)}"
        return Plan(self.name, target, params.model_dump(), f"drop traffic from {addr} {ttl} ({how})",
                    steps=steps, commands=commands, addresses=[addr], ttl=params.ttl, facts={"backend": kind})

    def apply(self, plan: Plan, ctx: ActionContext) -> dict[str, Any]:
        kind = plan.facts.get("backend", "nft")
        if kind == "nft":
            NftSets(ctx.settings.firewall).apply(ctx, plan.commands[0], plan.commands[-1])
            return {"backend": kind, "address": plan.target.value}
        sets = IpsetSets(ctx.settings.firewall)
        sets.ensure(ctx)
        try:
            ctx.run(plan.commands[0])
        except HostwardenError as exc:  # sets gone (e.g. flushed by hand): rebuild once
            if exc.code is not RESP_COMMAND_FAILED:
                raise
            sets.forget()
            sets.ensure(ctx)
            ctx.run(plan.commands[0])
        return {"backend": kind, "address": plan.target.value}

    def undo(self, plan: Plan, undo: dict[str, Any], ctx: ActionContext) -> None:
        kind = undo.get("backend") or plan.facts.get("backend", "nft")
        fw = ctx.settings.firewall
        sets = NftSets(fw) if kind == "nft" else IpsetSets(fw)
        try:
            ctx.run(sets.unblock(plan.target.value))
        except HostwardenError as exc:
            # ipset: a set that no longer exists holds no element; that is the goal reached
            if not (kind == "ipset" and exc.code is RESP_COMMAND_FAILED and "does not exist" in exc.message):
                raise


class IsolateParams(ActionParams):
    management: list[str] = Field(default_factory=list, description="extra addresses kept reachable")


class IsolateHost(Action):
    name = "isolate_host"
    Params = IsolateParams
    target_kind = "host"
    default_field = "host.name"
    default_approval = "manual"

    def targets(self, alert: Any, params: ActionParams) -> list[Target]:
        return [Target("host", str(alert.get("host.name") or "localhost"))]

    def keep(self, params: IsolateParams) -> list[str]:
        a = self.settings.allowlist
        return [*a.management, *a.cidrs, *params.management]

    def plan(self, target: Target, params: ActionParams) -> Plan:
        assert isinstance(params, IsolateParams)
        keep = self.keep(params)
        command = self._script(keep)
        return Plan(self.name, target, params.model_dump(),
                    f"isolate {target.value}: drop all traffic except loopback and {len(keep)} management address(es)",
                    steps=[command.display()], commands=[command], ttl=params.ttl,
                    facts={"management": keep})

    def _script(self, keep: list[str]) -> Command:
        fw = self.settings.firewall
        t = f"inet {fw.isolate_table}"
        nets = [ipaddress.ip_network(k, strict=False) for k in keep]
        v4 = ", ".join(str(n) for n in nets if n.version == 4)
        v6 = ", ".join(str(n) for n in nets if n.version == 6)
        lines = [f"add table {t}", f"delete table {t}", f"add table {t}",
                 f"add set {t} mgmt4 {{ type ipv4_addr; flags interval; auto-merge; }}",
                 f"add set {t} mgmt6 {{ type ipv6_addr; flags interval; auto-merge; }}"]
        lines += [f"add element {t} mgmt4 {{ {v4} }}"] if v4 else []
        lines += [f"add element {t} mgmt6 {{ {v6} }}"] if v6 else []
        for hook, own, peer in (("input", "iif", "saddr"), ("output", "oif", "daddr"), ("forward", None, None)):
            lines.append(f"add chain {t} {hook} {{ type filter hook {hook} priority filter - 20; policy drop; }}")
            if own:
                lines += [f"add rule {t} {hook} {own} lo accept",
                          f"add rule {t} {hook} ip {peer} @mgmt4 accept",
                          f"add rule {t} {hook} ip6 {peer} @mgmt6 accept",
                          f"add rule {t} {hook} icmpv6 type {ND_TYPES} accept"]
        return Command([*fw.nft, "-f", "-"], "\n".join(lines) + "\n", list(fw.prefix))

    def apply(self, plan: Plan, ctx: ActionContext) -> dict[str, Any]:
        ctx.run(plan.commands[0])
        return {"table": ctx.settings.firewall.isolate_table}

    def undo(self, plan: Plan, undo: dict[str, Any], ctx: ActionContext) -> None:
        fw = ctx.settings.firewall
        t = f"inet {undo.get('table') or fw.isolate_table}"
        ctx.run(Command([*fw.nft, "-f", "-"], f"add table {t}\ndelete table {t}\n", list(fw.prefix)))
