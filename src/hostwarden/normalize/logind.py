"""systemd-logind: sessions opened and closed (who was on the machine when)."""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS = ("systemd-logind",)

PATTERNS = PatternSet(
    "logind",
    [
        Pattern("session_started", r"^New session (?P<logind__session>\S+) of user (?P<user__name>[^\s.]+(?:\.[^\s.]+)*)\.$",
                "New session ", outcome="success", category=("session",), type=("start",)),
        Pattern("session_removed", r"^Removed session (?P<logind__session>\S+)\.$", "Removed session ",
                category=("session",), type=("end",)),
        Pattern("session_logged_out", r"^Session (?P<logind__session>\S+) logged out\..*$", "Session ",
                category=("session",), type=("end",)),
        Pattern("seat_added", r"^New seat (?P<logind__seat>\S+)\.$", "New seat ", category=("host",), type=("info",)),
    ],
)
