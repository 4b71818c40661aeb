"""Addresses a response must never act against, and how an address from an alert is read.

fail2ban and CrowdSec users lose access to their own servers when a ban ignores the
allowlist (CrowdSec #3462, #3655; fail2ban #3959). Here every target address passes through
`Allowlist.protects` in the executor, after being normalised the same way the firewall will
see it: an IPv4-mapped IPv6 address (`::ffff:192.0.2.10`) is the IPv4 address it maps, so a
mapped spelling in an attacker-written log line cannot slip an allowlisted address past.

Always protected: loopback, unspecified, link-local and multicast/broadcast ranges. By
configuration: management addresses, configured CIDRs, optionally private ranges, and this
host's own addresses, gateways and DNS resolvers (read from `ip -j addr`/`ip -j route`,
falling back to /proc).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hostwarden.core.errors import RESP_TARGET_INVALID, HostwardenError
from hostwarden.respond.settings import AllowlistSettings

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALWAYS = ("127.0.0.0/8", "0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32",
          "::1/128", "::/128", "fe80::/10", "ff00::/8")
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def parse_address(value: object) -> IPAddress:
    """The address an alert field names, as the kernel would match it; RESP-6009 if it is none."""
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text or "/" in text:  # zone ids and prefixes are not single hosts
        raise HostwardenError(RESP_TARGET_INVALID, f"{text[:80]!r} is not a single IP address")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise HostwardenError(RESP_TARGET_INVALID, f"{text[:80]!r} is not an IP address") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def parse_network(value: str) -> list[IPNetwork]:
    """A configured address or CIDR; a mapped IPv6 range also yields its IPv4 equivalent."""
    net = ipaddress.ip_network(value.strip(), strict=False)
    out: list[IPNetwork] = [net]
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.subnet_of(_MAPPED):
        first = net.network_address.ipv4_mapped
        assert first is not None
        out.append(ipaddress.IPv4Network(f"{first}/{net.prefixlen - 96}"))
    return out


@dataclass(frozen=True)
class Entry:
    network: IPNetwork
    reason: str


class Allowlist:
    """Networks never acted against, each with the reason it is there (shown when refusing)."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = list(entries)
        self._v4 = [(int(e.network.network_address), int(e.network.broadcast_address), e)
                    for e in self.entries if e.network.version == 4]
        self._v6 = [(int(e.network.network_address), int(e.network.broadcast_address), e)
                    for e in self.entries if e.network.version == 6]

    def protects(self, value: object) -> Entry | None:
        """The allowlist entry covering the address `value` (after normalisation), or None."""
        addr = value if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address) else parse_address(value)
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        n = int(addr)
        for low, high, entry in self._v4 if addr.version == 4 else self._v6:
            if low <= n <= high:
                return entry
        return None

    def networks(self, reasons: Sequence[str] | None = None) -> list[IPNetwork]:
        return [e.network for e in self.entries if reasons is None or e.reason in reasons]

    @classmethod
    def build(cls, settings: AllowlistSettings, host_addresses: Iterable[str] = ()) -> Allowlist:
        entries: list[Entry] = []

        def add(values: Iterable[str], reason: str) -> None:
            for v in values:
                entries.extend(Entry(net, reason) for net in parse_network(v))

        add(ALWAYS, "always protected (loopback, link-local, multicast)")
        add(settings.management, "management address")
        add(settings.cidrs, "configured allowlist")
        if settings.include_private:
            add(PRIVATE, "private range (include_private)")
        if settings.include_host:
            add(host_addresses, "this host's address, gateway or resolver")
        return cls(entries)


def discover_host_addresses(prefix: Sequence[str] = (), timeout: float = 5.0,
                            resolv_conf: Path = Path("/etc/resolv.conf")) -> list[str]:
    """This host's addresses, gateways and DNS resolvers (inside the namespace `prefix` enters,
    when given). Read-only; a missing `ip` falls back to /proc."""
    found: set[str] = set()
    try:
        for args in (["-j", "addr"], ["-j", "-4", "route", "show", "table", "all"],
                     ["-j", "-6", "route", "show", "table", "all"]):
            out = subprocess.run([*prefix, "ip", *args], capture_output=True, text=True,  # noqa: S603
                                 timeout=timeout, check=True).stdout
            for item in json.loads(out or "[]"):
                found.update(a["local"] for a in item.get("addr_info", []) if a.get("local"))
                if item.get("gateway"):
                    found.add(item["gateway"])
                for hop in item.get("nexthops", []) or []:
                    if hop.get("gateway"):
                        found.add(hop["gateway"])
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.warning("ip -j failed (%s); reading host addresses from /proc", exc)
        found.update(_proc_addresses())
    try:
        for line in resolv_conf.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                found.add(parts[1])
    except OSError:
        pass
    valid = []
    for a in sorted(found):
        try:
            valid.append(str(parse_address(a.split("%")[0])))
        except HostwardenError:
            continue
    return valid


def _proc_addresses() -> set[str]:
    """Gateways from /proc/net/route and IPv6 addresses from /proc/net/if_inet6 (no `ip`)."""
    found: set[str] = set()
    try:
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            cols = line.split()
            if len(cols) > 2 and cols[2] != "00000000":
                found.add(str(ipaddress.IPv4Address(bytes.fromhex(cols[2])[::-1])))
    except (OSError, ValueError):
        pass
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            found.add(str(ipaddress.IPv6Address(bytes.fromhex(line.split()[0]))))
    except (OSError, ValueError):
        pass
    try:  # local IPv4 addresses: the LOCAL entries of the FIB trie
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
        for prev, line in zip(lines, lines[1:], strict=False):
            if "/32 host LOCAL" in line:
                found.add(prev.split()[-1])
    except (OSError, IndexError):
        pass
    return found
