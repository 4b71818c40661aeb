"""Parsing iptables-save and nft JSON: features, and bad input that must fail with FW- codes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.core.errors import HostwardenError
from hostwarden.scan.firewall.iptables import parse_iptables_save
from hostwarden.scan.firewall.loader import load_text
from hostwarden.scan.firewall.model import Packet, addr_int
from hostwarden.scan.firewall.nftables import parse_nft_json
from hostwarden.scan.firewall.simulate import packet_for, parse_flow, simulate


def verdict(rs, flow: str, hook: str = "input") -> str:
    return simulate(rs, packet_for(rs, parse_flow(flow)), hook).action


def test_iptables_features(ipt):
    rs = ipt("""
-A INPUT -m set --match-set blocklist src -j DROP
-A INPUT -p tcp -m multiport --dports 80,443,8000:8100 -j ACCEPT
-A INPUT -p tcp -m iprange --src-range 10.0.0.10-10.0.0.20 --dport 22 -j ACCEPT
-A INPUT -s 10.9.0.0/16 ! -i eth0 -p udp -m udp ! --dport 53 -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type echo-request -m comment --comment "allow ping" -j ACCEPT
-A INPUT -m limit --limit 5/min -j LOG --log-prefix "dropped: "
""", policy="DROP")
    assert verdict(rs, "tcp 1.2.3.4:1 -> 10.0.0.1:8050") == "accept"
    assert verdict(rs, "tcp 1.2.3.4:1 -> 10.0.0.1:8101") == "deny"
    assert verdict(rs, "tcp 10.0.0.15:1 -> 10.0.0.1:22") == "accept"
    assert verdict(rs, "tcp 10.0.0.21:1 -> 10.0.0.1:22") == "deny"
    assert verdict(rs, "udp 10.9.1.1:1 -> 10.0.0.1:123 in eth1") == "accept"
    assert verdict(rs, "udp 10.9.1.1:1 -> 10.0.0.1:123 in eth0") == "deny"
    assert verdict(rs, "udp 10.9.1.1:1 -> 10.0.0.1:53 in eth1") == "deny"
    assert verdict(rs, "icmp 1.2.3.4 -> 10.0.0.1 type 8") == "accept"
    assert verdict(rs, "icmp 1.2.3.4 -> 10.0.0.1 type 0") == "deny"
    # the ipset is opaque: a packet assumed in the set meets the DROP
    assert verdict(rs, "tcp 1.2.3.4:1 -> 10.0.0.1:443 set blocklist") == "deny"
    assert any("blocklist" in k for k in rs.opaque_keys)


def test_ipv6_rules_never_match_ipv4_packets():
    rs = parse_iptables_save("*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
                             family="ipv6")
    assert verdict(rs, "tcp [2001:db8::1]:5 -> [2001:db8::2]:22") == "accept"
    assert verdict(rs, "tcp 192.0.2.1:5 -> 192.0.2.2:22") == "deny"


def test_other_tables_are_skipped_and_filter_is_required():
    text = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DNAT --to 1.2.3.4\nCOMMIT\n"
    with pytest.raises(HostwardenError) as e:
        parse_iptables_save(text)
    assert e.value.code.code == "FW-3001"
    rs = parse_iptables_save(text + "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
    assert list(rs.hooks) == ["input"]


@pytest.mark.parametrize("bad, line", [
    ("*filter\n:INPUT DROP [0:0]\n-A INPUT -s 10.0.0.300 -j ACCEPT\nCOMMIT\n", 3),
    ("*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n", 3),
    ("*filter\n:INPUT DROP [0:0]\n:FOO - [0:0]\n\n-A INPUT -p nosuchproto -j ACCEPT\nCOMMIT\n", 5),
    ("*filter\n:INPUT DROP [0:0]\n-A INPUT -g MISSING\nCOMMIT\n", 3),
    ("*filter\n:INPUT BOGUS [0:0]\nCOMMIT\n", 2),
    ("-A INPUT -j ACCEPT\n", 1),
    ("*filter\n:INPUT DROP [0:0]\n-A INPUT -m comment --comment \"unterminated\nCOMMIT\n", 3),
])
def test_parse_errors_name_the_line(bad, line):
    with pytest.raises(HostwardenError) as e:
        load_text(bad)
    assert e.value.code.code == "FW-3001"
    assert f"line {line}" in e.value.message


def test_jump_loop_is_reported_not_a_crash():
    rs = parse_iptables_save("*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n"
                             "-A B -j A\nCOMMIT\n")
    with pytest.raises(HostwardenError) as e:
        simulate(rs, Packet(6, addr_int("1.1.1.1"), addr_int("2.2.2.2"), 1, 2))
    assert "loop" in e.value.message


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_random_text_parses_or_fails_with_a_code(text):
    for doc in (text, "*filter\n:INPUT DROP [0:0]\n-A INPUT " + text + "\nCOMMIT\n"):
        try:
            load_text(doc)
        except HostwardenError as exc:
            assert exc.code.code.startswith("FW-")


@settings(max_examples=80, deadline=None)
@given(st.recursive(st.none() | st.integers() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(
                        st.sampled_from(["nftables", "rule", "chain", "expr", "family", "table", "name", "hook",
                                         "Permissions", "Permission", "SecurityGroups", "IpPermissions", "match"]),
                        c, max_size=4), max_leaves=12))
def test_random_json_fails_with_a_code(doc):
    try:
        load_text(json.dumps(doc))
    except HostwardenError as exc:
        assert exc.code.code.startswith("FW-")


NFT = {"nftables": [
    {"metainfo": {"json_schema_version": 1}},
    {"table": {"family": "inet", "name": "filter", "handle": 1}},
    {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter",
               "hook": "input", "prio": 0, "policy": "drop"}},
    {"chain": {"family": "inet", "table": "filter", "name": "ssh", "handle": 2}},
    {"set": {"family": "inet", "table": "filter", "name": "blocklist", "type": "ipv4_addr"}},
    {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 3, "expr": [
        {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
        {"accept": None}]}},
    {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [
        {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": None}]}},
    {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@blocklist"}},
        {"drop": None}]}},
    {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 6, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},
        {"jump": {"target": "ssh"}}]}},
    {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 7, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                   "right": {"set": [80, 443, {"range": [8000, 8080]}]}}}, {"counter": None}, {"accept": None}]}},
    {"rule": {"family": "inet", "table": "filter", "chain": "ssh", "handle": 8, "expr": [
        {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                   "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}}, {"return": None}]}},
    {"rule": {"family": "inet", "table": "filter", "chain": "ssh", "handle": 9, "expr": [{"accept": None}]}},
]}


def test_nft_json_ruleset():
    rs = parse_nft_json(json.dumps(NFT))
    assert verdict(rs, "tcp 10.1.1.1:5 -> 10.0.0.1:22") == "accept"
    assert verdict(rs, "tcp 192.0.2.1:5 -> 10.0.0.1:22") == "deny"  # RETURNed, then policy drop
    assert verdict(rs, "tcp [2001:db8::1]:5 -> [2001:db8::2]:8080") == "accept"  # inet: both families
    assert verdict(rs, "tcp 192.0.2.1:5 -> 10.0.0.1:8081") == "deny"
    assert verdict(rs, "tcp 192.0.2.1:5 -> 10.0.0.1:3306 established") == "accept"
    assert verdict(rs, "tcp 192.0.2.1:5 -> 10.0.0.1:443 set blocklist") == "deny"


def test_nft_two_base_chains_on_one_hook_must_both_accept():
    doc = json.loads(json.dumps(NFT))
    doc["nftables"].append({"chain": {"family": "inet", "table": "filter", "name": "early", "handle": 10,
                                      "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}})
    doc["nftables"].append({"rule": {"family": "inet", "table": "filter", "chain": "early", "handle": 11, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 443}},
        {"drop": None}]}})
    rs = parse_nft_json(json.dumps(doc))
    assert rs.hooks["input"] == ["inet:filter/early", "inet:filter/input"]
    assert verdict(rs, "tcp 192.0.2.1:5 -> 10.0.0.1:443") == "deny"
    assert verdict(rs, "tcp 192.0.2.1:5 -> 10.0.0.1:80") == "accept"


@pytest.mark.parametrize("flow", ["tcp 1.2.3.4 -> 5.6.7.8", "xyz 1.2.3.4:1 -> 5.6.7.8:2", "tcp 1.2.3.4:1 => 5.6.7.8:2",
                                  "tcp 1.2.3.4:1 -> [::1]:2", "tcp 1.2.3.4:1 -> 5.6.7.8:2 sideways",
                                  "tcp 1.2.3.999:1 -> 5.6.7.8:2", "tcp 1.2.3.4:1 -> 5.6.7.8:70000"])
def test_bad_flows_fail_with_fw_3002(flow):
    with pytest.raises(HostwardenError) as e:
        parse_flow(flow)
    assert e.value.code.code == "FW-3002"
