"""The allowlist: addresses are read as the kernel matches them, and an allowlisted address is
never blocked, whatever the alerts, playbooks and allowlists (property test, IPv4 and IPv6,
CIDR edges, IPv4-mapped spellings, lists of addresses, automatic and approved actions)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from respond_helpers import SSH_FAST, alert, block_playbook, playbook, script

from hostwarden.core.errors import HostwardenError
from hostwarden.respond.allowlist import Allowlist, discover_host_addresses, parse_address
from hostwarden.respond.engine import Responder
from hostwarden.respond.settings import AllowlistSettings, respond_settings


def test_parse_address_normalises_like_the_kernel() -> None:
    assert str(parse_address("::ffff:192.0.2.10")) == "192.0.2.10"
    assert str(parse_address("[2001:db8::1]")) == "2001:db8::1"
    assert str(parse_address(" 2001:DB8:0::1 ")) == "2001:db8::1"
    for bad in ("fe80::1%eth0", "10.0.0.0/8", "999.1.1.1", "", "host.example"):
        with pytest.raises(HostwardenError) as exc:
            parse_address(bad)
        assert exc.value.code.code == "RESP-6009"


def test_allowlist_sources_and_reasons() -> None:
    a = Allowlist.build(AllowlistSettings(cidrs=["198.51.100.0/24", "::ffff:203.0.113.0/120"], management=["192.0.2.7"],
                                          include_private=True), host_addresses=["192.0.2.1", "fd00::1"])
    assert a.protects("198.51.100.255").reason == "configured allowlist"
    assert a.protects("203.0.113.77") is not None  # the IPv4 equivalent of a mapped range
    assert a.protects("::ffff:192.0.2.7").reason == "management address"
    assert a.protects("10.1.2.3").reason.startswith("private")
    assert a.protects("fd00::1") is not None and a.protects("192.0.2.1") is not None
    for always in ("127.0.0.1", "::1", "169.254.1.1", "fe80::5", "0.0.0.0", "ff02::1", "224.0.0.1"):
        assert a.protects(always) is not None, always
    assert a.protects("198.51.101.0") is None
    assert Allowlist.build(AllowlistSettings()).protects("10.1.2.3") is None  # private ranges only on request


def test_host_addresses_are_discovered() -> None:
    found = discover_host_addresses()
    assert "127.0.0.1" in found  # lo's address, read from `ip -j addr` (or /proc)


def test_allowlisted_target_is_refused_and_audited(make_settings, make_responder, recorder) -> None:  # type: ignore[no-untyped-def]
    tool, log = recorder
    s = make_settings(firewall={"backend": "nft", "nft": [str(tool)]}, allowlist={"cidrs": ["203.0.113.0/24"]})
    r = make_responder(s, [playbook(block_playbook())])
    out = r.handle(alert("::ffff:203.0.113.9"), wait=True)
    assert [(o.status, o.code) for o in out] == [("refused", "RESP-6001")]
    assert not log.exists()
    assert any(rec["kind"] == "refused" and rec["code"] == "RESP-6001" for rec in r.audit.records())


# --- the property ------------------------------------------------------------------------------
def _net(version: int, value: int, prefix: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    bits = 32 if version == 4 else 128
    prefix = min(prefix, bits)
    cls = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    return cls((value % (1 << bits), prefix), strict=False)


networks = st.builds(_net, st.sampled_from([4, 6]), st.integers(0, (1 << 128) - 1),
                     st.one_of(st.integers(0, 128), st.sampled_from([8, 16, 24, 31, 32, 48, 64, 120, 127, 128])))


@st.composite
def address_near(draw: Any, nets: list[Any]) -> str:
    """An address at, inside or just outside an allowlisted network's edges, or anywhere."""
    if nets and draw(st.booleans()):
        n = draw(st.sampled_from(nets))
        lo, hi = int(n.network_address), int(n.broadcast_address)
        value = draw(st.sampled_from([lo, hi, lo - 1, hi + 1, (lo + hi) // 2]))
        bits = 32 if n.version == 4 else 128
        value %= 1 << bits
        addr = ipaddress.ip_address(value) if n.version == 6 else ipaddress.IPv4Address(value)
    else:
        v6 = draw(st.booleans())
        addr = ipaddress.IPv6Address(draw(st.integers(0, (1 << 128) - 1))) if v6 else \
            ipaddress.IPv4Address(draw(st.integers(0, (1 << 32) - 1)))
    if addr.version == 4 and draw(st.booleans()):
        return f"::ffff:{addr}"  # the mapped spelling of the same address
    return str(addr)


def _oracle(addr: str, nets: list[Any], private: bool) -> bool:
    """Independently of the code under test: is `addr` covered by the configured allowlist?"""
    a = ipaddress.ip_address(addr)
    if a.version == 6 and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    covered = []
    for n in nets:
        covered.append(n)
        if n.version == 6 and n.prefixlen >= 96 and n.subnet_of(ipaddress.IPv6Network("::ffff:0:0/96")):
            covered.append(ipaddress.IPv4Network((int(n.network_address) & 0xFFFFFFFF, n.prefixlen - 96)))
    if private:
        covered += [ipaddress.ip_network(p) for p in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                      "100.64.0.0/10", "fc00::/7")]
    return any(a.version == n.version and a in n for n in covered)


def _special(addr: str) -> bool:
    a = ipaddress.ip_address(addr)
    if a.version == 6 and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return a.is_loopback or a.is_link_local or a.is_multicast or a.is_unspecified or \
        (a.version == 4 and (a in ipaddress.ip_network("0.0.0.0/8") or a == ipaddress.IPv4Address("255.255.255.255")))


def _blocked(log: Path, deny_file: Path) -> set[str]:
    text = log.read_text() if log.exists() else ""
    found = set(re.findall(r"^(?:add|create) element inet hostwarden v[46] \{ (\S+) timeout", text, re.M))
    if deny_file.exists():
        found |= set(re.findall(r"^deny (\S+);$", deny_file.read_text(), re.M))
    return found


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data(), nets=st.lists(networks, max_size=4), private=st.booleans())
def test_an_allowlisted_address_is_never_blocked(tmp_path_factory, data, nets, private) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("prop")
    log = tmp / "nft.log"
    tool = script(tmp / "nft", f'cat >> {log}\n')
    s = respond_settings({
        "builtin_playbooks": False, "audit_fsync": False,
        "allowlist": {"cidrs": [str(n) for n in nets], "include_private": private, "include_host": False},
        "firewall": {"backend": "nft", "nft": [str(tool)]},
        "waf": {"deny_file": str(tmp / "deny.conf"), "modsecurity_file": None, "test": [], "reload": []},
        "rate": {"blocks_per_minute": 100000, "actions_per_minute": 100000},
    }, tmp / "data")
    books = []
    for i in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["block_ip", "waf_deny"]))
        field = data.draw(st.sampled_from(["source.ip", "related.ip"]))
        approval = data.draw(st.sampled_from(["auto", "manual"]))
        books.append(playbook(f"""
        id: p{i}
        trigger: {{grades: [L1, L2, L3]}}
        actions: [{{{action}: {{field: {field}, ttl: {data.draw(st.sampled_from(["30s", "1h"]))}}}}}]
        approval: {approval}
        """, s))
    r = Responder(s, books, host_addresses=[])
    try:
        sent: list[str] = []
        for _ in range(data.draw(st.integers(1, 6))):
            addrs = data.draw(st.lists(address_near(nets), min_size=1, max_size=3))
            sent += addrs
            r.handle({"rule.id": SSH_FAST, "event.severity": data.draw(st.sampled_from([1, 2, 3])),
                      "source.ip": addrs[0], "related.ip": addrs}, wait=True)
        for entry in r.list_actions(("pending",)):  # a person approving everything changes nothing
            r.approve(entry["id"])
        r.wait_idle(30)
    finally:
        r.close()
    blocked = _blocked(log, tmp / "deny.conf")
    for b in blocked:
        assert not _oracle(b, nets, private), f"{b} is allowlisted but was blocked"
    # and the check is not vacuous: what is not protected was blocked by some playbook
    reachable = {str(parse_address(a)) for a in sent}
    wanted = {a for a in reachable if not _oracle(a, nets, private) and not _special(a)}
    fields = {pb.actions[0].params.field for pb in books}
    if "related.ip" in fields:
        assert wanted <= blocked
