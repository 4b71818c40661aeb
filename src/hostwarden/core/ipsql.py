"""CIDR matching as plain DuckDB SQL (no extension, no Python UDF).

DuckDB's `inet` extension cannot be installed offline, and a Python UDF would have to be
registered on every connection that runs a query (CLI, server, archive readers). So addresses,
stored as text, are turned into comparable values by an SQL expression, and the network's bounds
are parameters:

* IPv4 (`a.b.c.d`, also IPv4-mapped `::ffff:a.b.c.d`): validated by a regular expression, folded
  to an integer with `list_reduce`, compared with `BETWEEN ? AND ?`.
* IPv6: lower-cased, zone (`%eth0`) dropped, `::` expanded to the missing zero groups, every
  group left-padded to 4 hex digits: a 32-digit string whose lexical order is numeric order,
  compared with `BETWEEN ? AND ?`. Text that is not an address (or IPv6 with an embedded
  dotted quad, other than the mapped form above) never matches.

Every expression here takes the SQL text of one string value (a column or a lambda variable)
and contains no user input; the bounds come back as parameters.
"""

from __future__ import annotations

import ipaddress

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V4_RE = rf"({_OCTET}\.){{3}}{_OCTET}"
_V6_FULL_RE = r"([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}"


def _v4_int(x: str) -> str:
    s = f"regexp_replace({x}, '^::ffff:', '', 'i')"
    fold = (
        f"list_reduce(list_transform(string_split({s}, '.'), lambda o: try_cast(o AS BIGINT)), "
        f"lambda acc, o: acc * 256 + o)"
    )
    return f"(CASE WHEN regexp_full_match({s}, '{_V4_RE}') THEN {fold} END)"


def _v6_hex(x: str) -> str:
    t = f"split_part(lower({x}), '%', 1)"
    groups = f"len(list_filter(string_split({t}, ':'), lambda g: g <> ''))"
    full = f"trim(replace({t}, '::', ':' || repeat('0:', 8 - {groups})), ':')"
    padded = f"array_to_string(list_transform(string_split({full}, ':'), lambda g: lpad(g, 4, '0')), '')"
    return f"(CASE WHEN regexp_full_match({full}, '{_V6_FULL_RE}') THEN {padded} END)"


def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A CIDR (`203.0.113.0/24`, `2001:db8::/32`; host bits allowed) or None."""
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _prefilter(x: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[str, list[object]]:
    """A cheap necessary condition (text prefix), so the full parse runs on few rows only."""
    if net.version == 4:
        fixed = min(net.prefixlen // 8, 3)  # whole octets, each followed by a dot (a /32 has no 4th dot)
        if fixed == 0:
            return f"contains({x}, '.')", []
        prefix = ".".join(str(net.network_address).split(".")[:fixed]) + "."
        return f"(starts_with({x}, ?) OR starts_with(lower({x}), ?))", [prefix, "::ffff:" + prefix]
    first = int(net.network_address) >> 112
    if net.prefixlen < 16 or first == 0:
        return f"contains({x}, ':')", []
    digits = f"{first:x}"
    forms = [digits.rjust(width, "0") + ":" for width in range(len(digits), 5)]
    return "(" + " OR ".join(f"starts_with(lower({x}), ?)" for _ in forms) + ")", list(forms)


def in_network_sql(x: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[str, list[object]]:
    """A never-NULL boolean SQL expression: is the address text `x` inside `net`?

    CASE evaluates its THEN branch only for rows that pass the prefilter, which is what keeps a
    CIDR search over a million rows in tens of milliseconds.
    """
    pre, params = _prefilter(x, net)
    lo, hi = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        full, bounds = f"{_v4_int(x)} BETWEEN ? AND ?", [lo, hi]
    else:
        full, bounds = f"{_v6_hex(x)} BETWEEN ? AND ?", [f"{lo:032x}", f"{hi:032x}"]
    return f"(CASE WHEN {pre} THEN COALESCE({full}, FALSE) ELSE FALSE END)", [*params, *bounds]


def address_forms(text: str) -> list[str]:
    """The spellings an exact address match accepts: as typed, and canonical if that differs."""
    forms = [text]
    try:
        canonical = str(ipaddress.ip_address(text))
    except ValueError:
        return forms
    if canonical != text:
        forms.append(canonical)
    return forms
