"""Suggested rules from traffic, the `fw` CLI and the scanner, end to end on files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hostwarden.commands.fw import app
from hostwarden.core.records import ecs_records
from hostwarden.scan.base import ScanContext
from hostwarden.scan.firewall.cloud import parse_alibaba
from hostwarden.scan.firewall.iptables import parse_iptables_save
from hostwarden.scan.firewall.scanner import FirewallScanner
from hostwarden.scan.firewall.simulate import parse_flow, simulate
from hostwarden.scan.firewall.suggest import listening_sockets, suggest

PROC_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   108        0 2 1 0 100 0 0 10 0
   2: 0500000A:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
   3: 0500000A:0016 0900000A:D431 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0
   garbage line
"""
PROC_TCP6 = """  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000
"""
PROC_UDP = """  sl  local_address rem_address   st
   0: 00000000:0035 00000000:0000 07 00000000:00000000
"""

EVENTS = [
    {"source.ip": "203.0.113.7", "destination.ip": "10.0.0.5", "destination.port": 443, "network.transport": "tcp"},
    {"source": {"ip": "198.51.100.3"}, "destination": {"ip": "10.0.0.5", "port": 22}, "network": {"transport": "tcp"}},
    {"source.ip": "10.0.0.5", "destination.ip": "93.184.216.34", "destination.port": 40000, "network.transport": "tcp"},
    {"source.ip": "192.0.2.53", "destination.ip": "10.0.0.5", "destination.port": 53, "network.transport": "udp"},
    {"source.ip": "127.0.0.1", "destination.ip": "127.0.0.1", "destination.port": 3306, "network.transport": "tcp"},
]


def make_root(tmp_path: Path) -> Path:
    net = tmp_path / "proc" / "net"
    net.mkdir(parents=True)
    (net / "tcp").write_text(PROC_TCP)
    (net / "tcp6").write_text(PROC_TCP6)
    (net / "udp").write_text(PROC_UDP)
    return tmp_path


def test_listening_sockets_from_proc(tmp_path):
    socks = {(s.transport, s.address, s.port) for s in listening_sockets(make_root(tmp_path))}
    assert socks == {("tcp", "0.0.0.0", 22), ("tcp", "127.0.0.1", 3306), ("tcp", "10.0.0.5", 443),
                     ("tcp", "::", 8080), ("udp", "0.0.0.0", 53)}


def test_suggested_rules_allow_observed_flows_and_nothing_else(tmp_path):
    result = suggest(EVENTS, make_root(tmp_path))
    rs = parse_iptables_save(result["iptables"])
    for flow in ("tcp 203.0.113.7:5000 -> 10.0.0.5:443", "tcp 198.51.100.3:5000 -> 10.0.0.5:22",
                 "udp 192.0.2.53:5000 -> 10.0.0.5:53"):
        assert simulate(rs, parse_flow(flow)).allowed, flow
    for flow in ("tcp 203.0.113.8:5000 -> 10.0.0.5:443", "tcp 203.0.113.7:5000 -> 10.0.0.5:22",
                 "tcp 203.0.113.7:5000 -> 10.0.0.5:3306", "tcp 10.0.0.5:1 -> 10.0.0.5:40000"):
        assert not simulate(rs, parse_flow(flow)).allowed, flow
    sg = parse_alibaba(result["security_group"])
    assert simulate(sg, parse_flow("tcp 198.51.100.3:1 -> 10.0.0.5:22")).allowed
    assert not simulate(sg, parse_flow("tcp 198.51.100.4:1 -> 10.0.0.5:22")).allowed
    assert [s["port"] for s in result["listening_without_traffic"]] == [8080]


RULES = """*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 10.0.0.0/8 -j ACCEPT
-A INPUT -s 10.66.0.0/16 -p tcp --dport 22 -j DROP
-A INPUT -p tcp --dport 6379 -j ACCEPT
COMMIT
"""


def test_cli_check_analyze_drift_suggest(tmp_path):
    runner = CliRunner()
    rules = tmp_path / "rules.v4"
    rules.write_text(RULES)
    res = runner.invoke(app, ["check", str(rules), "--flow", "tcp 10.66.1.1:40000 -> 10.0.0.5:22", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["action"] == "allow" and doc["path"][-1]["rule"] == "INPUT#1"
    res = runner.invoke(app, ["check", str(rules), "--flow", "tcp 203.0.113.1:40000 -> 10.0.0.5:22"])
    assert res.exit_code == 0 and "DENY" in res.stdout and "INPUT:policy" in res.stdout

    res = runner.invoke(app, ["analyze", str(rules), "--format", "json"])
    doc = json.loads(res.stdout)
    types = {f["type"] for f in doc["findings"]}
    assert {"shadowing", "risky-port-exposed"} <= types
    shadow = next(f for f in doc["findings"] if f["type"] == "shadowing")
    assert shadow["grade"] == "L2" and shadow["rule"]["rule"] == "INPUT#2"
    res = runner.invoke(app, ["analyze", str(rules)])
    assert res.exit_code == 0 and "shadowing" in res.stdout

    other = tmp_path / "b.rules"
    other.write_text(RULES.replace("--dport 6379", "--dport 6380"))
    res = runner.invoke(app, ["drift", str(rules), str(other), "--format", "json"])
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert [r["region"]["dport"] for r in doc["only_in_a"]] == [["6379"]]
    assert runner.invoke(app, ["drift", str(rules), str(rules)]).exit_code == 0

    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in EVENTS))
    res = runner.invoke(app, ["suggest", "--events", str(events), "--root", str(make_root(tmp_path / "r"))])
    assert res.exit_code == 0 and "-s 203.0.113.7/32 -d 10.0.0.5/32 -p tcp -m tcp --dport 443" in res.stdout


def test_cli_errors_have_codes_and_exit_2(tmp_path):
    runner = CliRunner()
    bad = tmp_path / "bad.rules"
    bad.write_text("*filter\n:INPUT DROP [0:0]\n-A INPUT -s 999.1.1.1 -j ACCEPT\nCOMMIT\n")
    res = runner.invoke(app, ["analyze", str(bad)])
    assert res.exit_code == 2 and "FW-3001" in res.output and "line 3" in res.output
    good = tmp_path / "good.rules"
    good.write_text(RULES)
    res = runner.invoke(app, ["check", str(good), "--flow", "tcp nowhere -> 1.2.3.4:22"])
    assert res.exit_code == 2 and "FW-3002" in res.output
    res = runner.invoke(app, ["check", str(tmp_path / "missing"), "--flow", "tcp 1.1.1.1:1 -> 1.2.3.4:22"])
    assert res.exit_code == 2 and "FW-3001" in res.output


def test_scanner_reads_saved_rules_and_reports_bad_files(tmp_path):
    (tmp_path / "etc" / "iptables").mkdir(parents=True)
    (tmp_path / "etc" / "iptables" / "rules.v4").write_text(RULES)
    (tmp_path / "etc" / "iptables" / "rules.v6").write_text("*filter\n:INPUT DROP [0:0]\n-A INPUT -p bogus\nCOMMIT\n")
    ctx = ScanContext(root=tmp_path)
    found = ecs_records(FirewallScanner().scan(ctx))
    assert {f["event.action"] for f in found} >= {"shadowing", "risky-port-exposed"}
    assert all(f["event.kind"] == "finding" and f["file.path"] == "/etc/iptables/rules.v4" for f in found)
    assert [n["code"] for n in ctx.notices] == ["FW-3001"]
    assert ecs_records(FirewallScanner().scan(ScanContext(root=tmp_path / "empty"))) == []
