"""Per-event executor: a rule tree compiled once into nested Python closures.

This is the streaming path (one event in, a bool out, no SQL round trip). Its meaning must be
exactly that of `detect.duckdb`; `tests/unit/detect/test_agreement.py` checks the two on random
events and rules. Values are read the way the store stores them: a schema field from its key,
anything else from `labels` (or, for a parser's flat dict, the key itself), numbers as text for
string tests.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from hostwarden.core.linear import compile_regex, fold_like_re2, glob_segments, segment_matcher
from hostwarden.core.schema import FIELD_BY_NAME
from hostwarden.detect.ir import And, Const, Node, Not, Or, Pred, glob_to_regex, inline_flags

Event = dict[str, Any]
Check = Callable[[Event], bool]

# The numeric text both executors accept for lt/lte/gt/gte on a text field.
NUMBER_RE = r"\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*"
_NUMBER = re.compile(NUMBER_RE)
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V4 = re.compile(rf"({_OCTET}\.){{3}}{_OCTET}")
_V6_FULL = re.compile(r"([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}")
_MAPPED = re.compile(r"^::ffff:", re.IGNORECASE)


def get_value(event: Event, name: str) -> Any:
    """A field's value as the store would hold it (labels win over flat extras, like to_arrow)."""
    if name in FIELD_BY_NAME:
        return event.get(name)
    labels = event.get("labels")
    if isinstance(labels, dict) and name in labels:
        return labels[name]
    if isinstance(labels, list):  # Arrow map rows come back as (key, value) pairs
        for key, value in labels:
            if key == name:
                return value
    value = event.get(name)
    return None if value is None else value if isinstance(value, (str, list)) else str(value)


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    return None


def address_int(text: str, version: int) -> int | None:
    """The address as an integer, accepting exactly the spellings `store.query.ipsql` accepts."""
    if version == 4:
        s = _MAPPED.sub("", text)
        if not _V4.fullmatch(s):
            return None
        acc = 0
        for octet in s.split("."):
            acc = acc * 256 + int(octet)
        return acc
    t = text.lower().split("%", 1)[0]
    groups = len([g for g in t.split(":") if g])
    full = t.replace("::", ":" + "0:" * max(8 - groups, 0)).strip(":")
    if not _V6_FULL.fullmatch(full):
        return None
    return int("".join(g.rjust(4, "0") for g in full.split(":")), 16)


def _scalar_test(pred: Pred) -> Callable[[Any], bool]:
    """A test of one (non-list) value; None never reaches it."""
    op, value = pred.op, pred.value
    if op in ("eq", "contains", "startswith", "endswith"):
        needle = str(value) if pred.cased else str(value).lower()
        fold: Callable[[str], str] = (lambda s: s) if pred.cased else str.lower
        if op == "eq":
            return lambda v: fold(as_text(v)) == needle
        if op == "contains":
            return lambda v: needle in fold(as_text(v))
        if op == "startswith":
            return lambda v: fold(as_text(v)).startswith(needle)
        return lambda v: fold(as_text(v)).endswith(needle)
    if op == "regex":  # RE2: linear time on any text, and the dialect of the bulk path
        rx = compile_regex(inline_flags(str(value), pred.flags))
        return lambda v: rx.search(as_text(v)) is not None
    if op == "glob":
        parts = glob_segments(str(value))
        if parts is not None:
            by_parts = segment_matcher(parts, (lambda s: s) if pred.cased else fold_like_re2)
            return lambda v: by_parts(as_text(v))
        glob = compile_regex(inline_flags(glob_to_regex(str(value)), "" if pred.cased else "i"))
        return lambda v: glob.fullmatch(as_text(v)) is not None
    if op in ("lt", "lte", "gt", "gte"):
        bound = float(value)
        cmp = {"lt": float.__lt__, "lte": float.__le__, "gt": float.__gt__, "gte": float.__ge__}[op]

        def compare(v: Any) -> bool:
            n = _number(v)
            return n is not None and cmp(n, bound)

        return compare
    if op == "cidr":
        net = ipaddress.ip_network(str(value), strict=False)
        lo, hi = int(net.network_address), int(net.broadcast_address)

        def inside(v: Any) -> bool:
            n = address_int(as_text(v), net.version)
            return n is not None and lo <= n <= hi

        return inside
    raise ValueError(f"operator {op!r} is not a value test")


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, list) and not v)


def compile_pred(pred: Pred) -> Check:
    name = pred.target
    if pred.op == "exists":
        want = bool(pred.value) if pred.value is not None else True
        return lambda ev: _present(get_value(ev, name)) == want
    if pred.op == "null":
        return lambda ev: not _present(get_value(ev, name))
    if pred.op == "fieldref":
        other = str(pred.value)
        fold: Callable[[str], str] = (lambda s: s) if pred.cased else str.lower

        def same(ev: Event) -> bool:
            a, b = get_value(ev, name), get_value(ev, other)
            if a is None or b is None or isinstance(a, list) or isinstance(b, list):
                return False
            return fold(as_text(a)) == fold(as_text(b))

        return same
    test = _scalar_test(pred)
    # a schema field is one dict read (the streaming hot path); other names may sit in labels
    read: Callable[[Event], Any] = (lambda ev: ev.get(name)) if name in FIELD_BY_NAME else (lambda ev: get_value(ev, name))

    def check(ev: Event) -> bool:
        v = read(ev)
        if v is None:
            return False
        if isinstance(v, list):
            return any(x is not None and test(x) for x in v)
        return test(v)

    return check


def compile_node(node: Node) -> Check:
    """Compile a tree into one callable (children compiled once, short-circuit at run time)."""
    if isinstance(node, Pred):
        return compile_pred(node)
    if isinstance(node, Const):
        value = node.value
        return lambda ev: value
    if isinstance(node, Not):
        inner = compile_node(node.child)
        return lambda ev: not inner(ev)
    if isinstance(node, (And, Or)):
        parts = tuple(compile_node(c) for c in node.children)
        return _junction(parts, decided_by=isinstance(node, Or))
    raise TypeError(f"not a rule node: {node!r}")


# Short and/or nodes are plain boolean expressions: a generator per event is the matcher's
# largest overhead at line rate.
def _junction(parts: tuple[Check, ...], decided_by: bool) -> Check:
    """`and` (decided by the first False child) or `or` (by the first True one)."""
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        a, b = parts
        return (lambda ev: bool(a(ev) or b(ev))) if decided_by else (lambda ev: bool(a(ev) and b(ev)))
    if len(parts) == 3:
        a, b, c = parts
        return ((lambda ev: bool(a(ev) or b(ev) or c(ev))) if decided_by
                else (lambda ev: bool(a(ev) and b(ev) and c(ev))))

    def loop(ev: Event) -> bool:
        for p in parts:
            if bool(p(ev)) is decided_by:
                return decided_by
        return not decided_by

    return loop
