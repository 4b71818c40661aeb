"""Decision regions: which packets each rule decides, and what a hook accepts as a whole.

Built on the flattened decision list (flatten.py) and the product algebra (intervals.py).
"""

from __future__ import annotations

import math

import numpy as np

from hostwarden.scan.firewall import intervals as iv
from hostwarden.scan.firewall.flatten import FlatRule, flatten_chain, restrict
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
        # A single product with one interval per dimension is exactly its bounding box.
        self.exact = [len(parts) == 1 and all(len(x) == 1 for x in parts[0]) for parts in sets]
        self.exact_np = np.array(self.exact, dtype=bool)
        # One contiguous array per dimension: 1-D indexing is much cheaper than 2-D fancy indexing.
        self.lo_t = [np.ascontiguousarray(self.lo[:, d]) for d in range(ndims)]
        self.hi_t = [np.ascontiguousarray(self.hi[:, d]) for d in range(ndims)]
        self.order = [d for d in FILTER_ORDER if d < ndims] + [d for d in range(ndims) if d not in FILTER_ORDER]

    def _narrow(self, idx: np.ndarray, i: int, contain: bool) -> np.ndarray:
        for d in self.order[1:]:
            if not len(idx):
                break
            lo, hi = self.lo_t[d][idx], self.hi_t[d][idx]
            if contain:
                idx = idx[(lo <= self.lo_t[d][i]) & (hi >= self.hi_t[d][i])]
            else:
                idx = idx[(lo <= self.hi_t[d][i]) & (hi >= self.lo_t[d][i])]
        return idx

    def covering(self, i: int, stop: int) -> np.ndarray:
        """Indices k < stop whose single exact box contains all of entry i."""
        d = self.order[0]
        mask = (self.lo_t[d][:stop] <= self.lo_t[d][i]) & (self.hi_t[d][:stop] >= self.hi_t[d][i])
        return self._narrow(np.flatnonzero(mask & self.exact_np[:stop]), i, True)

    def overlapping(self, i: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        stop = len(self.lo) if stop is None else stop
        d = self.order[0]
        mask = (self.lo_t[d][start:stop] <= self.hi_t[d][i]) & (self.hi_t[d][start:stop] >= self.lo_t[d][i])
        return self._narrow(np.flatnonzero(mask) + start, i, False)


def box_of(parts: list[Product], ndims: int) -> tuple[list[float], list[float], bool]:
    lo = [_floor(min(p[d][0][0] for p in parts)) for d in range(ndims)]
    hi = [_ceil(max(p[d][-1][1] for p in parts)) for d in range(ndims)]
    return lo, hi, len(parts) == 1 and all(len(x) == 1 for x in parts[0])


def effective_sets(entries: list[FlatRule], index: BoxIndex | None = None,
                   wanted: set[int] | None = None) -> list[list[Product]]:
    """For each entry, the packets it decides: its match minus every earlier entry's match.

    Entries not in `wanted` (when given) get an empty list without being computed.
    """
    if not entries:
        return []
    index = index or BoxIndex([e.parts for e in entries], len(entries[0].parts[0]))
    out: list[list[Product]] = []
    for j, entry in enumerate(entries):
        if wanted is not None and j not in wanted:
            out.append([])
            continue
        earlier = (entries[int(i)].parts for i in index.overlapping(j, 0, j))
        out.append(iv.u_subtract_many(list(entry.parts), (p for parts in earlier for p in parts)))
    return out


def accepted(rs: Ruleset, hook: str = "input", within: Product | None = None) -> list[Product]:
    """Every packet the hook accepts (inside `within`, if given), as disjoint products.

    Restricting to `within` first (a question such as "new TCP from the internet") keeps the
    part that reaches an accepting policy small.
    """
    region: list[Product] = [within or rs.universe]
    for chain in rs.hooks.get(hook, []):
        entries = flatten_chain(rs, chain)
        if within is not None:
            entries = restrict(entries, within)
        wanted = {j for j, e in enumerate(entries) if e.action == ACCEPT}
        eff = effective_sets(entries, wanted=wanted)
        acc = [p for j in sorted(wanted) for p in eff[j]]
        region = [z for a in region for b in acc if (z := iv.p_intersect(a, b)) is not None]
    return region
