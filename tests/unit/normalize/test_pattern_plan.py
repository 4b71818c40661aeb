"""What the per-line matcher learns from a regex before running it: the characters a match
can start with and a literal every match contains. Wrong in either direction means a pattern
skipped that would have matched, so each case is checked against the regex itself."""

from __future__ import annotations

import re

import pytest

from hostwarden.normalize.patterns import Pattern, PatternSet, _first_chars, required_literal

CASES = [
    # regex, text that matches, text that doesn't start right, first chars, required literal
    (r"^(?:error: )?maximum attempts for (?P<user__name>\S+)$", "maximum attempts for bob", "x", "em",
     "maximum attempts for "),
    (r"^(?:\[\d+\] )?[Bb]ad password '(?P<user__name>.*)'$", "[12] bad password 'x'", "Good", "[Bb", "ad password '"),
    (r"^(?P<logind__key>Power|Reboot) key pressed\.$", "Reboot key pressed.", "Lid", "PR", " key pressed."),
    (r"^(?:ab)*c(?P<user__name>x)$", "ababcx", "dx", "ac", ""),
]


@pytest.mark.parametrize(("regex", "good", "bad", "first", "literal"), CASES)
def test_plan_facts_hold_for_the_regex(regex: str, good: str, bad: str, first: str, literal: str) -> None:
    assert re.match(regex, good, re.ASCII) and not re.match(regex, bad, re.ASCII)
    assert _first_chars(regex) == frozenset(first)
    assert good[0] in _first_chars(regex)
    assert required_literal(regex) == literal and literal in good


@pytest.mark.parametrize("regex", [r"^ *(?P<user__name>\S+)", r"^(?i)abc", r"^\S+ x", r"^(?:a|)b?", r"^[^ ]x"])
def test_unknown_first_characters_mean_every_line_is_tried(regex: str) -> None:
    assert _first_chars(regex) is None


def test_order_is_kept_across_indexed_and_unindexed_patterns() -> None:
    """A prefix-less pattern that can start with anything sits between two indexed ones: the
    first that matches still wins, whichever list a line falls in."""
    patterns = PatternSet("t", [
        Pattern("specific", r"^Failed password for (?P<user__name>\S+)$", prefix="Failed "),
        Pattern("anything", r"^(?P<user__name>\S+) password for root$"),
        Pattern("late", r"^Failed (?P<user__name>\S+) for root$"),
    ])
    assert patterns.match("Failed password for alice")["event.action"] == "specific"
    assert patterns.match("Failed password for root")["event.action"] == "specific"
    assert patterns.match("Bad password for root")["event.action"] == "anything"
    assert patterns.match("Fake password for root")["event.action"] == "anything"  # in the `F` list too
    assert patterns.match("Failed publickey for root")["event.action"] == "late"
    assert patterns.match("nothing here") is None
