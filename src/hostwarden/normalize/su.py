"""su: switches of user, successful and failed (util-linux, shadow and busybox wordings)."""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS = ("su",)
_AUTH = ("authentication",)

PATTERNS = PatternSet(
    "su",
    [
        Pattern("su_success", r"^Successful su for (?P<user__effective__name>\S+) by (?P<user__name>\S+)$",
                "Successful su", outcome="success", category=_AUTH, type=("start",)),
        Pattern("su_failure", r"^FAILED su for (?P<user__effective__name>\S+) by (?P<user__name>\S+)$",
                "FAILED su for", outcome="failure", category=_AUTH, type=("info",)),
        Pattern("su_success", r"^\+ (?P<process__tty>\S+) (?P<user__name>[^\s:]+):(?P<user__effective__name>\S+)$",
                "+ ", outcome="success", category=_AUTH, type=("start",)),
        Pattern("su_failure", r"^- (?P<process__tty>\S+) (?P<user__name>[^\s:]+):(?P<user__effective__name>\S+)$",
                "- ", outcome="failure", category=_AUTH, type=("info",)),
        Pattern("su_failure", r"^FAILED SU \(to (?P<user__effective__name>[^)]+)\) (?P<user__name>\S+) on (?P<process__tty>\S+)$",
                "FAILED SU", outcome="failure", category=_AUTH, type=("info",)),
        Pattern("su_success", r"^\(to (?P<user__effective__name>[^)]+)\) (?P<user__name>\S+) on (?P<process__tty>\S+)$",
                "(to ", outcome="success", category=_AUTH, type=("start",)),
    ],
)
