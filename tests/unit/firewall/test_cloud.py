"""Alibaba priority and drop-wins-ties; AWS union of groups; exposure that respects them."""

from __future__ import annotations

import pytest

from hostwarden.core.errors import HostwardenError
from hostwarden.scan.firewall.cloud import parse_alibaba, parse_aws
from hostwarden.scan.firewall.exposure import exposed_ports
from hostwarden.scan.firewall.simulate import parse_flow, simulate


def ali(*perms):
    return parse_alibaba({"SecurityGroupId": "sg-1", "Permissions": {"Permission": list(perms)}})


def perm(policy, prio, port="22/22", src="0.0.0.0/0", proto="TCP", direction="ingress"):
    return {"Direction": direction, "IpProtocol": proto, "PortRange": port, "SourceCidrIp": src,
            "Policy": policy, "Priority": str(prio), "NicType": "intranet"}


def allowed(rs, flow, hook="input"):
    return simulate(rs, parse_flow(flow), hook).allowed


def test_smaller_priority_wins_regardless_of_listing_order():
    rs = ali(perm("Accept", 50), perm("Drop", 10, src="198.51.100.0/24"))
    assert not allowed(rs, "tcp 198.51.100.9:1 -> 10.0.0.5:22")
    assert allowed(rs, "tcp 203.0.113.9:1 -> 10.0.0.5:22")
    rs = ali(perm("Drop", 50, src="198.51.100.0/24"), perm("Accept", 10))
    assert allowed(rs, "tcp 198.51.100.9:1 -> 10.0.0.5:22")


def test_drop_wins_ties_at_equal_priority():
    rs = ali(perm("Accept", 5), perm("Drop", 5, src="198.51.100.0/24"))
    assert not allowed(rs, "tcp 198.51.100.9:1 -> 10.0.0.5:22")
    assert allowed(rs, "tcp 203.0.113.9:1 -> 10.0.0.5:22")


def test_default_ingress_deny_and_egress_allow():
    rs = ali(perm("Accept", 1, port="443/443"))
    assert not allowed(rs, "tcp 203.0.113.9:1 -> 10.0.0.5:80")
    assert allowed(rs, "tcp 10.0.0.5:1 -> 203.0.113.9:80", hook="output")


def test_exposure_is_priority_aware():
    # A higher-priority drop of the whole internet makes the later accept of 3306 harmless.
    rs = ali(perm("Accept", 100, port="3306/3306"), perm("Drop", 1, port="3306/3306"),
             perm("Accept", 1, port="6379/6379"))
    ports = {(e["protocol"], e["port_from"]) for e in exposed_ports(rs)}
    assert ("tcp", 6379) in ports and ("tcp", 3306) not in ports
    [redis] = [e for e in exposed_ports(rs) if e["port_from"] == 6379]
    assert redis["from_anywhere"] and redis["risky"] == {"6379": "Redis"}


def test_all_protocol_and_port_range():
    rs = ali(perm("Accept", 1, port="8000/8100"), perm("Accept", 2, port="-1/-1", proto="ALL", src="10.0.0.0/8"))
    assert allowed(rs, "tcp 203.0.113.1:1 -> 10.0.0.5:8100")
    assert not allowed(rs, "tcp 203.0.113.1:1 -> 10.0.0.5:8101")
    assert allowed(rs, "udp 10.1.1.1:1 -> 10.0.0.5:53")


@pytest.mark.parametrize("bad", [perm("Accept", 0), perm("Accept", "x"), perm("Accept", 1, port="22"),
                                 perm("Accept", 1, src="1.2.3.4/40"), {**perm("Accept", 1), "Direction": "up"}])
def test_bad_alibaba_permissions(bad):
    with pytest.raises(HostwardenError) as e:
        ali(bad)
    assert e.value.code.code == "FW-3001"


def test_aws_groups_are_a_union():
    doc = {"SecurityGroups": [
        {"GroupId": "sg-web", "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
             "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
         "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
        {"GroupId": "sg-admin", "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
             "UserIdGroupPairs": [{"GroupId": "sg-bastion"}]}]},
    ]}
    rs = parse_aws(doc)
    assert allowed(rs, "tcp 203.0.113.1:1 -> 10.0.0.5:443")
    assert allowed(rs, "tcp [2001:db8::1]:1 -> [2001:db8::5]:443")
    assert allowed(rs, "tcp 10.9.9.9:1 -> 10.0.0.5:22")
    assert not allowed(rs, "tcp 203.0.113.1:1 -> 10.0.0.5:22")
    # membership of a referenced group is an opaque condition
    from hostwarden.scan.firewall.simulate import packet_for

    assert simulate(rs, packet_for(rs, parse_flow("tcp 203.0.113.1:1 -> 10.0.0.5:22 set sg-bastion"))).allowed
    assert any("sg-bastion" in k for k in rs.opaque_keys)
    # the order of groups does not matter
    doc["SecurityGroups"].reverse()
    rs2 = parse_aws(doc)
    for flow in ("tcp 203.0.113.1:1 -> 10.0.0.5:443", "tcp 203.0.113.1:1 -> 10.0.0.5:22", "udp 10.0.0.1:1 -> 10.0.0.5:53"):
        assert allowed(rs, flow) == allowed(rs2, flow)
