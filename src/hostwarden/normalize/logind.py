"""systemd-logind: sessions opened and closed (who was on the machine when), seats, power keys.

Wording from systemd's `src/login/logind-session.c`, `logind-seat.c` and `logind-button.c`.
systemd 256 quotes the new-session line and adds class and type
(`New session '3' of user 'root' with class 'user' and type 'tty'.`); older releases write
`New session 3 of user root.`. A user name may contain dots, so the old form's name ends at the
final `.` only.
"""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS: tuple[str, ...] = ("systemd-logind",)

_SESSION = ("session",)
_HOST = ("host",)


def _p(action: str, regex: str, prefix: str, **kw: object) -> Pattern:
    return Pattern(action=action, regex=regex, prefix=prefix, **kw)  # type: ignore[arg-type]


PATTERNS = PatternSet(
    "logind",
    [
        _p(
            "session_started",
            r"^New session '(?P<logind__session>[^']*)' of user '(?P<user__name>[^']*)' with class "
            r"'(?P<logind__class>[^']*)' and type '(?P<logind__type>[^']*)'\.$",
            "New session ",
            outcome="success",
            category=_SESSION,
            type=("start",),
        ),
        _p(
            "session_started",
            r"^New session (?P<logind__session>[^ ]+) of user (?P<user__name>[^ ]+)\.$",
            "New session ",
            outcome="success",
            category=_SESSION,
            type=("start",),
        ),
        _p("session_removed", r"^Removed session (?P<logind__session>[^ ]+)\.$", "Removed session ",
           category=_SESSION, type=("end",)),
        _p("session_logged_out", r"^Session (?P<logind__session>[^ ]+) logged out\. Waiting for processes to exit\.$",
           "Session ", category=_SESSION, type=("end",)),
        _p("session_idle_stopped", r'^Session "(?P<logind__session>[^"]*)" of user "(?P<user__name>[^"]*)" is idle, '
           r"stopping\.$", "Session ", category=_SESSION, type=("end",)),
        _p("session_start_failed", r"^Failed to start session scope (?P<logind__scope>[^ ]+): (?P<error__message>.*)$",
           "Failed to start session scope ", outcome="failure", category=_SESSION, type=("start",)),
        _p("seat_added", r"^New seat (?P<logind__seat>[^ ]+)\.$", "New seat ", category=_HOST, type=("info",)),
        _p("seat_removed", r"^Removed seat (?P<logind__seat>[^ ]+)\.$", "Removed seat ", category=_HOST, type=("info",)),
        _p("buttons_watched", r"^Watching system buttons on (?P<file__path>[^ ]+) \((?P<logind__device>.*)\)$",
           "Watching system buttons on ", category=_HOST, type=("info",)),
        _p("key_pressed", r"^(?P<logind__key>Power|Reboot|Suspend|Hibernate) key pressed(?: short| long)?\.$", "",
           category=_HOST, type=("info",)),
        _p("lid_changed", r"^Lid (?P<logind__lid>opened|closed)\.$", "Lid ", category=_HOST, type=("change",)),
        _p("system_shutdown", r"^System is (?P<logind__shutdown>powering down|rebooting|halting|going down for "
           r"[a-z ]+)\.?$", "System is ", category=_HOST, type=("end",)),
    ],
)
