"""Interval sets and products of them: the algebra every firewall question is answered with.

A rule's match is a *product*: one interval set per packet dimension (protocol, addresses,
ports, state, interfaces, opaque conditions). Products intersect and test containment per
dimension, and the difference of two products is at most one product per dimension, so
effective match sets (a rule minus everything before it) stay small unions of products.
Working on these sets instead of on packets is what lets the analysis scale to 10k rules.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence

Interval = tuple[int, int]  # inclusive bounds
IntervalSet = tuple[Interval, ...]  # sorted, disjoint, non-adjacent
Product = tuple[IntervalSet, ...]  # one IntervalSet per dimension

EMPTY: IntervalSet = ()


def span(lo: int, hi: int) -> IntervalSet:
    return ((lo, hi),) if lo <= hi else EMPTY


def normalize(intervals: Iterable[Interval]) -> IntervalSet:
    """Sort and merge overlapping or adjacent intervals."""
    out: list[list[int]] = []
    for lo, hi in sorted(i for i in intervals if i[0] <= i[1]):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def union(a: IntervalSet, b: IntervalSet) -> IntervalSet:
    if not a:
        return b
    if not b:
        return a
    return normalize(a + b)


def _lo(i: Interval) -> int:
    return i[0]


def _hi(i: Interval) -> int:
    return i[1]


def _window(a: IntervalSet, lo: int, hi: int) -> tuple[int, int]:
    """Indices [i, j) of the intervals of a that meet [lo, hi] (binary search: big sets stay cheap)."""
    return bisect_left(a, lo, key=_hi), bisect_right(a, hi, key=_lo)


def intersect(a: IntervalSet, b: IntervalSet) -> IntervalSet:
    if len(b) > len(a):
        a, b = b, a
    if len(b) == 1:
        lo, hi = b[0]
        if len(a) == 1:
            lo, hi = max(a[0][0], lo), min(a[0][1], hi)
            return ((lo, hi),) if lo <= hi else EMPTY
        i, j = _window(a, lo, hi)
        if i >= j:
            return EMPTY
        mid = list(a[i:j])
        mid[0] = (max(mid[0][0], lo), mid[0][1])
        mid[-1] = (mid[-1][0], min(mid[-1][1], hi))
        return tuple(mid)
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract(a: IntervalSet, b: IntervalSet) -> IntervalSet:
    if not a or not b:
        return a
    if len(b) == 1:
        lo, hi = b[0]
        i, j = _window(a, lo, hi)
        if i >= j:
            return a
        keep: list[Interval] = []
        if a[i][0] < lo:
            keep.append((a[i][0], lo - 1))
        if a[j - 1][1] > hi:
            keep.append((hi + 1, a[j - 1][1]))
        return a[:i] + tuple(keep) + a[j:]
    out: list[Interval] = []
    j = 0
    for lo, hi in a:
        cur = lo
        while j < len(b) and b[j][1] < cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            if cur > hi:
                break
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return tuple(out)


def complement(a: IntervalSet, domain: IntervalSet) -> IntervalSet:
    return subtract(domain, a)


def issubset(a: IntervalSet, b: IntervalSet) -> bool:
    """Every point of a lies in b (b is sorted, so each interval of a needs one interval of b)."""
    if not a:
        return True
    if len(b) == 1:
        return b[0][0] <= a[0][0] and a[-1][1] <= b[0][1]
    for lo, hi in a:
        k = bisect_right(b, lo, key=_lo) - 1
        if k < 0 or b[k][1] < hi:
            return False
    return True


def contains(a: IntervalSet, value: int) -> bool:
    if len(a) == 1:
        return a[0][0] <= value <= a[0][1]
    k = bisect_right(a, value, key=_lo) - 1
    return k >= 0 and a[k][1] >= value


def overlaps(a: IntervalSet, b: IntervalSet) -> bool:
    if len(a) == 1 and len(b) == 1:
        return a[0][0] <= b[0][1] and b[0][0] <= a[0][1]
    if len(b) == 1 or len(a) == 1:
        big, (lo, hi) = (a, b[0]) if len(b) == 1 else (b, a[0])
        i, j = _window(big, lo, hi)
        return i < j
    return bool(intersect(a, b))


def size(a: IntervalSet) -> int:
    return sum(hi - lo + 1 for lo, hi in a)


# --- products ---------------------------------------------------------------------------


# Unconstrained dimensions share one domain object, so `x is y` skips most of the work.


def p_intersect(a: Product, b: Product) -> Product | None:
    out = []
    for x, y in zip(a, b, strict=True):
        if x is y:
            out.append(x)
            continue
        z = intersect(x, y)
        if not z:
            return None
        out.append(z)
    return tuple(out)


def p_overlaps(a: Product, b: Product) -> bool:
    return all(x is y or overlaps(x, y) for x, y in zip(a, b, strict=True))


def p_issubset(a: Product, b: Product) -> bool:
    return all(x is y or issubset(x, y) for x, y in zip(a, b, strict=True))


def p_contains(a: Product, point: Sequence[int]) -> bool:
    return all(contains(x, v) for x, v in zip(a, point, strict=True))


def p_subtract(a: Product, b: Product) -> list[Product]:
    """a − b as disjoint products: at most one piece per dimension where a is not inside b.

    The pieces are: points outside b in dimension k but inside b in every earlier dimension
    that was not already wholly inside b. When a lies inside b in all dimensions but one,
    the result is a single product, which is why blocklists of thousands of addresses do
    not fragment the sets they are subtracted from.
    """
    inter: list[IntervalSet] = []
    for x, y in zip(a, b, strict=True):
        z = x if x is y else intersect(x, y)
        if not z:
            return [a]
        inter.append(z)
    pieces: list[Product] = []
    prefix = list(a)
    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        if x is y or inter[k] == x:
            continue
        rest = subtract(x, y)
        pieces.append((*prefix[:k], rest, *prefix[k + 1 :]))
        prefix[k] = inter[k]
    return pieces


def p_split(a: Product, b: Product) -> tuple[Product | None, list[Product]]:
    """(a ∩ b, a − b) in one pass."""
    inter: list[IntervalSet] = []
    for x, y in zip(a, b, strict=True):
        z = x if x is y else intersect(x, y)
        if not z:
            return None, [a]
        inter.append(z)
    pieces: list[Product] = []
    prefix = list(a)
    for k, x in enumerate(a):
        if inter[k] is x or inter[k] == x:
            continue
        pieces.append((*prefix[:k], subtract(x, inter[k]), *prefix[k + 1 :]))
        prefix[k] = inter[k]
    return tuple(inter), pieces


def u_split(parts: list[Product], b: Product) -> tuple[list[Product], list[Product]]:
    inside: list[Product] = []
    outside: list[Product] = []
    for p in parts:
        ins, out = p_split(p, b)
        if ins is not None:
            inside.append(ins)
        outside.extend(out)
    return inside, outside


def u_subtract(parts: list[Product], b: Product) -> list[Product]:
    out: list[Product] = []
    for p in parts:
        out.extend(p_subtract(p, b))
    return out


def u_intersect(parts: list[Product], b: Product) -> list[Product]:
    out: list[Product] = []
    for p in parts:
        z = p_intersect(p, b)
        if z is not None:
            out.append(z)
    return out


def u_intersect_many(parts: list[Product], others: list[Product]) -> list[Product]:
    out: list[Product] = []
    for b in others:
        out.extend(u_intersect(parts, b))
    return out


def u_subtract_many(parts: list[Product], others: Iterable[Product], limit: int = 200_000) -> list[Product]:
    for b in others:
        if not parts:
            break
        parts = u_subtract(parts, b)
        if len(parts) > limit:
            raise OverflowError("set fragmented beyond the analysis limit")
    return parts


def sample(p: Product) -> tuple[int, ...]:
    """A concrete point of a non-empty product: the lowest value in each dimension."""
    return tuple(x[0][0] for x in p)


def bounds(p: Product) -> list[tuple[int, int]]:
    return [(x[0][0], x[-1][1]) for x in p]
