"""The flattened decision list (used by every analysis) decides each packet like the chain walk."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.flatten import flatten_chain
from hostwarden.scan.firewall.iptables import parse_iptables_save
from hostwarden.scan.firewall.model import Packet, addr_int
from hostwarden.scan.firewall.regions import accepted, effective_sets
from hostwarden.scan.firewall.simulate import simulate

ADDRS = [f"10.0.0.{i}" for i in range(8)]


def random_rules(rng: random.Random) -> str:
    users = [f"U{k}" for k in range(rng.randrange(1, 4))]
    lines = ["*filter", f":INPUT {rng.choice(['ACCEPT', 'DROP'])} [0:0]", *(f":{u} - [0:0]" for u in users)]

    def rule(chain: str, k: int | None) -> str:
        m = []
        if rng.random() < 0.6:
            m.append(f"-p {rng.choice(['tcp', 'udp'])} {'!' if rng.random() < 0.2 else ''} --dport {rng.randrange(1, 5)}:{rng.randrange(4, 9)}")
        if rng.random() < 0.5:
            m.append(f"{'! ' if rng.random() < 0.2 else ''}-s 10.0.0.{rng.choice([0, 2, 4, 6])}/{rng.choice([30, 31, 32, 29])}")
        if rng.random() < 0.2:
            m.append(f"-i {rng.choice(['eth0', 'eth+', 'lo'])}")
        if rng.random() < 0.2:
            m.append(f"-m conntrack --ctstate {rng.choice(['NEW', 'ESTABLISHED'])}")
        later = users[(k + 1 if k is not None else 0):]
        r = rng.random()
        if later and r < 0.3:
            t = f"{rng.choice(['-j', '-j', '-g'])} {rng.choice(later)}"
        elif r < 0.45:
            t = "-j RETURN"
        elif r < 0.5:
            t = "-j LOG"
        else:
            t = f"-j {rng.choice(['ACCEPT', 'DROP', 'REJECT'])}"
        return f"-A {chain} {' '.join(m)} {t}"

    lines += [rule("INPUT", None) for _ in range(rng.randrange(2, 8))]
    for k, u in enumerate(users):
        lines += [rule(u, k) for _ in range(rng.randrange(1, 5))]
    return "\n".join([*lines, "COMMIT"]) + "\n"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32))
def test_flat_first_match_equals_chain_walk(seed):
    rng = random.Random(seed)
    rs = parse_iptables_save(random_rules(rng))
    entries = flatten_chain(rs, "INPUT")
    eff = effective_sets(entries)
    region = accepted(rs, "input")
    for _ in range(40):
        pkt = Packet(rng.choice([6, 17]), addr_int(rng.choice(ADDRS)), addr_int("10.0.1.1"), 1000,
                     rng.randrange(0, 10), state=rng.choice([0, 1]), iif=rng.choice(["eth0", "eth1", "lo", "ppp0"]))
        point = pkt.point(rs)
        walk = simulate(rs, pkt).action
        first = next(e for e in entries if any(iv.p_contains(p, point) for p in e.parts))
        assert first.action == walk
        # effective sets partition the packet space: exactly one entry decides each packet
        deciders = [e for e, parts in zip(entries, eff, strict=True) if any(iv.p_contains(p, point) for p in parts)]
        assert deciders == [first]
        assert any(iv.p_contains(p, point) for p in region) == (walk == "accept")
