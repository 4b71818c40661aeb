"""Generic PAM and login(1) messages, whatever program logged them.

The lead's dispatcher tries these after a program's own patterns fail, so they must hold for
`sshd`, `su`, `sudo`, `cron`, `login`, `vsftpd`, `pure-ftpd`, … alike. Linux-PAM has written the
module tag three ways over the years, and all three are still in the wild (loghub, fail2ban):

    pam_unix(sshd:auth): authentication failure; …      (Linux-PAM ≥ 0.99.2, `pam_syslog`)
    (pam_unix) authentication failure; …                (older, tag inside the message)
    sshd(pam_unix)[123]: authentication failure; …      (older, tag in the program name)

so the module prefix is optional and the message text after it carries the pattern.

`rhost=` is attacker-influenced in two ways fail2ban's `pam-generic` filter documents: a
`ruser=` or `user=` value may itself contain ` rhost=…`. The address is therefore the `rhost=`
value followed by nothing but an optional `user=` tail, trying the plain `ruser` token first
and widening it only when that fails. An address-shaped `rhost` lands in `source.ip`, any
other value (a resolved host name) in `source.domain`.

Regexes use only syntax Python `re` and RE2 share, and explicit character classes instead of
`\\d`/`\\s` (whose Unicode meaning differs between the two engines).
"""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS: tuple[str, ...] = ()  # generic: applied to any program's message

# Address shapes accepted as `source.ip` (the same shapes syslog.IP_SHAPE accepts).
IP = (
    r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}"
    r"|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[^ ]+)?"
    r"|[0-9A-Fa-f:]+:[0-9]{1,3}(?:\.[0-9]{1,3}){3})"
)
# A host that is an address goes to source.ip (IPv4-mapped prefix dropped), anything else to
# source.domain. Both executors try the alternatives in the same (leftmost-first) order.
HOST = r"(?:(?:::ffff:)?(?P<source__ip>" + IP + r")|(?P<source__domain>[^ ]+))"

# Optional module tag: `pam_unix(sshd:auth): `, `pam_unix(auth): `, `pam_unix: `, `(pam_unix) `.
_MOD = (
    r"(?:\(?(?P<pam__module>pam_[A-Za-z0-9_]+)"
    r"(?:\((?P<pam__service>[^():]*)(?::(?P<pam__type>[A-Za-z_]+))?\))?\)?:? )?"
)
# The fields pam_unix (and pam_sss, pam_ldap, …) append to an authentication failure.
_AUTH_FIELDS = (
    r"logname=[^ ]* uid=[0-9]* euid=[0-9]* tty=(?P<process__tty>[^ ]*) "
    r"ruser=(?P<pam__ruser>[^ ]*|.*?) rhost=" + HOST + r"?(?: +user=(?P<user__name>.*[^ ])?)? *$"
)

_AUTH = ("authentication",)
_FAILED = {"outcome": "failure", "category": _AUTH, "type": ("info",)}
_DENIED = {"outcome": "failure", "category": _AUTH, "type": ("denied",)}
_SESSION = ("authentication", "session")
_IAM_CHANGE = {"outcome": "success", "category": ("iam",), "type": ("user", "change")}
_USER_TOKEN = r"[^ ()]+"


# Bulk-only shortcut (Pattern.fast) for the modern `pam_unix(service:type): ` tag that cron and
# sshd write on every session: a simpler regex RE2 extracts several times faster.
_FAST_MOD = r"^(?P<pam__module>pam_unix)\((?P<pam__service>[a-z0-9_-]+):(?P<pam__type>[a-z]+)\): "


def _pam(action: str, body: str, fast_body: str = "", **kw: object) -> Pattern:
    """A pattern for a message that may carry a PAM module tag before `body`."""
    fast = _FAST_MOD + fast_body if fast_body else ""
    return Pattern(action=action, regex="^" + _MOD + body, fast=fast, **kw)  # type: ignore[arg-type]


def _plain(action: str, regex: str, prefix: str = "", **kw: object) -> Pattern:
    return Pattern(action=action, regex=regex, prefix=prefix, **kw)  # type: ignore[arg-type]


