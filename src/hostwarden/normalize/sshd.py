"""OpenSSH (and dropbear) messages.

Address capture follows fail2ban's hard-won rule: a user name or auth-info suffix is
attacker-controlled text, so the source address is the one followed by `port N [sshN]`
and then either the end of the message or `: ` (auth info) — never an address that
appears inside the user name. `::ffff:` prefixes of IPv4-mapped addresses are dropped.
"""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS = ("sshd", "sshd-session", "dropbear")

_IP = r"(?:::ffff:)?(?P<source__ip>[^\s\[\]()]+)"
_PORT = r"(?: port (?P<source__port>\d+))?"
_TAIL = r"(?: ssh\d?)?(?: \[preauth\])?(?:$|: .*$)"
_PREAUTH = r"(?: \[preauth\])?$"
_AUTH = ("authentication",)
# Bulk shortcuts for the lines that make up most of any auth.log (see Pattern.fast).
_FAST_IP = r"(?P<source__ip>[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}) port (?P<source__port>[0-9]+)"
_FAIL = dict(outcome="failure", category=_AUTH, type=("info",))
_NET = ("network",)


def _p(action: str, regex: str, prefix: str = "", **kw: object) -> Pattern:
    return Pattern(action=action, regex=regex, prefix=prefix, **kw)  # type: ignore[arg-type]


