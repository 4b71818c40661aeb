"""Shared helpers: a small realistic rule set and a way to replay proof packets."""

from __future__ import annotations

import pytest

from hostwarden.scan.firewall.iptables import parse_iptables_save
from hostwarden.scan.firewall.model import Packet, Ruleset
from hostwarden.scan.firewall.simulate import simulate


def ipt(body: str, policy: str = "ACCEPT", chains: str = "") -> Ruleset:
    decls = "".join(f":{c} - [0:0]\n" for c in chains.split())
    return parse_iptables_save(f"*filter\n:INPUT {policy} [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                               f"{decls}{body.strip()}\nCOMMIT\n")


def replay(rs: Ruleset, packet: dict) -> str:
    """Decide a finding's example packet (as reported) with the simulator."""
    from hostwarden.scan.firewall.model import PROTOCOLS, STATES, addr_int

    pkt = Packet(PROTOCOLS.get(packet["protocol"], 0) if not packet["protocol"].isdigit() else int(packet["protocol"]),
                 addr_int(packet["source"]), addr_int(packet["destination"]),
                 packet.get("source_port", 0), packet.get("destination_port", 0),
                 packet.get("icmp_type", 8) * 256 + packet.get("icmp_code", 0),
                 STATES.index(packet["state"]), packet.get("in_interface", "*"), packet.get("out_interface", "*"))
    return simulate(rs, pkt).action


@pytest.fixture(name="ipt")
def ipt_fixture():
    return ipt


@pytest.fixture(name="replay")
def replay_fixture():
    return replay
