"""Account management by shadow-utils: useradd, usermod, userdel, groupadd, passwd, chpasswd …

`user.id` of a new account matters to detection: a second UID 0 account is an L1 signal.
"""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS = ("useradd", "usermod", "userdel", "groupadd", "groupdel", "groupmod", "passwd", "chpasswd",
            "chage", "gpasswd", "adduser", "deluser", "chsh", "chfn")
_IAM = ("iam",)

PATTERNS = PatternSet(
    "accounts",
    [
        Pattern("user_created",
                r"^new user: name=(?P<user__target__name>[^,]+), UID=(?P<user__id>\d+), GID=(?P<accounts__gid>\d+), "
                r"home=(?P<accounts__home>[^,]*), shell=(?P<accounts__shell>[^,]*)(?:, from=(?P<process__tty>\S+))?$",
                "new user: ", outcome="success", category=_IAM, type=("user", "creation")),
        Pattern("group_created", r"^new group: name=(?P<group__name>[^,]+), GID=(?P<accounts__gid>\d+)$",
                "new group: ", outcome="success", category=_IAM, type=("group", "creation")),
        Pattern("group_created",
                r"^(?:group added to|new group added to) (?P<accounts__file>\S+): name=(?P<group__name>[^,]+)(?:, GID=(?P<accounts__gid>\d+))?$",
                outcome="success", category=_IAM, type=("group", "creation")),
        Pattern("user_deleted", r"^delete user '(?P<user__target__name>[^']+)'$", "delete user ",
                outcome="success", category=_IAM, type=("user", "deletion")),
        Pattern("group_deleted", r"^(?:removed group|group) '(?P<group__name>[^']+)'(?: owned by '(?P<user__target__name>[^']+)')?(?: removed.*)?$",
                outcome="success", category=_IAM, type=("group", "deletion")),
        Pattern("user_added_to_group", r"^add '(?P<user__target__name>[^']+)' to (?:shadow )?group '(?P<group__name>[^']+)'$",
                "add '", outcome="success", category=_IAM, type=("group", "change")),
        Pattern("user_removed_from_group", r"^delete '(?P<user__target__name>[^']+)' from (?:shadow )?group '(?P<group__name>[^']+)'$",
                "delete '", outcome="success", category=_IAM, type=("group", "change")),
        Pattern("user_changed", r"^change user '(?P<user__target__name>[^']+)' (?P<accounts__change>.+)$", "change user ",
                outcome="success", category=_IAM, type=("user", "change")),
        Pattern("user_changed", r"^user '(?P<user__target__name>[^']+)' (?P<accounts__change>.+)$", "user '",
                outcome="success", category=_IAM, type=("user", "change")),
        Pattern("password_changed", r"^password for '(?P<user__target__name>[^']+)' changed by '(?P<user__name>[^']+)'$",
                "password for ", outcome="success", category=_IAM, type=("user", "change")),
        Pattern("password_changed", r"^pam_unix\((?:passwd|chpasswd):chauthtok\): password changed for (?P<user__target__name>\S+)$",
                "pam_unix(", outcome="success", category=_IAM, type=("user", "change")),
        Pattern("password_change_failed",
                r"^pam_unix\((?:passwd|chpasswd):chauthtok\): (?P<error__message>.+?) for (?P<user__target__name>\S+)$",
                "pam_unix(", outcome="failure", category=_IAM, type=("user", "change")),
    ],
)
