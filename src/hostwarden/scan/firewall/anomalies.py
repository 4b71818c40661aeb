"""Rule anomalies after Al-Shaer & Hamed: shadowing, redundancy, correlation, generalization.

Works on the flattened decision list of each base chain with set algebra, never per packet:

* the *effective* set of entry j is its match minus the matches of all earlier entries; an
  empty effective set means j never decides anything — shadowing when some of its packets
  get the other verdict (including shadowing by the union of several earlier rules, which
  pairwise checks miss), redundancy when they all get its own verdict;
* an earlier rule x is redundant when, with x removed, every packet x decides would meet the
  same verdict further down (a later rule or the policy);
* overlapping rules with different verdicts are a generalization when the later one contains
  the earlier, a correlation when neither contains the other.

Candidate pairs come from a bounding-box overlap filter over numpy arrays, narrowed one
dimension at a time, so the cost follows the number of overlapping pairs, not n².
Every finding carries an example packet; tests replay it through the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hostwarden.core.errors import FW_ANALYSIS_LIMIT
from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.flatten import FlatRule, flatten_chain
from hostwarden.scan.firewall.intervals import Product
from hostwarden.scan.firewall.model import Packet, Ruleset
from hostwarden.scan.firewall.regions import BoxIndex, box_of


@dataclass
class Analysis:
    chain: str
    entries: list[FlatRule]
    effective: list[list[Product]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)


def _u_overlaps(a: list[Product], b: list[Product]) -> bool:
    return any(iv.p_overlaps(x, y) for x in a for y in b)


def _u_subset(a: list[Product], b: list[Product]) -> bool:
    if len(b) == 1:
        return all(iv.p_issubset(x, b[0]) for x in a)
    try:
        return not iv.u_subtract_many(list(a), b, limit=5000)
    except OverflowError:
        return False


def _example(rs: Ruleset, parts: list[Product]) -> dict[str, Any]:
    pkt = Packet.from_point(rs, nice_sample(rs, parts[0]))
    return {"packet": pkt.to_dict(), "flow": pkt.describe()}


def _pick(s: iv.IntervalSet, preferred: tuple[int, ...], inner: bool = False) -> int:
    for v in preferred:
        if iv.contains(s, v):
            return v
    lo, hi = s[0]
    return lo + 1 if inner and hi - lo >= 2 else lo


def nice_sample(rs: Ruleset, p: Product) -> tuple[int, ...]:
    """A readable point of p: TCP before other protocols, a host address rather than a network one."""
    proto, src, dst, sport, dport, icmp, state, iif, oif, *rest = p
    any_if = len(rs.iface_names) - 1  # stands for "an interface no rule names"
    return (_pick(proto, (6, 17, 1, 58)), _pick(src, (), True), _pick(dst, (), True),
            _pick(sport, (40000,)), _pick(dport, ()), _pick(icmp, (8 * 256, 128 * 256)),
            _pick(state, ()), _pick(iif, (any_if,)), _pick(oif, (any_if,)), *(x[0][0] for x in rest))


def analyze_chain(rs: Ruleset, chain: str, entries: list[FlatRule] | None = None) -> Analysis:
    entries = entries if entries is not None else flatten_chain(rs, chain)
    res = Analysis(chain, entries)
    ndims = len(rs.dims)
    index = BoxIndex([e.parts for e in entries], ndims)
    neighbours: list[np.ndarray] = []
    # Bounding boxes of the effective sets computed so far, to find who decides a dead rule.
    n = len(entries)
    eff_lo, eff_hi = np.zeros((n, ndims)), np.zeros((n, ndims))
    eff_exact, eff_live = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for j, entry in enumerate(entries):
        cand = index.overlapping(j)
        neighbours.append(cand)
        exact = index.exact[j]
        earlier = [i for i in cand.tolist() if i < j and (exact and index.exact[i]
                                                         or _u_overlaps(entries[i].parts, entry.parts))]
        if entry.is_policy:  # what reaches the policy is not needed for anomalies, and costly
            res.effective.append(list(entry.parts))
            continue
        covering = index.covering(j, j)
        if len(covering):  # wholly inside one earlier rule: dead without walking the others
            eff: list[Product] | None = []
        else:
            # A dead earlier entry is covered by those before it: subtracting it changes nothing.
            live = [i for i in earlier if eff_live[i]]
            eff = _first_match(entry.parts, live, entries, index, j)
        if eff is None:
            res.notices.append({"code": FW_ANALYSIS_LIMIT.code, "rule": entry.ref,
                                "message": f"{entry.ref}: match set too fragmented to analyse"})
            eff = list(entry.parts)
        res.effective.append(eff)
        if eff:
            lo, hi, ex = box_of(eff, ndims)
            eff_lo[j], eff_hi[j], eff_exact[j], eff_live[j] = lo, hi, ex, True
        else:
            deciders = _deciders(res, j, earlier, index, eff_lo, eff_hi, eff_exact, eff_live)
            res.findings.append(_dead_rule(rs, res, j, earlier, deciders, covering.tolist(), index))
    for j, entry in enumerate(entries):
        if entry.is_policy or not res.effective[j]:
            continue
        # Dead entries cannot justify removing another rule: they are removed first.
        later = [int(i) for i in neighbours[j] if i > j and res.effective[int(i)]]
        red = _redundant(rs, res, j, later)
        if red:
            res.findings.append(red)
        pairs = [i for i in neighbours[j].tolist()
                 if i < j and entries[i].action != entry.action and res.effective[i]]
        if not pairs:
            continue
        # For exact boxes, overlap and containment are plain comparisons: do them for all pairs at once.
        arr = np.array(pairs, dtype=np.int64)
        both = index.exact_np[arr] & index.exact[j]
        i_in_j = ((index.lo[j] <= index.lo[arr]) & (index.hi[j] >= index.hi[arr])).all(axis=1)
        j_in_i = ((index.lo[arr] <= index.lo[j]) & (index.hi[arr] >= index.hi[j])).all(axis=1)
        for k, i in enumerate(pairs):
            known = (bool(i_in_j[k]), bool(j_in_i[k])) if both[k] else None
            pair = _pair(rs, res, i, j, known)
            if pair:
                res.findings.append(pair)
    return res


def _first_match(parts: list[Product], earlier: list[int], entries: list[FlatRule], index: BoxIndex, j: int,
                 limit: int = 50_000) -> list[Product] | None:
    """What is left of `parts` after every earlier entry: the effective set (None past `limit` pieces).

    Set difference does not depend on order, so earlier rules that contain entry j in every
    dimension but one (a block list against a port rule) are subtracted together: one union
    of their intervals in that dimension instead of one product difference each.
    """
    rem = list(parts)
    idx = np.array(earlier, dtype=np.int64)
    rest = earlier
    if len(idx):
        ex = idx[index.exact_np[idx]]
        inside = (index.lo[ex] <= index.lo[j]) & (index.hi[ex] >= index.hi[j])
        missing = (~inside).sum(axis=1)
        single = ex[missing == 1]
        dim_of = np.argmin(inside[missing == 1], axis=1)
        for d in np.unique(dim_of).tolist():
            union = iv.normalize(entries[k].parts[0][d][0] for k in single[dim_of == d].tolist())
            rem = [(*p[:d], z, *p[d + 1:]) for p in rem if (z := iv.subtract(p[d], union))]
        grouped = set(single.tolist())
        rest = [i for i in earlier if i not in grouped]
    for i in rest:
        if not rem:
            break
        for b in entries[i].parts:
            rem = iv.u_subtract(rem, b)
        if len(rem) > limit:
            return None
    return rem


MAX_INVOLVED = 25


def _deciders(res: Analysis, j: int, earlier: list[int], index: BoxIndex, eff_lo: np.ndarray,
              eff_hi: np.ndarray, eff_exact: np.ndarray, eff_live: np.ndarray) -> list[int]:
    """Rules that decide dead entry j's packets: up to MAX_INVOLVED with its own verdict, and one
    with the other verdict whenever some packet of j gets it (shadowing rather than redundancy).

    Effective sets are disjoint, so j's packets not in the effective sets of same-verdict rules
    are exactly those decided otherwise; a point left over names the rule that decides it.
    """
    idx = np.array(earlier, dtype=np.int64)
    idx = idx[eff_live[idx]] if len(idx) else idx
    for d in index.order:
        if not len(idx):
            break
        idx = idx[(eff_lo[idx, d] <= index.hi[j, d]) & (eff_hi[idx, d] >= index.lo[j, d])]
    entry = res.entries[j]
    cand = idx.tolist()
    rem = list(entry.parts)
    takers: list[int] = []
    for i in cand:
        if not rem:
            break
        if res.entries[i].action != entry.action:
            continue
        if any(iv.p_overlaps(r, q) for r in rem for q in res.effective[i]):
            takers.append(i)
            rem = iv.u_subtract_many(rem, res.effective[i])
    others: list[int] = []
    while rem and len(others) < MAX_INVOLVED:  # name the other-verdict rules, one leftover point at a time
        point = iv.sample(rem[0])
        other = next((i for i in cand if res.entries[i].action != entry.action and i not in others
                      and any(iv.p_contains(q, point) for q in res.effective[i])), None)
        if other is None:
            break
        others.append(other)
        rem = iv.u_subtract_many(rem, res.effective[other])
    return sorted(others + takers[:max(1, MAX_INVOLVED - len(others))])


def _dead_rule(rs: Ruleset, res: Analysis, j: int, earlier: list[int], deciders: list[int],
               covering: list[int], index: BoxIndex) -> dict[str, Any]:
    entry = res.entries[j]
    other = [i for i in deciders if res.entries[i].action != entry.action]
    single = covering + [i for i in earlier if not index.exact[i] and _u_subset(entry.parts, res.entries[i].parts)]
    kind = "shadowing" if other else "redundancy"
    proof_i = other[0] if other else deciders[0]
    proof = iv.u_intersect_many(entry.parts, res.effective[proof_i]) or entry.parts
    by_union = not [i for i in single if (res.entries[i].action != entry.action) == bool(other)]
    involved = other or deciders
    why = (f"{entry.ref} never applies: every packet it matches is decided earlier by "
           f"{'the union of ' if by_union and len(involved) > 1 else ''}"
           f"{', '.join(res.entries[i].ref for i in involved)}")
    if kind == "shadowing":
        why += f", and some of them get {res.entries[proof_i].action} instead of {entry.action}"
    return {"type": kind, "chain": res.chain, "rule": entry.describe(),
            "rules": [res.entries[i].describe() for i in involved], "union": by_union and len(involved) > 1,
            "decided_by": res.entries[proof_i].describe(), "message": why, **_example(rs, proof)}


def _redundant(rs: Ruleset, res: Analysis, x: int, later: list[int]) -> dict[str, Any] | None:
    """x is redundant if, without it, all packets it decides meet its verdict further down."""
    entry = res.entries[x]
    rem = res.effective[x]
    involved = []
    for y in later:
        other = res.entries[y]
        hit = iv.u_intersect_many(rem, other.parts)
        if not hit:
            continue
        if other.action != entry.action:
            return None
        involved.append(y)
        try:
            rem = iv.u_subtract_many(rem, other.parts, limit=5000)
        except OverflowError:
            return None
        if not rem:
            break
    if rem or not involved:
        return None
    names = ", ".join(res.entries[y].ref for y in involved)
    return {"type": "redundancy", "chain": res.chain, "rule": entry.describe(),
            "rules": [res.entries[y].describe() for y in involved], "union": len(involved) > 1,
            "message": f"{entry.ref} is redundant: removing it changes nothing, {names} "
                       f"already {entry.action} every packet it decides",
            **_example(rs, res.effective[x])}


def _pair(rs: Ruleset, res: Analysis, i: int, j: int,
          known: tuple[bool, bool] | None = None) -> dict[str, Any] | None:
    """i before j, different verdicts, both live: generalization or correlation.

    `known` is (i ⊆ j, j ⊆ i) when the caller already compared exact boxes (which also overlap).
    """
    a, b = res.entries[i], res.entries[j]
    if known is None:
        if not any(iv.p_overlaps(x, y) for x in a.parts for y in b.parts):
            return None
        known = (_u_subset(a.parts, b.parts), False)
        if not known[0]:
            known = (False, _u_subset(b.parts, a.parts))
    if known[0]:
        kind = "generalization"
        msg = (f"{b.ref} ({b.action}) generalizes {a.ref} ({a.action}): {a.ref} is an exception carved out "
               f"of {b.ref}; reordering them would change the verdict")
    elif known[1]:
        return None  # j partly decided by i only: covered by shadowing when it is whole
    else:
        kind = "correlation"
        msg = (f"{a.ref} ({a.action}) and {b.ref} ({b.action}) overlap without either containing the other; "
               f"their order decides the shared packets")
    proof = iv.u_intersect_many(res.effective[i], b.parts) or iv.u_intersect_many(a.parts, b.parts)
    return {"type": kind, "chain": res.chain, "rule": b.describe(), "rules": [a.describe()],
            "union": False, "message": msg, **_example(rs, proof)}


def analyze(rs: Ruleset, hooks: tuple[str, ...] | None = None) -> list[Analysis]:
    out = []
    for hook, chains in rs.hooks.items():
        if hooks and hook not in hooks:
            continue
        out.extend(analyze_chain(rs, chain) for chain in chains)
    return out
