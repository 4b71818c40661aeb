"""Rule patterns run in linear time: RE2 for regexes, segment search for `*` globs, and the glob
matcher means exactly what the RE2 regex of the same glob means (case folding included)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.core.linear import RegexError, compile_regex, fold_like_re2, glob_segments, segment_matcher
from hostwarden.detect.ir import Pred, glob_to_regex, inline_flags
from hostwarden.detect.matcher import compile_node

ALPHABET = st.sampled_from(list("aAbBsSſkK\u212aσςΣß*?\\. \n"))


def test_exponential_backtracking_pattern_is_answered_at_once() -> None:
    check = compile_node(Pred("message", "regex", "(a+)+$"))
    assert check({"message": "a" * 100_000 + "!"}) is False  # Python's re would not return for ages
    assert check({"message": "aaa"}) is True


@pytest.mark.parametrize("pattern", ["foo(?=bar)", "(a)\\1", "(?<=x)y"])
def test_patterns_re2_cannot_run_are_refused(pattern: str) -> None:
    with pytest.raises(RegexError):
        compile_regex(pattern)


def test_glob_segments() -> None:
    assert glob_segments("*chown root*chmod*") == ["", "chown root", "chmod", ""]
    assert glob_segments(r"a\*b*c") == ["a*b", "c"]
    assert glob_segments("a?c") is None


@settings(max_examples=600, deadline=None)
@given(glob=st.text(ALPHABET, max_size=8), text=st.text(ALPHABET, max_size=12), cased=st.booleans())
def test_segment_matcher_agrees_with_the_re2_regex_of_the_glob(glob: str, text: str, cased: bool) -> None:
    parts = glob_segments(glob)
    if parts is None:
        return
    rx = compile_regex(inline_flags(glob_to_regex(glob), "" if cased else "i"))
    ours = segment_matcher(parts, (lambda s: s) if cased else fold_like_re2)(text)
    assert ours == (rx.fullmatch(text) is not None), (glob, text, cased)


def test_folding_follows_re2_not_just_lower() -> None:
    assert fold_like_re2("ſ") == fold_like_re2("S") == "s"
    assert fold_like_re2("\u212a") == "k" and fold_like_re2("ς") == fold_like_re2("Σ")
    assert fold_like_re2("ß") == "ß"  # simple folding never expands to "ss"
