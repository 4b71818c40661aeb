"""sudo: commands run, wrong passwords, refusals.

sudo writes one line per decision (sudo's `lib/eventlog/eventlog.c`, `new_logline`):

    <user right-aligned in 8 columns> : [<reason>[ : <errstr>] ; ][HOST=h ; ][TTY=t ; ][CHROOT=c ; ]
        [PWD=d ; ][USER=u ; ][GROUP=g ; ][TSID=s ; ][ENV=a=1 b=2 ; ]COMMAND=<path and args>

Each key appears at most once and always in that order, so one key/value block parses every
variant (sudo 1.6 to 1.9) and the reason text alone decides the action. A line without a reason
is an accepted command. `PWD` may contain ` ; ` itself, so it is matched lazily and widened
only when the rest of the line fails to parse. sudo's PAM lines
(`pam_unix(sudo:auth): …`) are left to the generic PAM patterns (normalize/pam.py), which keep
the `sudo` dataset for them.
"""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS: tuple[str, ...] = ("sudo",)

_WHO = r"^ *(?P<user__name>[^ ]+) : "
_SEP = r" ;(?: |$)"  # a line cut after `USER=root ;` still parses
# A value that may hold `;` but not the ` ; ` separator. Only PWD (a directory name, which a user
# chooses freely) may also hold ` ; `; it alone is lazy, so a crafted line backtracks in
# O(separators × length) in Python's engine, never cubically.
_VALUE = r"(?:[^;]|;[^ ])*"
_KEYS = (
    r"(?:HOST=(?P<sudo__host>[^ ]*)" + _SEP + ")?"
    r"(?:TTY=(?P<process__tty>[^ ]*)" + _SEP + ")?"
    r"(?:CHROOT=(?P<sudo__chroot>" + _VALUE + ")" + _SEP + ")?"
    r"(?:(?:PWD|CWD)=(?P<process__working_directory>.*?)" + _SEP + ")?"
    r"(?:USER=(?P<user__effective__name>[^ ]+)" + _SEP + ")?"
    r"(?:GROUP=(?P<sudo__group>[^ ]+)" + _SEP + ")?"
    r"(?:TSID=(?P<sudo__tsid>[^ ]+)" + _SEP + ")?"
    r"(?:ENV=(?P<sudo__env>" + _VALUE + ")" + _SEP + ")?"
)
_COMMAND = r"COMMAND=(?P<process__command_line>.*)$"
_MAYBE_COMMAND = r"(?:" + _COMMAND[:-1] + r")?$"

_PROC = ("process",)
_REFUSED = {"outcome": "failure", "category": _PROC, "type": ("denied",)}


def _reason(action: str, reason: str, **kw: object) -> Pattern:
    """A refusal: `reason` is a regex for the reason text, captured as error.message."""
    return Pattern(
        action=action,
        regex=_WHO + r"(?P<error__message>" + reason + ")" + _SEP + _KEYS + _MAYBE_COMMAND,
        **kw,  # type: ignore[arg-type]
    )


PATTERNS = PatternSet(
    "sudo",
    [
        # sudo splits a long command over several lines; the tail lines carry no decision.
        Pattern(
            "sudo_command_continued",
            _WHO + r"\(command continued\) (?P<process__command_line>.*)$",
            category=_PROC,
            type=("info",),
        ),
        _reason(
            "sudo_auth_failure",
            r"(?P<sudo__attempts>[0-9]+) incorrect password attempts?",
            outcome="failure",
            category=("authentication",),
            type=("info",),
        ),
        _reason("sudo_not_in_sudoers", r"user NOT in sudoers", outcome="failure", category=("iam",), type=("denied",)),
        _reason(
            "sudo_command_refused",
            r"command not allowed|user NOT authorized on host|a password is required|unknown (?:user|group)[^;=]*",
            **_REFUSED,
        ),
        Pattern("sudo_command", _WHO + _KEYS + _COMMAND, outcome="success", category=_PROC, type=("start",)),
        # Any other reason sudo gives before the key/value block (no tty present, PAM errors, …).
        _reason("sudo_command_refused", r"[^;=]+?", **_REFUSED),
    ],
)
