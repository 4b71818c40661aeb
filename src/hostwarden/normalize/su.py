"""su and runuser: switches of user, successful and failed.

Two implementations log differently. shadow-utils su (`libmisc/sulog.c` and `su.c`) writes
`Successful su for <to> by <from>` / `FAILED su for <to> by <from>` and, with SYSLOG_SU_ENAB,
`+ <tty> <from>:<to>` / `- <tty> <from>:<to>`. util-linux su and runuser (`su-common.c`) write
`(to <to>) <from> on <tty>` and `FAILED SU (to <to>) <from> on <tty>` (`FAILED RUNUSER` for
runuser). In ECS terms the caller is `user.name` and the account switched to is
`user.effective.name`. su's PAM session lines (`pam_unix(su:session): …`, and the old
`su(pam_unix)[pid]: session opened …` of loghub's Linux log) are generic PAM (normalize/pam.py).
"""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS: tuple[str, ...] = ("su", "runuser")

_AUTH = ("authentication",)
_OK = {"outcome": "success", "category": ("authentication", "session"), "type": ("start",)}
_FAIL = {"outcome": "failure", "category": _AUTH, "type": ("info",)}
_SHADOW_WHO = r"(?P<user__effective__name>[^ ]+) by (?P<user__name>[^ ]+)$"
_SULOG = r"(?P<process__tty>[^ ]+) (?P<user__name>[^ :]+):(?P<user__effective__name>[^ ]+)$"
_UTIL_LINUX = r"\(to (?P<user__effective__name>[^()]+)\) (?P<user__name>[^ ]+) on (?P<process__tty>[^ ]+)$"

PATTERNS = PatternSet(
    "su",
    [
        Pattern("su_success", r"^Successful su for " + _SHADOW_WHO, "Successful su for ", **_OK),
        Pattern("su_failure", r"^FAILED su for " + _SHADOW_WHO, "FAILED su for ", **_FAIL),
        Pattern("su_success", r"^\+ " + _SULOG, "+ ", **_OK),
        Pattern("su_failure", r"^- " + _SULOG, "- ", **_FAIL),
        Pattern("su_failure", r"^FAILED (?:SU|RUNUSER) " + _UTIL_LINUX, "FAILED ", **_FAIL),
        Pattern("su_success", r"^" + _UTIL_LINUX, "(to ", **_OK),
    ],
)
