"""cron (Vixie/Debian cron, cronie's crond), crontab, anacron and run-parts.

Vixie cron and cronie share one log shape, `(<who>) <WHAT> (<detail>)`: `who` is the user whose
job or crontab it is, `*system*` (or `*system*<file>`) for /etc/crontab and /etc/cron.d, and
`CRON` for the daemon itself; neither of the last two is a user, so they never reach
`user.name`. The crontab program logs edits the same way, naming the invoker first and the
crontab owner second (`(root) REPLACE (alice)` after `crontab -u alice`), which is why the
second name is `user.target.name`: crontab edits are a persistence technique. anacron quotes
job names as `cron.daily' (older) or 'cron.daily' (newer). cron's PAM session lines are left to
the generic PAM patterns.
"""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS: tuple[str, ...] = ("cron", "crond", "anacron", "crontab", "run-parts", "/usr/sbin/cron", "/usr/sbin/crond")

_USER = r"^\((?P<user__name>[^()]*)\) "  # a real user: tried after the (CRON)/(*system*) patterns
_OWNER = r"^\((?:\*system\*[^()]*|(?P<user__name>[^()*][^()]*))\) "  # user, or a system table
_DETAIL = r" \((?P<error__message>.*)\)$"
_JOB = r"[`'](?P<cron__job>[^']*)'"
_PROC = ("process",)
_CONF = ("configuration",)


def _p(action: str, regex: str, prefix: str = "", **kw: object) -> Pattern:
    return Pattern(action=action, regex=regex, prefix=prefix, **kw)  # type: ignore[arg-type]


def _crontab(action: str, verb: str, type_: str, **kw: object) -> Pattern:
    """crontab(1): `(invoker) VERB (owner)`."""
    regex = _USER + verb + r" \((?P<user__target__name>[^()]*)\)$"
    return _p(action, regex, "(", category=_CONF, type=(type_,), **kw)


PATTERNS = PatternSet(
    "cron",
    [
        # the daemon itself
        _p("cron_started", r"^\(CRON\) STARTUP \((?P<error__message>.*)\)$", "(CRON) ", category=_PROC, type=("start",)),
        _p("cron_died", r"^\(CRON\) DEATH" + _DETAIL, "(CRON) ", outcome="failure", category=_PROC, type=("end",)),
        _p("cron_error", r"^\(CRON\) (?:error|ERROR)" + _DETAIL, "(CRON) ", outcome="failure", category=_PROC,
           type=("error",)),
        _p("cron_info", r"^\(CRON\) (?:info|INFO)" + _DETAIL, "(CRON) ", category=_PROC, type=("info",)),
        _p("cron_info", r"^\(CRON\) (?P<cron__event>[A-Za-z][A-Za-z ]*?)" + _DETAIL, "(CRON) ", category=_PROC,
           type=("info",)),
        # jobs
        _p("cron_command", _USER + r"CMD \((?P<process__command_line>.*)\)$", "(", category=_PROC, type=("start",)),
        _p("cron_command_end", _USER + r"CMDEND \((?P<process__command_line>.*)\)$", "(", category=_PROC, type=("end",)),
        _p("cron_command_output", _USER + r"CMDOUT \((?P<cron__output>.*)\)$", "(", category=_PROC, type=("info",)),
        _p("cron_mail", _USER + r"MAIL" + _DETAIL, "(", category=_PROC, type=("info",)),
        # crontab edits
        _crontab("crontab_replaced", "REPLACE", "change", outcome="success"),
        _p("crontab_edit", _USER + r"(?P<cron__edit>BEGIN|END) EDIT \((?P<user__target__name>[^()]*)\)$", "(",
           category=_CONF, type=("change",)),
        _crontab("crontab_listed", "LIST", "access"),
        _crontab("crontab_deleted", "DELETE", "deletion", outcome="success"),
        _p("crontab_denied", _USER + r"AUTH" + _DETAIL, "(", outcome="failure", category=_CONF, type=("denied",)),
        _p("cron_reload", _OWNER + r"RELOAD \((?P<file__path>.*)\)$", "(", category=_CONF, type=("change",)),
        # WRONG INODE INFO, INSECURE MODE, WRONG FILE OWNER, BAD FILE MODE, ORPHAN, …
        _p("cron_table_rejected", _OWNER + r"(?P<cron__event>[A-Z][A-Z ]*?) \((?P<error__message>[^()]*)\) "
           r"\((?P<file__path>[^()]*)\)$", "(", outcome="failure", category=_CONF, type=("info",)),
        _p("cron_table_rejected", _OWNER + r"(?P<cron__event>[A-Z][A-Z ]*?)" + _DETAIL, "(", outcome="failure",
           category=_CONF, type=("info",)),
        # anacron
        _p("cron_job_started", r"^Job " + _JOB + " started$", "Job ", category=_PROC, type=("start",)),
        _p("cron_job_finished", r"^Job " + _JOB + r" terminated \(exit status: (?P<cron__exit_code>[0-9]+)\)(?: .*)?$", "Job ",
           outcome="failure", category=_PROC, type=("end",)),
        _p("cron_job_finished", r"^Job " + _JOB + r" terminated(?: \((?P<error__message>[^()]*)\))?$", "Job ",
           outcome="success", category=_PROC, type=("end",)),
        _p("cron_job_skipped", r"^Job " + _JOB + r" locked by another anacron - skipping$", "Job ", category=_PROC,
           type=("info",)),
        _p("cron_job_scheduled", r"^Will run job " + _JOB + r" in (?P<cron__delay>[0-9]+) min\.$", "Will run job ",
           category=_PROC, type=("info",)),
        _p("cron_started", r"^Anacron (?P<cron__version>[^ ]+) started on (?P<cron__date>.*)$", "Anacron ",
           category=_PROC, type=("start",)),
        _p("cron_exited", r"^Normal exit \((?P<cron__jobs>[0-9]+) jobs? run\)$", "Normal exit ", category=_PROC,
           type=("end",)),
        _p("cron_info", r"^(?:Jobs will be executed sequentially|Updated timestamp for job " + _JOB + " to .*)$", "",
           category=_PROC, type=("info",)),
        # run-parts(/etc/cron.daily)[pid]: starting/finished <script>
        _p("cron_job_started", r"^starting (?P<cron__job>[^ ]+)$", "starting ", category=_PROC, type=("start",)),
        _p("cron_job_finished", r"^finished (?P<cron__job>[^ ]+)$", "finished ", category=_PROC, type=("end",)),
    ],
)
