"""sudo: commands run (with TTY/PWD/USER/COMMAND), wrong passwords, refusals."""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS = ("sudo",)

_WHO = r"^\s*(?P<user__name>\S+) : "
_FIELDS = (
    r"(?:TTY=(?P<process__tty>[^;]*?) ; )?(?:PWD=(?P<process__working_directory>[^;]*?) ; )?"
    r"(?:USER=(?P<user__effective__name>[^;]*?) ; )?(?:GROUP=[^;]*? ; )?(?:TSID=[^;]*? ; )?(?:ENV=[^;]*? ; )?"
    r"COMMAND=(?P<process__command_line>.*)$"
)
_PROC = ("process",)

PATTERNS = PatternSet(
    "sudo",
    [
        Pattern(
            "sudo_auth_failure",
            _WHO + r"(?P<sudo__attempts>\d+) incorrect password attempts? ; " + _FIELDS,
            outcome="failure",
            category=("authentication",),
            type=("info",),
        ),
        Pattern(
            "sudo_not_in_sudoers",
            _WHO + r"user NOT in sudoers ; " + _FIELDS,
            outcome="failure",
            category=("iam",),
            type=("denied",),
        ),
        Pattern(
            "sudo_command_refused",
            _WHO + r"(?P<error__message>command not allowed|a password is required|user NOT authorized on host|"
            r"unknown user[^;]*) ; " + _FIELDS,
            outcome="failure",
            category=_PROC,
            type=("denied",),
        ),
        Pattern("sudo_command", _WHO + _FIELDS, outcome="success", category=_PROC, type=("start",)),
        Pattern(
            "sudo_auth_failure",
            r"^pam_unix\(sudo:auth\): authentication failure; logname=(?P<user__name>\S*) uid=(?P<user__id>\d*) "
            r"euid=\d* tty=(?P<process__tty>\S*) ruser=\S* rhost=\S*(?:\s+user=\S+)?\s*$",
            "pam_unix(sudo:auth)",
            outcome="failure",
            category=("authentication",),
            type=("info",),
        ),
    ],
)
