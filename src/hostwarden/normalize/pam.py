"""Generic PAM messages, tried on any program's message after the program's own patterns.

Covers the modern `pam_unix(service:type): …` form and the older RHEL/loghub forms without the
prefix (`sshd(pam_unix)[pid]: authentication failure; …`).
"""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS: tuple[str, ...] = ()

_PREFIX = r"^(?:pam_unix\((?P<pam__service>[^:()]+):(?P<pam__type>[^)]+)\):? |\(pam_unix\) |pam_unix: )?"
_RHOST = r"rhost=(?:::ffff:)?(?P<source__ip>\S*)"
_AUTH = ("authentication",)

PATTERNS = PatternSet(
    "pam",
    [
        Pattern(
            "pam_auth_failure",
            _PREFIX + r"authentication failure; logname=\S* uid=\d* euid=\d* tty=(?P<process__tty>\S*) "
            r"ruser=(?P<pam__ruser>\S*) " + _RHOST + r"(?:\s+user=(?P<user__name>\S+))?\s*$",
            outcome="failure",
            category=_AUTH,
            type=("info",),
        ),
        Pattern(
            "pam_more_failures",
            r"^PAM (?P<pam__count>\d+) more authentication failures?; logname=\S* uid=\d* euid=\d* tty=(?P<process__tty>\S*) "
            r"ruser=\S* " + _RHOST + r"(?:\s+user=(?P<user__name>\S+))?\s*$",
            "PAM ",
            outcome="failure",
            category=_AUTH,
            type=("info",),
        ),
        Pattern(
            "pam_user_unknown",
            _PREFIX + r"check pass; user unknown$",
            outcome="failure",
            category=_AUTH,
            type=("info",),
        ),
        Pattern(
            "pam_session_opened",
            _PREFIX + r"session opened for user (?P<user__name>[^\s(]+)(?:\(uid=(?P<user__id>\d+)\))? by "
            r"(?P<pam__by>\S*?)\(uid=(?P<user__effective__id>\d+)\)$",
            outcome="success",
            category=("session",),
            type=("start",),
        ),
        Pattern(
            "pam_session_closed",
            _PREFIX + r"session closed for user (?P<user__name>\S+)$",
            category=("session",),
            type=("end",),
        ),
        Pattern(
            "pam_password_changed",
            _PREFIX + r"password changed for (?P<user__target__name>\S+)$",
            outcome="success",
            category=("iam",),
            type=("change",),
        ),
        Pattern(
            "pam_account_locked",
            r"^pam_faillock\((?P<pam__service>[^:()]+):(?P<pam__type>[^)]+)\):? Consecutive login failures for user "
            r"(?P<user__name>\S+) account temporarily locked$",
            "pam_faillock(",
            outcome="failure",
            category=_AUTH,
            type=("denied",),
        ),
        Pattern(
            "pam_tally_denied",
            r"^pam_tally2?\((?P<pam__service>[^:()]+):(?P<pam__type>[^)]+)\):? user (?P<user__name>\S+) \(\d+\) tally \d+, deny \d+$",
            "pam_tally",
            outcome="failure",
            category=_AUTH,
            type=("denied",),
        ),
        Pattern(
            "login_failed",
            r"^FAILED LOGIN (?:\(?\d+\)? )?(?:ON|FROM) (?P<process__tty>\S+) FOR (?P<user__name>\S+), (?P<error__message>.*)$",
            "FAILED LOGIN",
            outcome="failure",
            category=_AUTH,
            type=("info",),
        ),
        Pattern(
            "root_login",
            r"^ROOT LOGIN (?:ON|on) (?P<process__tty>\S+)(?: FROM (?P<source__ip>\S+))?$",
            "ROOT LOGIN ",
            outcome="success",
            category=_AUTH,
            type=("start",),
            constants={"user.name": "root"},
        ),
    ],
)
