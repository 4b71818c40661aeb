"""Exposure, wide rules, health checks and semantic drift on hand-built rule sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostwarden.core.errors import HostwardenError
from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.drift import drift
from hostwarden.scan.firewall.exposure import exposed_ports, wide_rules
from hostwarden.scan.firewall.healthcheck import blocked_health_checks, load_health_checks
from hostwarden.scan.firewall.model import Packet


def test_exposed_ports_account_for_earlier_drops_and_loopback(ipt):
    rs = ipt("""
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp --dport 6379 -j DROP
-A INPUT -p tcp -m multiport --dports 22,6379 -j ACCEPT
-A INPUT -s 10.0.0.0/8 -p tcp --dport 5432 -j ACCEPT
-A INPUT -p udp --dport 53 -j ACCEPT
""", policy="DROP")
    segs = {(e["protocol"], e["port_from"], e["port_to"]): e for e in exposed_ports(rs)}
    assert set(segs) == {("tcp", 22, 22), ("udp", 53, 53)}  # not 6379 (dropped), not 5432 (private only)
    assert segs[("tcp", 22, 22)]["risky"] == {"22": "SSH"} and segs[("tcp", 22, 22)]["from_anywhere"]


def test_partial_exposure_is_not_from_anywhere(ipt):
    rs = ipt("-A INPUT -s 198.51.100.0/24 -p tcp --dport 3389 -j ACCEPT\n", policy="DROP")
    [seg] = exposed_ports(rs)
    assert seg["port_from"] == 3389 and not seg["from_anywhere"] and seg["source_example"].startswith("198.51.100.")


def test_wide_rules(ipt):
    rs = ipt("""
-A INPUT -p tcp --dport 1024:65535 -j ACCEPT
-A INPUT -p tcp --dport 80 -j ACCEPT
-A INPUT -s 10.0.0.0/8 -j ACCEPT
-A INPUT -s 192.0.2.0/24 -j ACCEPT
""", policy="DROP")
    wide = {w["rule"]["rule"]: w for w in wide_rules(rs)}
    assert set(wide) == {"INPUT#1", "INPUT#4"}
    assert wide["INPUT#4"]["all_protocols"] and wide["INPUT#1"]["ports"] == 64512


def test_blocked_health_check_names_the_denying_rule(ipt, tmp_path: Path):
    hc = tmp_path / "hc.yaml"
    hc.write_text("health_checks:\n  - name: web\n    listener_port: 80\n    backend_port: 8080\n"
                  "    source_ranges: [100.64.0.0/10]\n  - name: api\n    backend_port: 9000\n"
                  "    source_ranges: [100.64.0.0/10]\n")
    rs = ipt("""
-A INPUT -s 100.64.0.0/11 -p tcp --dport 8080 -j ACCEPT
-A INPUT -p tcp --dport 9000 -j ACCEPT
""", policy="DROP")
    [blocked] = blocked_health_checks(rs, load_health_checks(hc))
    assert blocked["check"] == "web" and blocked["path"][-1]["rule"] == "INPUT:policy"
    # the example probe really comes from the uncovered half of 100.64.0.0/10
    src = blocked["packet"]["source"]
    assert src.startswith("100.") and 96 <= int(src.split(".")[1]) <= 127


@pytest.mark.parametrize("text", ["nope: 1\n", "health_checks:\n  - name: x\n", "{bad json", "health_checks: [1]\n"])
def test_bad_health_check_files(tmp_path: Path, text):
    hc = tmp_path / "hc.yaml"
    hc.write_text(text)
    with pytest.raises(HostwardenError) as e:
        load_health_checks(hc)
    assert e.value.code.code == "FW-3001"


def _points(parts, dim):
    return iv.normalize(i for p in parts for i in p[dim])


def test_drift_reports_exactly_the_differing_flows(ipt):
    a = ipt("""
-A INPUT -p tcp --dport 22 -s 10.0.0.0/8 -j ACCEPT
-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
""", policy="DROP")
    b = ipt("""
-A INPUT -p tcp --dport 443 -j ACCEPT
-A INPUT -p tcp --dport 80 -j ACCEPT
-A INPUT -p tcp --dport 22 -s 10.0.0.0/9 -j ACCEPT
-A INPUT -p tcp --dport 8080 -j ACCEPT
""", policy="DROP")
    d = drift(a, b)
    assert not d["equivalent"]
    # only in a: ssh from 10.128.0.0/9; only in b: tcp 8080 from anywhere
    [pa] = d["_only_a"]
    assert pa[0] == ((6, 6),) and pa[4] == ((22, 22),)
    assert pa[1] == ((0xFFFF0A800000, 0xFFFF0AFFFFFF),)
    assert _points(d["_only_b"], 4) == ((8080, 8080),)
    assert all(p[0] == ((6, 6),) for p in d["_only_b"])
    row = d["only_in_a"][0]
    assert row["allowed_by"][0]["rule"] == "INPUT#1" and row["denied_by"][0]["rule"] == "INPUT:policy"


def test_reordered_equivalent_rules_have_no_drift(ipt):
    a = ipt("-A INPUT -p tcp --dport 80 -j ACCEPT\n-A INPUT -p tcp --dport 443 -j ACCEPT\n", policy="DROP")
    b = ipt("-A INPUT -p tcp -m multiport --dports 443,80 -j ACCEPT\n-A INPUT -p tcp --dport 80 -j ACCEPT\n",
            policy="DROP")
    assert drift(a, b)["equivalent"]


def test_drift_across_formats_aligns_interfaces(ipt):
    a = ipt("-A INPUT -i eth0 -p tcp --dport 80 -j ACCEPT\n", policy="DROP")
    b = ipt("-A INPUT -i eth1 -p tcp --dport 80 -j ACCEPT\n", policy="DROP")
    d = drift(a, b)
    ex_a = Packet.from_point(a, iv.sample(d["_only_a"][0]))
    assert ex_a.iif == "eth0" and ex_a.dport == 80
