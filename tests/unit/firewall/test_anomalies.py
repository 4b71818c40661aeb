"""Each anomaly type on a hand-written rule set, with its proof packet replayed by the simulator."""

from __future__ import annotations

from hostwarden.scan.firewall.anomalies import analyze


def findings(rs, kind=None):
    out = [f for a in analyze(rs) for f in a.findings]
    return [f for f in out if kind is None or f["type"] == kind]


def test_shadowing_by_one_earlier_rule(ipt, replay):
    rs = ipt("""
-A INPUT -s 10.0.0.0/8 -j ACCEPT
-A INPUT -s 10.1.2.3/32 -p tcp --dport 22 -j DROP
""")
    [f] = findings(rs, "shadowing")
    assert f["rule"]["rule"] == "INPUT#2" and [r["rule"] for r in f["rules"]] == ["INPUT#1"]
    assert f["union"] is False
    # The proof packet matches the dead DROP rule, yet the simulator accepts it.
    assert f["packet"]["source"] == "10.1.2.3" and f["packet"]["destination_port"] == 22
    assert replay(rs, f["packet"]) == "accept"


def test_shadowing_by_union_of_earlier_rules_that_pairwise_checks_miss(ipt, replay):
    rs = ipt("""
-A INPUT -s 203.0.113.0/25 -p tcp -j ACCEPT
-A INPUT -s 203.0.113.128/25 -p tcp -j ACCEPT
-A INPUT -s 203.0.113.0/24 -p tcp --dport 22 -j DROP
""")
    [f] = findings(rs, "shadowing")
    assert f["rule"]["rule"] == "INPUT#3"
    assert f["union"] is True and {r["rule"] for r in f["rules"]} == {"INPUT#1", "INPUT#2"}
    # neither earlier rule alone covers it
    assert "union" in f["message"]
    assert replay(rs, f["packet"]) == "accept"


def test_dead_rule_covered_with_the_same_action_is_redundancy_not_shadowing(ipt, replay):
    rs = ipt("""
-A INPUT -p tcp --dport 80 -j ACCEPT
-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
-A INPUT -p tcp --dport 443 -j ACCEPT
""", policy="DROP")
    red = findings(rs, "redundancy")
    # INPUT#2 is not redundant: INPUT#3 is dead itself, so it cannot take over INPUT#2's packets.
    assert sorted(f["rule"]["rule"] for f in red) == ["INPUT#1", "INPUT#3"]
    assert not findings(rs, "shadowing")
    for f in red:
        assert replay(rs, f["packet"]) == "accept"


def test_redundancy_is_withheld_when_a_rule_in_between_has_the_other_verdict(ipt):
    rs = ipt("""
-A INPUT -s 10.0.0.5/32 -p tcp --dport 22 -j ACCEPT
-A INPUT -s 10.0.0.0/24 -p tcp --dport 22 -j DROP
-A INPUT -s 10.0.0.0/8 -j ACCEPT
""", policy="DROP")
    assert not [f for f in findings(rs, "redundancy") if f["rule"]["rule"] == "INPUT#1"]
    pairs = {(g["rule"]["rule"], g["rules"][0]["rule"]) for g in findings(rs, "generalization")}
    assert pairs == {("INPUT#2", "INPUT#1"), ("INPUT#3", "INPUT#2")}


def test_redundant_with_the_policy(ipt, replay):
    rs = ipt("-A INPUT -p tcp --dport 3306 -j DROP\n", policy="DROP")
    [f] = findings(rs, "redundancy")
    assert f["rules"][0]["rule"] == "INPUT:policy"
    assert replay(rs, f["packet"]) == "deny"


def test_correlation_example_packet_is_in_both_rules(ipt, replay):
    rs = ipt("""
-A INPUT -s 192.0.2.0/24 -p tcp -j ACCEPT
-A INPUT -p tcp --dport 22 -j DROP
""")
    [f] = findings(rs, "correlation")
    assert f["packet"]["source"].startswith("192.0.2.") and f["packet"]["destination_port"] == 22
    # decided by the first rule: accept, although the second would drop it
    assert replay(rs, f["packet"]) == "accept"


def test_generalization(ipt, replay):
    rs = ipt("""
-A INPUT -s 198.51.100.7/32 -j DROP
-A INPUT -s 198.51.100.0/24 -j ACCEPT
""", policy="DROP")
    [f] = findings(rs, "generalization")
    assert f["rule"]["rule"] == "INPUT#2" and f["packet"]["source"] == "198.51.100.7"
    assert replay(rs, f["packet"]) == "deny"
    assert not findings(rs, "correlation")


def test_return_from_user_chain_is_part_of_the_model(ipt, replay):
    # The ACCEPT in SSH never sees 192.0.2.0/24 (RETURN), so the later DROP for it is not shadowed.
    rs = ipt("""
-A INPUT -p tcp --dport 22 -j SSH
-A INPUT -s 192.0.2.0/24 -p tcp --dport 22 -j DROP
-A SSH -s 192.0.2.0/24 -j RETURN
-A SSH -j ACCEPT
""", chains="SSH")
    assert not findings(rs, "shadowing")
    rs2 = ipt("""
-A INPUT -p tcp --dport 22 -j SSH
-A INPUT -s 192.0.2.0/24 -p tcp --dport 22 -j DROP
-A SSH -j ACCEPT
""", chains="SSH")
    [f] = findings(rs2, "shadowing")
    assert f["rules"][0]["rule"] == "INPUT#1 > SSH#1"
    assert replay(rs2, f["packet"]) == "accept"


def test_clean_rule_set_has_no_anomalies(ipt):
    rs = ipt("""
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp --dport 22 -s 10.0.0.0/8 -j ACCEPT
-A INPUT -p tcp --dport 443 -j ACCEPT
""", policy="DROP")
    kinds = {f["type"] for f in findings(rs)}
    assert not kinds & {"shadowing", "redundancy", "generalization"}
