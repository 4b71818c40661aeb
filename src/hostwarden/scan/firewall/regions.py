"""Decision regions: which packets each rule decides, and what a hook accepts as a whole.

Built on the flattened decision list (flatten.py) and the product algebra (intervals.py).
"""

from __future__ import annotations

import math

import numpy as np

from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.flatten import FlatRule, flatten_chain
from hostwarden.scan.firewall.intervals import Product
from hostwarden.scan.firewall.model import ACCEPT, Ruleset

# Narrow candidates by the usually most selective dimensions first (src, dport, dst, proto …).
FILTER_ORDER = (1, 4, 2, 0, 3, 7, 6, 5, 8)


def _floor(v: int) -> float:
    f = float(v)
    return f if f <= v else math.nextafter(f, -math.inf)


def _ceil(v: int) -> float:
    f = float(v)
    return f if f >= v else math.nextafter(f, math.inf)


class BoxIndex:
    """Bounding boxes of many unions of products, for 'which of these can overlap this one'."""

    def __init__(self, sets: list[list[Product]], ndims: int) -> None:
        n = len(sets)
        self.lo = np.empty((n, ndims))
        self.hi = np.empty((n, ndims))
        for i, parts in enumerate(sets):
            for d in range(ndims):
                self.lo[i, d] = _floor(min(p[d][0][0] for p in parts))
                self.hi[i, d] = _ceil(max(p[d][-1][1] for p in parts))
        self.order = [d for d in FILTER_ORDER if d < ndims] + [d for d in range(ndims) if d not in FILTER_ORDER]

    def overlapping(self, i: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        stop = len(self.lo) if stop is None else stop
        idx = np.arange(start, stop)
        for d in self.order:
            if not len(idx):
                break
            lo, hi = self.lo[idx, d], self.hi[idx, d]
            idx = idx[(lo <= self.hi[i, d]) & (hi >= self.lo[i, d])]
        return idx



def effective_sets(entries: list[FlatRule], index: BoxIndex | None = None) -> list[list[Product]]:
    """For each entry, the packets it decides: its match minus every earlier entry's match."""
    if not entries:
        return []
    index = index or BoxIndex([e.parts for e in entries], len(entries[0].parts[0]))
    out = []
    for j, entry in enumerate(entries):
        earlier = (entries[int(i)].parts for i in index.overlapping(j, 0, j))
        out.append(iv.u_subtract_many(list(entry.parts), (p for parts in earlier for p in parts)))
    return out


def accepted(rs: Ruleset, hook: str = "input") -> list[Product]:
    """Every packet the hook accepts, as disjoint products (each base chain must accept)."""
    region: list[Product] = [rs.universe]
    for chain in rs.hooks.get(hook, []):
        entries = flatten_chain(rs, chain)
        eff = effective_sets(entries)
        acc = [p for e, parts in zip(entries, eff, strict=True) if e.action == ACCEPT for p in parts]
        region = [z for a in region for b in acc if (z := iv.p_intersect(a, b)) is not None]
    return region