PATTERNS = PatternSet(
    "pam",
    [
        _pam(
            "pam_auth_failure",
            r"authentication failure; " + _AUTH_FIELDS,
            r"authentication failure; logname=[^ ]* uid=[0-9]* euid=[0-9]* tty=(?P<process__tty>[^ ]*) "
            r"ruser=(?P<pam__ruser>[^ ]*) rhost=(?P<source__ip>[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})"
            r"(?P<source__domain>)(?:  user=(?P<user__name>[^ ]+))?$",
            **_FAILED,
        ),
        _plain(
            "pam_more_failures",
            r"^PAM (?P<pam__count>[0-9]+) more authentication failures?; " + _AUTH_FIELDS,
            "PAM ",
            **_FAILED,
        ),
        _plain(
            "pam_max_retries",
            r"^PAM service\((?P<pam__service>[^()]*)\) ignoring max retries; (?P<pam__count>[0-9]+) > [0-9]+$",
            "PAM service(",
            **_FAILED,
        ),
        _pam("pam_user_unknown", r"check pass; user unknown$", r"check pass; user unknown$", **_FAILED),
        _pam("pam_user_unknown", r"bad username \[(?P<user__name>.*)\]$", **_FAILED),
        _pam("pam_password_missing", r"auth could not identify password for \[(?P<user__name>.*)\]$", **_FAILED),
        _pam("pam_conversation_failed", r"conversation failed$", **_FAILED),
        _pam(
            "pam_session_opened",
            r"session opened for user (?P<user__name>" + _USER_TOKEN + r")(?:\(uid=(?P<user__id>[0-9]+)\))?"
            r"(?: by (?P<pam__by>[^ ()]*)(?:\(uid=[0-9]*\))?)?$",
            r"session opened for user (?P<user__name>[^ ()]+)\(uid=(?P<user__id>[0-9]+)\) by (?P<pam__by>[^ ()]*)\(uid=[0-9]+\)$",
            outcome="success",
            category=_SESSION,
            type=("start",),
        ),
        _pam(
            "pam_session_closed",
            r"session closed for user (?P<user__name>" + _USER_TOKEN + r")(?:\(uid=(?P<user__id>[0-9]+)\))?$",
            r"session closed for user (?P<user__name>[^ ()]+)(?:\(uid=(?P<user__id>[0-9]+)\))?$",
            category=_SESSION,
            type=("end",),
        ),
        _pam("password_changed", r"password changed for (?P<user__target__name>[^ ]+)$", **_IAM_CHANGE),
        _pam(
            "pam_account_expired",
            r"account (?P<user__name>[^ ]+) has expired \((?P<error__message>[^()]*)\)$",
            **_FAILED,
        ),
        _pam(
            "pam_password_expired",
            r"expired password for user (?P<user__name>[^ ]+) \((?P<error__message>[^()]*)\)$",
            **_FAILED,
        ),
        _pam(
            "pam_account_locked",
            r"Consecutive login failures for user (?P<user__name>[^ ]+) account temporarily locked$",
            **_DENIED,
        ),
        _pam(
            "pam_tally_denied",
            r"user (?P<user__name>[^ ]+) \((?P<user__id>[0-9]+)\) tally (?P<pam__count>[0-9]+), deny [0-9]+$",
            **_DENIED,
        ),
        _pam(
            "pam_requirement_not_met",
            r'requirement "(?P<pam__requirement>[^"]*)" not met by user "(?P<user__name>[^"]*)"$',
            **_DENIED,
        ),
        _pam(
            "pam_requirement_met",
            r'requirement "(?P<pam__requirement>[^"]*)" was met by user "(?P<user__name>[^"]*)"$',
            outcome="success",
            category=_AUTH,
            type=("info",),
        ),
        _pam(
            "pam_auth_failure",
            r"received for user (?P<user__name>.*?): (?P<pam__code>[0-9]+) \((?P<error__message>.*)\)$",
            **_FAILED,
        ),
        # login(1), util-linux: FROM is the remote host, or the tty on a console login.
        _plain(
            "login_failed",
            r"^FAILED LOGIN (?P<pam__count>[0-9]+) FROM (?:\(null\)|(?P<process__tty>(?:tty|pts/|console|hvc|ttyS)[^ ]*)|"
            + HOST
            + r") FOR (?P<user__name>.*), (?P<error__message>.*)$",
            "FAILED LOGIN ",
            **_FAILED,
        ),
        # login(1), shadow-utils: FAILED LOGIN (1) on '/dev/tty1' [from 'host'] FOR 'root', reason
        _plain(
            "login_failed",
            r"^FAILED LOGIN \((?P<pam__count>[0-9]+)\)(?: on '(?P<process__tty>[^']*)')?(?: from '"
            + HOST
            + r"')? FOR '(?P<user__name>.*)', (?P<error__message>.*)$",
            "FAILED LOGIN ",
            **_FAILED,
        ),
        _plain(
            "login_failed",
            r"^FAILED LOGIN SESSION FROM (?:\(null\)|(?P<process__tty>(?:tty|pts/|console|hvc|ttyS)[^ ]*)|"
            + HOST
            + r") FOR (?P<user__name>.*), (?P<error__message>.*)$",
            "FAILED LOGIN SESSION ",
            **_FAILED,
        ),
        _plain(
            "login_max_tries",
            r"^TOO MANY LOGIN TRIES \((?P<pam__count>[0-9]+)\) FROM (?:\(null\)|(?P<process__tty>(?:tty|pts/|console|hvc|ttyS)[^ ]*)|"
            + HOST
            + r") FOR (?P<user__name>.*), (?P<error__message>.*)$",
            "TOO MANY LOGIN TRIES ",
            **_FAILED,
        ),
        _plain(
            "root_login",
            r"^ROOT LOGIN +ON (?P<process__tty>[^ ]+)(?: FROM " + HOST + r")?$",
            "ROOT LOGIN ",
            outcome="success",
            category=_SESSION,
            type=("start",),
            constants={"user.name": "root"},
        ),
        _plain(
            "login",
            r"^LOGIN ON (?P<process__tty>[^ ]+) BY (?P<user__name>[^ ]+)(?: FROM " + HOST + r")?$",
            "LOGIN ON ",
            outcome="success",
            category=_SESSION,
            type=("start",),
        ),
    ],
)