PATTERNS = PatternSet(
    "sshd",
    [
        _p(
            "ssh_login_failed",
            r"^Failed \S+ for invalid user (?P<user__name>.*?) from " + _IP + _PORT + _TAIL,
            "Failed ",
            fast=r"^Failed [a-z/-]+ for invalid user (?P<user__name>[^ ]+) from " + _FAST_IP + " ssh2$",
            constants={"ssh.invalid_user": "true"},
            **_FAIL,
        ),
        _p(
            "ssh_login_failed",
            r"^Failed \S+ for (?P<user__name>.*?) from " + _IP + _PORT + _TAIL,
            "Failed ",
            fast=r"^Failed [a-z/-]+ for (?P<user__name>[^ ]+) from " + _FAST_IP + " ssh2$",
            **_FAIL,
        ),
        _p(
            "ssh_login",
            r"^Accepted \S+ for (?P<user__name>.*?) from " + _IP + _PORT + _TAIL,
            "Accepted ",
            fast=r"^Accepted [a-z/-]+ for (?P<user__name>[^ ]+) from " + _FAST_IP + r" ssh2(?:: [A-Z0-9-]+ [^ ]+)?$",
            outcome="success",
            category=("authentication", "session"),
            type=("start",),
        ),
        _p(
            "ssh_invalid_user",
            r"^Invalid user (?P<user__name>.*?) from " + _IP + _PORT + _PREAUTH,
            "Invalid user ",
            fast=r"^Invalid user (?P<user__name>[^ ]+) from " + _FAST_IP + "$",
            constants={"ssh.invalid_user": "true"},
            **_FAIL,
        ),
        _p(
            "ssh_invalid_user",
            r"^input_userauth_request: invalid user (?P<user__name>.*?)" + _PREAUTH,
            "input_userauth_request: ",
            constants={"ssh.invalid_user": "true"},
            **_FAIL,
        ),
        _p(
            "ssh_max_auth_exceeded",
            r"^(?:error: )?maximum authentication attempts exceeded for (?:invalid user )?(?P<user__name>.*) from "
            + _IP
            + _PORT
            + _TAIL,
            **_FAIL,
        ),
        _p(
            "ssh_max_auth_exceeded",
            r"^Disconnecting(?::| authenticating user| invalid user) Too many authentication failures"
            r"(?: for (?:invalid user )?(?P<user__name>.*?))?" + _PREAUTH,
            "Disconnecting",
            **_FAIL,
        ),
        _p(
            "ssh_disconnecting",
            r"^Disconnecting (?:authenticating|invalid) user (?P<user__name>.*?) ?" + _IP + r" port (?P<source__port>\d+): (?P<error__message>.*?)" + _PREAUTH,
            "Disconnecting ",
            **_FAIL,
        ),
        _p(
            "ssh_connection_closed",
            r"^Connection (?:closed|reset) by (?:authenticating|invalid) user (?P<user__name>.*?) ?" + _IP + _PORT + _PREAUTH,
            "Connection ",
            fast=r"^Connection (?:closed|reset) by (?:authenticating|invalid) user (?P<user__name>[^ ]+) " + _FAST_IP
            + r" \[preauth\]$",
            **_FAIL,
        ),
        _p(
            "ssh_connection_closed",
            r"^Connection (?:closed|reset) by " + _IP + _PORT + r" \[preauth\]$",
            "Connection ",
            outcome="failure",
            category=_NET,
            type=("end",),
        ),
        _p(
            "ssh_connection_closed",
            r"^Connection (?:closed|reset) by " + _IP + _PORT + "$",
            "Connection ",
            outcome="unknown",
            category=_NET,
            type=("end",),
        ),
        _p(
            "ssh_disconnected",
            r"^Disconnected from (?:authenticating|invalid) user (?P<user__name>.*?) ?" + _IP + _PORT + _PREAUTH,
            "Disconnected from ",
            **_FAIL,
        ),
        _p(
            "ssh_disconnected",
            r"^Disconnected from " + _IP + _PORT + r" \[preauth\]$",
            "Disconnected from ",
            outcome="failure",
            category=_NET,
            type=("end",),
        ),
        _p(
            "ssh_disconnected",
            r"^Disconnected from (?:user (?P<user__name>.*?) )?" + _IP + _PORT + "$",
            "Disconnected from ",
            outcome="unknown",
            category=("session",),
            type=("end",),
        ),
        _p(
            "ssh_received_disconnect",
            r"^(?:error: )?Received disconnect from " + r"(?:::ffff:)?(?P<source__ip>[^\s\[\]()]+?)" + _PORT
            + r": ?(?P<ssh__disconnect_code>\d+): (?P<error__message>.*?)(?: \[preauth\]$|(?:Auth fail|authentication methods available\.?)$)",
            outcome="failure",
            category=_NET,
            type=("end",),
        ),
        _p(
            "ssh_received_disconnect",
            r"^(?:error: )?Received disconnect from " + r"(?:::ffff:)?(?P<source__ip>[^\s\[\]()]+?)" + _PORT
            + r": ?(?P<ssh__disconnect_code>\d+): (?P<error__message>.*?)" + _PREAUTH,
            category=_NET,
            type=("end",),
        ),
        _p(
            "ssh_no_identification",
            r"^Did not receive identification string from " + _IP + _PORT + "$",
            "Did not receive identification string",
            outcome="failure",
            category=_NET,
            type=("connection",),
        ),
        _p(
            "ssh_bad_protocol",
            r"^Bad protocol version identification '(?P<error__message>.*)' from " + _IP + _PORT + "$",
            "Bad protocol version identification",
            outcome="failure",
            category=_NET,
            type=("connection",),
        ),
        _p(
            "ssh_negotiation_failed",
            r"^(?:fatal: )?Unable to negotiate with " + _IP + _PORT + r": (?P<error__message>.*?)" + _PREAUTH,
            outcome="failure",
            category=_NET,
            type=("connection",),
        ),
        _p(
            "ssh_reverse_mapping_failed",
            r"^reverse mapping checking getaddrinfo for (?P<source__domain>\S+) \[" + r"(?:::ffff:)?(?P<source__ip>[^\]]+)\] failed",
            "reverse mapping checking",
            category=_NET,
            type=("info",),
        ),
        _p(
            "ssh_reverse_mapping_failed",
            r"^Address " + _IP + r" maps to (?P<source__domain>[^\s,]+), but this does not map back to the address",
            "Address ",
            category=_NET,
            type=("info",),
        ),
        _p(
            "ssh_pam_more_failures",
            r"^PAM (?P<ssh__count>\d+) more authentication failures?; logname=\S* uid=\S* euid=\S* tty=\S* ruser=\S* "
            r"rhost=(?:::ffff:)?(?P<source__ip>\S*)(?:\s+user=(?P<user__name>\S+))?\s*$",
            "PAM ",
            **_FAIL,
        ),
        _p(
            "ssh_pam_failure",
            r"^error: PAM: (?:[Aa]uthentication (?:failure|error)|User not known to the underlying authentication module)"
            r" for (?:illegal user )?(?P<user__name>.*?) from " + _IP + r"(?: via \S+)?\s*$",
            "error: PAM: ",
            **_FAIL,
        ),
        _p(
            "ssh_root_login_refused",
            r"^ROOT LOGIN REFUSED FROM " + _IP + _PORT + _PREAUTH,
            "ROOT LOGIN REFUSED",
            constants={"user.name": "root"},
            **_FAIL,
        ),
        _p(
            "ssh_user_not_allowed",
            r"^User (?P<user__name>\S+) from " + _IP + r" not allowed because (?P<error__message>.*)$",
            "User ",
            **_FAIL,
        ),
        _p(
            "ssh_user_not_allowed",
            r"^User (?P<user__name>\S+) not allowed because (?P<error__message>.*)$",
            "User ",
            **_FAIL,
        ),
        _p(
            "ssh_refused_connect",
            r"^refused connect from .*\((?:::ffff:)?(?P<source__ip>[^)\s]+)\)$",
            "refused connect from ",
            outcome="failure",
            category=_NET,
            type=("denied",),
        ),
        _p(
            "ssh_connection",
            r"^Connection from " + _IP + r" port (?P<source__port>\d+)(?: on (?P<destination__ip>\S+) port (?P<destination__port>\d+))?",
            "Connection from ",
            category=_NET,
            type=("connection", "start"),
        ),
        _p(
            "ssh_auth_timeout",
            r"^(?:fatal: )?Timeout before authentication for (?:connection from )?" + _IP + r"(?: port (?P<source__port>\d+)| to .*)?$",
            outcome="failure",
            category=_NET,
            type=("connection",),
        ),
        _p(
            "ssh_kex_failed",
            r"^(?:error: )?kex_exchange_identification: (?P<error__message>.*)$",
            outcome="failure",
            category=_NET,
            type=("connection",),
        ),
        _p(
            "ssh_kex_failed",
            r"^(?:banner exchange|ssh_dispatch_run_fatal): Connection from " + _IP + _PORT + r": (?P<error__message>.*?)" + _PREAUTH,
            outcome="failure",
            category=_NET,
            type=("connection",),
        ),
        _p(
            "ssh_login_postponed",
            r"^Postponed \S+ for (?:invalid user )?(?P<user__name>.*?) from " + _IP + _PORT + _TAIL,
            "Postponed ",
            category=_AUTH,
            type=("info",),
        ),
        _p(
            "ssh_login_failed",
            r"^message repeated (?P<ssh__count>\d+) times: \[ ?Failed \S+ for (?:invalid user )?"
            r"(?P<user__name>.*?) from " + _IP + _PORT + r"(?: ssh\d?)?\s*\]$",
            "message repeated ",
            **_FAIL,
        ),
        _p(
            "ssh_server_listening",
            r"^Server listening on (?P<destination__ip>\S+) port (?P<destination__port>\d+)\.?$",
            "Server listening on ",
            category=("process",),
            type=("start",),
        ),
        # dropbear
        _p(
            "ssh_login_failed",
            r"^(?:\[\d+\] [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d )?[Bb]ad password attempt for '(?P<user__name>.*)' from "
            r"(?:::ffff:)?(?P<source__ip>\S+):(?P<source__port>\d+)$",
            **_FAIL,
        ),
        _p(
            "ssh_invalid_user",
            r"^(?:\[\d+\] [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d )?[Ll]ogin attempt for nonexistent user(?: '(?P<user__name>.*)')? from "
            r"(?:::ffff:)?(?P<source__ip>\S+):(?P<source__port>\d+)$",
            constants={"ssh.invalid_user": "true"},
            **_FAIL,
        ),
        _p(
            "ssh_max_auth_exceeded",
            r"^(?:\[\d+\] [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d )?Exit before auth from <(?:::ffff:)?(?P<source__ip>[^<>\s]+):"
            r"(?P<source__port>\d+)>: (?:\(user '(?P<user__name>.*?)', \d+ fails\)|Max auth tries reached)",
            **_FAIL,
        ),
        _p(
            "ssh_max_auth_exceeded",
            r"^(?:\[\d+\] [A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d )?Exit before auth \(user '(?P<user__name>.*?)', \d+ fails\): .* from "
            r"(?:::ffff:)?(?P<source__ip>\S+):(?P<source__port>\d+)$",
            **_FAIL,
        ),
        _p(
            "ssh_fatal",
            r"^fatal: (?P<error__message>.*?) \[preauth\]$",
            "fatal: ",
            outcome="failure",
            category=_NET,
            type=("info",),
        ),
        _p(
            "ssh_connection",
            r"^SSH: Server;Ltype: \w+;Remote: (?:::ffff:)?(?P<source__ip>[^\s;]+)-(?P<source__port>\d+);",
            "SSH: Server;",
            category=_NET,
            type=("info",),
        ),
        _p(
            "ssh_fatal",
            r"^fatal: (?P<error__message>.*)$",
            "fatal: ",
            category=_NET,
            type=("info",),
        ),
    ],
)
