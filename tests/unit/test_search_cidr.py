"""The pure-SQL CIDR matcher agrees with Python's ipaddress on every spelling of an address.

Run in real DuckDB (an in-memory database: the expression is what is under test, not storage).
"""

from __future__ import annotations

import ipaddress

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostwarden.core.ipsql import in_network_sql, parse_network

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def expected(text: str, net: Network) -> bool:
    """Documented semantics: zone ids ignored, ::ffff:a.b.c.d is IPv4, other dotted IPv6 never matches."""
    base = text.split("%")[0] if ":" in text else text  # zone ids exist only on IPv6
    if base.lower().startswith("::ffff:") and "." in base:
        base = base[7:]
    elif ":" in base and "." in base:
        return False
    try:
        addr = ipaddress.ip_address(base)
    except ValueError:
        return False
    return addr.version == net.version and addr in net


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("CREATE TABLE a (ip VARCHAR, xs VARCHAR[])").fetchall()
    yield c
    c.close()


def matching(con: duckdb.DuckDBPyConnection, texts: list[str], net: Network) -> set[str]:
    con.execute("DELETE FROM a").fetchall()
    con.executemany("INSERT INTO a VALUES (?, [?])", [[t, t] for t in texts])
    sql, params = in_network_sql("ip", net)
    scalar = {r[0] for r in con.execute(f"SELECT ip FROM a WHERE {sql}", params).fetchall()}
    elem_sql, elem_params = in_network_sql("x", net)
    listed = {r[0] for r in con.execute(
        f"SELECT ip FROM a WHERE len(list_filter(xs, lambda x: {elem_sql})) > 0", elem_params
    ).fetchall()}
    assert scalar == listed  # the same expression works on list elements
    return scalar


def spellings(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    if addr.version == 4:
        return [str(addr), f"::ffff:{addr}", f"::FFFF:{addr}"]
    return [str(addr), addr.exploded, str(addr).upper(), f"{addr}%eth0", addr.exploded.replace(":0000", ":0")]


addresses = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))


@st.composite
def near_networks(draw: st.DrawFn) -> tuple[list[str], Network]:
    """A network and addresses around it: inside, at both edges, just outside, anywhere."""
    version = draw(st.sampled_from([4, 6]))
    base = draw(st.ip_addresses(v=version))
    prefix = draw(st.integers(0, 32 if version == 4 else 128))
    net = ipaddress.ip_network(f"{base}/{prefix}", strict=False)
    top = 2**32 - 1 if version == 4 else 2**128 - 1
    lo, hi = int(net.network_address), int(net.broadcast_address)
    ints = {lo, hi, max(lo - 1, 0), min(hi + 1, top), draw(st.integers(lo, hi))}
    addrs = [ipaddress.ip_address(i) if version == 6 else ipaddress.IPv4Address(i) for i in ints]
    addrs += draw(st.lists(addresses, max_size=5))
    texts = [t for a in addrs for t in spellings(a)]
    return texts, net


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(near_networks())
def test_sql_cidr_agrees_with_ipaddress(con: duckdb.DuckDBPyConnection, case: tuple[list[str], Network]) -> None:
    texts, net = case
    assert matching(con, texts, net) == {t for t in texts if expected(t, net)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet="0123456789abcdefABCDEF:.%/x -", max_size=45), min_size=1, max_size=8),
       st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "::/0", "2001:db8::/32", "::ffff:0:0/96"]))
def test_garbage_never_errors_and_only_real_addresses_match(
    con: duckdb.DuckDBPyConnection, texts: list[str], cidr: str
) -> None:
    net = ipaddress.ip_network(cidr)
    assert matching(con, texts, net) == {t for t in texts if expected(t, net)}


@pytest.mark.parametrize(
    ("text", "cidr", "inside"),
    [
        ("203.0.113.9", "203.0.113.0/24", True),
        ("203.0.114.0", "203.0.113.0/24", False),
        ("203.0.113.255", "203.0.113.128/25", True),
        ("0.0.0.0", "0.0.0.0/0", True),
        ("255.255.255.255", "0.0.0.0/0", True),
        ("203.0.113.300", "203.0.113.0/24", False),
        ("203.0.113.09", "203.0.113.0/24", False),
        ("::ffff:203.0.113.77", "203.0.113.0/24", True),
        ("2001:db8::1", "2001:db8::/32", True),
        ("2001:DB8:0000::0001", "2001:db8::/32", True),
        ("2001:db9::1", "2001:db8::/32", False),
        ("2001:db8:8000::", "2001:db8::/33", False),
        ("::", "::/128", True),
        ("::1", "::1/128", True),
        ("fe80::1%eth0", "fe80::/10", True),
        ("10.0.0.1%eth0", "10.0.0.0/8", False),
        ("1::2::3", "::/0", False),
        ("12345::", "::/0", False),
        ("1:2:3:4:5:6:7:8:9", "::/0", False),
        ("203.0.113.9", "::/0", False),
        ("2001:db8::1", "0.0.0.0/0", False),
    ],
)
def test_known_cases(con: duckdb.DuckDBPyConnection, text: str, cidr: str, inside: bool) -> None:
    net = parse_network(cidr)
    assert net is not None
    assert (text in matching(con, [text], net)) is inside
