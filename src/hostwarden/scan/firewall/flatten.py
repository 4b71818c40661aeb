"""Flatten a hook's chains into one ordered first-match list of decisions.

A rule inside a user chain is reached by packets matching the jump rule (the context) and not
caught by an earlier RETURN of that chain; so its flattened match is `context ∩ rule − returns`,
a union of products. A RETURN in a base chain hands the packet to the policy, and a goto'd
chain that runs out returns past its caller, which become deny/accept entries and caller-side
returns respectively. The resulting list decides every packet exactly as the chain walk does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from hostwarden.core.errors import FW_PARSE_FAILED, HostwardenError
from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.intervals import Product
from hostwarden.scan.firewall.model import Rule, Ruleset

MAX_DEPTH = 64


@dataclass
class FlatRule:
    parts: list[Product]  # where this entry's rule matches, given how packets reach it
    action: str  # accept / deny
    rule: Rule | None  # None for the chain policy
    via: list[Rule] = field(default_factory=list)  # jump/goto rules leading here
    chain: str = ""
    is_policy: bool = False

    @property
    def ref(self) -> str:
        if self.rule is None:
            return f"{self.chain}:policy"
        return " > ".join([*(r.ref for r in self.via), self.rule.ref])

    def describe(self) -> dict[str, Any]:
        if self.rule is None:
            return {"rule": self.ref, "text": f"policy {self.action}", "action": self.action}
        d = self.rule.describe()
        d.update(rule=self.ref, action=self.action)
        if self.via:
            d["via"] = [r.describe() for r in self.via]
        return d


def flatten_chain(rs: Ruleset, chain: str) -> list[FlatRule]:
    """Decision list for base chain `chain`, ending with its policy over everything (cached: do not mutate)."""
    key = f"flat:{chain}"
    if key in rs.cache:
        return rs.cache[key]
    out: list[FlatRule] = []
    policy = rs.chains[chain].policy or "accept"
    _flatten(rs, chain, [rs.universe], [], out, 0, policy)
    out.append(FlatRule([rs.universe], policy, None, chain=chain, is_policy=True))
    rs.cache[key] = out
    return out


def restrict(entries: list[FlatRule], within: Product) -> list[FlatRule]:
    """The entries as seen by packets inside `within` (copies; entries that cannot match are left out)."""
    out = []
    for e in entries:
        parts = iv.u_intersect(e.parts, within)
        if parts:
            out.append(replace(e, parts=parts))
    return out


def _flatten(rs: Ruleset, chain: str, context: list[Product], via: list[Rule], out: list[FlatRule],
             depth: int, policy: str) -> None:
    """Append the decisions of `chain` for packets in `context` (those that reach it)."""
    if depth > MAX_DEPTH:
        raise HostwardenError(FW_PARSE_FAILED, f"chain {chain!r}: jumps nest deeper than {MAX_DEPTH} (a loop?)")
    live = context  # packets that can still reach the next rule of this chain invocation
    for rule in rs.chains[chain].rules:
        if not live:
            break
        if rule.kind == "continue":
            continue
        hit = iv.u_intersect(live, rule.product)
        if not hit:
            continue
        if rule.kind in ("accept", "deny"):
            out.append(FlatRule(hit, rule.kind, rule, list(via), chain))
        elif rule.kind == "return":
            if depth == 0:  # RETURN from a base chain applies the policy
                out.append(FlatRule(hit, policy, rule, list(via), chain))
            live = iv.u_subtract(live, rule.product)
        else:
            _flatten(rs, rule.target, hit, [*via, rule], out, depth + 1, policy)
            if rule.kind == "goto":  # what returns from a goto'd chain skips the rest of this one
                live = iv.u_subtract(live, rule.product)
