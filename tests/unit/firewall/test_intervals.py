"""The interval and product algebra against plain Python sets on a small domain."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.scan.firewall import intervals as iv

DOMAIN = ((0, 15),)
ivset = st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), max_size=4).map(
    lambda xs: iv.normalize((min(a, b), max(a, b)) for a, b in xs))


def points(s: iv.IntervalSet) -> set[int]:
    return {v for lo, hi in s for v in range(lo, hi + 1)}


@given(ivset, ivset)
def test_set_operations_match_python_sets(a, b):
    assert points(iv.intersect(a, b)) == points(a) & points(b)
    assert points(iv.subtract(a, b)) == points(a) - points(b)
    assert points(iv.union(a, b)) == points(a) | points(b)
    assert points(iv.complement(a, DOMAIN)) == set(range(16)) - points(a)
    assert iv.issubset(a, b) == (points(a) <= points(b))
    assert iv.overlaps(a, b) == bool(points(a) & points(b))
    for v in range(16):
        assert iv.contains(a, v) == (v in points(a))


product = st.tuples(ivset.filter(bool), ivset.filter(bool), ivset.filter(bool))


def product_points(p) -> set[tuple[int, ...]]:
    return set(itertools.product(*(points(x) for x in p)))


@settings(max_examples=200)
@given(product, product)
def test_product_difference_is_exact_and_disjoint(a, b):
    pieces = iv.p_subtract(a, b)
    expected = product_points(a) - product_points(b)
    got = [product_points(p) for p in pieces]
    assert set().union(*got) == expected if got else not expected
    assert sum(len(g) for g in got) == len(expected)  # disjoint pieces
    assert len(pieces) <= 3
    inter = iv.p_intersect(a, b)
    assert (product_points(inter) if inter else set()) == product_points(a) & product_points(b)
    assert iv.p_issubset(a, b) == (product_points(a) <= product_points(b))


def test_difference_that_differs_in_one_dimension_stays_one_product():
    a = (((0, 100),), ((22, 22),))
    for k in range(0, 100, 3):
        a = iv.p_subtract(a, (((k, k),), ((0, 65535),)))[0]
    assert len(a[0]) == 34 and a[1] == ((22, 22),)
