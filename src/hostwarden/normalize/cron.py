"""cron, crond and anacron: jobs run, crontab edits (persistence), reloads."""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS = ("cron", "crond", "anacron", "crontab")

PATTERNS = PatternSet(
    "cron",
    [
        Pattern("cron_command", r"^\((?P<user__name>[^)]+)\) CMD \((?P<process__command_line>.*)\)$", "(",
                category=("process",), type=("start",)),
        Pattern("crontab_replaced", r"^\((?P<user__name>[^)]+)\) REPLACE \((?P<user__target__name>[^)]+)\)$", "(",
                outcome="success", category=("configuration",), type=("change",)),
        Pattern("crontab_edit", r"^\((?P<user__name>[^)]+)\) (?P<cron__edit>BEGIN|END) EDIT \((?P<user__target__name>[^)]+)\)$", "(",
                category=("configuration",), type=("change",)),
        Pattern("crontab_listed", r"^\((?P<user__name>[^)]+)\) LIST \((?P<user__target__name>[^)]+)\)$", "(",
                category=("configuration",), type=("access",)),
        Pattern("crontab_deleted", r"^\((?P<user__name>[^)]+)\) DELETE \((?P<user__target__name>[^)]+)\)$", "(",
                outcome="success", category=("configuration",), type=("deletion",)),
        Pattern("cron_reload", r"^\((?P<user__name>[^)]+)\) RELOAD \((?P<file__path>[^)]*)\)$", "(",
                category=("configuration",), type=("change",)),
        Pattern("cron_info", r"^\((?P<user__name>[^)]+)\) (?:info|INFO) \((?P<error__message>.*)\)$", "(",
                category=("process",), type=("info",)),
        Pattern("cron_job_started", r"^Job `(?P<cron__job>[^']+)' started$", "Job `",
                category=("process",), type=("start",)),
        Pattern("cron_job_started", r"^Job '(?P<cron__job>[^']+)' started$", "Job '",
                category=("process",), type=("start",)),
        Pattern("cron_job_finished", r"^Job [`'](?P<cron__job>[^']+)' terminated.*$", "Job ",
                category=("process",), type=("end",)),
    ],
)
