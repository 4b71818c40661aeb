"""Account management by shadow-utils: useradd, usermod, userdel, groupadd/del/mod, passwd, chage, gpasswd, chsh, chfn.

The wording is shadow-utils' own (its `SYSLOG(...)` calls, unchanged from 4.8 to 4.17 apart
from `from=` on new users). The account acted upon is `user.target.name`, the group
`group.name`, and a UID that is set (new user, `usermod -u`) is `user.id`: a second UID 0
account is an L1 signal, so that number must never be lost. The caller is `user.name` where the
tool names it (passwd, gpasswd). Which attribute `usermod` changed goes to
`labels["accounts.change"]`, old and new values to `accounts.old` / `accounts.new`. userdel and
groupdel end their formats with `\\n`, which rsyslog may keep as `#012`.
chpasswd and newusers log only through PAM (`pam_unix(chpasswd:chauthtok): password changed for
…`), which the generic PAM patterns map to `password_changed` in this dataset.
"""

from __future__ import annotations

from hostwarden.normalize.patterns import Pattern, PatternSet

PROGRAMS: tuple[str, ...] = (
    "useradd", "usermod", "userdel", "groupadd", "groupdel", "groupmod", "passwd", "chpasswd",
    "chage", "gpasswd", "chgpasswd", "newusers", "chsh", "chfn", "adduser", "deluser",
)  # fmt: skip

_Q = r"'(?P<{}>[^']*)'"  # a quoted name, as shadow-utils prints them
_TARGET = _Q.format("user__target__name")
_GROUP = _Q.format("group__name")
_END = r"(?:#012)?$"


def _iam(kind: str, change: str, outcome: str = "success") -> dict[str, object]:
    return {"outcome": outcome, "category": ("iam",), "type": (kind, change)}


def _p(action: str, regex: str, prefix: str, **kw: object) -> Pattern:
    return Pattern(action=action, regex=regex, prefix=prefix, **kw)  # type: ignore[arg-type]


def _shadow(database: str) -> dict[str, dict[str, str]]:
    return {"constants": {"accounts.database": database}}


def _change(attribute: str, value: str = r"'(?P<accounts__old>[^']*)' to '(?P<accounts__new>[^']*)'") -> Pattern:
    """usermod: change user 'bob' <attribute> from 'old' to 'new'."""
    regex = r"^change user " + _TARGET + " " + attribute + " from " + value + "$"
    return _p("user_changed", regex, "change user ", constants={"accounts.change": attribute}, **_iam("user", "change"))


_GROUP_FILE_EVENT = {"outcome": "success", "category": ("iam",)}

PATTERNS = PatternSet(
    "accounts",
    [
        # useradd
        _p(
            "user_created",
            r"^new user: name=(?P<user__target__name>[^,]*), UID=(?P<user__id>[0-9]+), GID=(?P<accounts__gid>[0-9]+), "
            r"home=(?P<accounts__home>.*?), shell=(?P<accounts__shell>.*?)(?:, from=(?P<process__tty>[^ ]*))?$",
            "new user: ",
            **_iam("user", "creation"),
        ),
        _p(
            "user_create_failed",
            r"^failed adding user " + _TARGET + r", (?:exit code: (?P<accounts__exit_code>[0-9]+)|data deleted)$",
            "failed adding user ",
            **_iam("user", "creation", "failure"),
        ),
        _p(
            "group_created",
            r"^new group: name=(?P<group__name>[^,]*), GID=(?P<accounts__gid>[0-9]+)$",
            "new group: ",
            **_iam("group", "creation"),
        ),
        # groupadd writes this once per database before `new group:`; one creation, several files.
        _p(
            "group_file_updated",
            r"^group added to (?P<file__path>[^ ]+): name=(?P<group__name>[^,]*)(?:, GID=(?P<accounts__gid>[0-9]+))?$",
            "group added to ",
            type=("group", "creation"),
            **_GROUP_FILE_EVENT,
        ),
        _p("user_added_to_group", r"^add " + _TARGET + " to group " + _GROUP + "$", "add '",
           **_shadow("group"), **_iam("group", "change")),
        _p("user_added_to_group", r"^add " + _TARGET + " to shadow group " + _GROUP + "$", "add '",
           **_shadow("gshadow"), **_iam("group", "change")),
        # userdel, usermod -G
        _p("user_deleted", r"^delete user " + _TARGET + _END, "delete user ", **_iam("user", "deletion")),
        _p("user_removed_from_group", r"^delete " + _TARGET + " from group " + _GROUP + _END, "delete '",
           **_shadow("group"), **_iam("group", "change")),
        _p("user_removed_from_group", r"^delete " + _TARGET + " from shadow group " + _GROUP + _END, "delete '",
           **_shadow("gshadow"), **_iam("group", "change")),
        _p("group_deleted", r"^removed group " + _GROUP + " owned by " + _TARGET + _END, "removed group ",
           **_shadow("group"), **_iam("group", "deletion")),
        _p("group_deleted", r"^removed shadow group " + _GROUP + " owned by " + _TARGET + _END, "removed shadow group ",
           **_shadow("gshadow"), **_iam("group", "deletion")),
        _p("mail_spool_kept", r"^(?P<file__path>.*) not owned by (?P<user__target__name>[^ ]*), not removed$", "",
           outcome="failure", category=("file",), type=("deletion",)),
        # groupdel
        _p("group_deleted", r"^group " + _GROUP + " removed" + _END, "group '", **_iam("group", "deletion")),
        _p("group_file_updated", r"^group " + _GROUP + " removed from (?P<file__path>[^ ]+?)" + _END, "group '",
           type=("group", "deletion"), **_GROUP_FILE_EVENT),
        # groupmod: group changed in /etc/group (group bob/1001, new name: bobs, new gid: 1002)
        _p(
            "group_changed",
            r"^group changed in (?P<file__path>[^ ]+) \(group (?P<group__name>[^/,()]*)(?:/(?P<accounts__gid>[0-9]+))?"
            r"(?:, (?P<accounts__change>[^()]*))?\)$",
            "group changed in ",
            **_iam("group", "change"),
        ),
        # usermod
        _change("UID", r"'(?P<accounts__old>[0-9]*)' to '(?P<user__id>[0-9]+)'"),
        _change("GID", r"'(?P<accounts__old>[0-9]*)' to '(?P<accounts__gid>[0-9]+)'"),
        _change("home"),
        _change("shell"),
        _change("expiration"),
        _change("inactive"),
        _p("user_changed", r"^change user name " + _Q.format("accounts__old") + " to " + _TARGET + "$", "change user name ",
           constants={"accounts.change": "name"}, **_iam("user", "change")),
        _p("password_changed", r"^change user " + _TARGET + " password$", "change user ", **_iam("user", "change")),
        _p("password_locked", r"^lock user " + _TARGET + " password$", "lock user ", **_iam("user", "change")),
        _p("password_unlocked", r"^unlock user " + _TARGET + " password$", "unlock user ", **_iam("user", "change")),
        _p("group_member_renamed", r"^change " + _Q.format("accounts__old") + " to " + _TARGET + " in (?:shadow )?group "
           + _GROUP + "$", "change '", **_iam("group", "change")),
        _p("group_admin_renamed", r"^change admin " + _Q.format("accounts__old") + " to " + _TARGET
           + " in shadow group " + _GROUP + "$", "change admin ", **_iam("group", "change")),
        # passwd, chage
        _p("password_changed", r"^password for " + _TARGET + " changed by '(?P<user__name>[^']*)'$", "password for ",
           **_iam("user", "change")),
        _p("password_change_failed", r"^incorrect password for (?P<user__target__name>[^ ]+)$", "incorrect password for ",
           outcome="failure", category=("authentication",), type=("info",)),
        _p("password_change_refused", r"^password locked for " + _TARGET + "$", "password locked for ",
           **_iam("user", "change", "failure")),
        _p("password_expiry_changed", r"^changed password expiry for (?P<user__target__name>[^ ]+)$",
           "changed password expiry for ", **_iam("user", "change")),
        # chsh, chfn
        _p("user_changed", r"^changed user " + _TARGET + " shell to '(?P<accounts__new>[^']*)'$", "changed user ",
           constants={"accounts.change": "shell"}, **_iam("user", "change")),
        _p("user_changed", r"^changed user " + _TARGET + " information$", "changed user ",
           constants={"accounts.change": "information"}, **_iam("user", "change")),
        # gpasswd: `user bob added by root to group sudo[ in /etc/group]`
        _p("user_added_to_group", r"^user (?P<user__target__name>[^ ]+) added by (?P<user__name>[^ ]+) to group "
           r"(?P<group__name>[^ ]+)(?: in (?P<file__path>[^ ]+))?$", "user ", **_iam("group", "change")),
        _p("user_removed_from_group", r"^user (?P<user__target__name>[^ ]+) removed by (?P<user__name>[^ ]+) from group "
           r"(?P<group__name>[^ ]+)(?: in (?P<file__path>[^ ]+))?$", "user ", **_iam("group", "change")),
        _p("group_changed", r"^(?P<accounts__change>members|administrators) of group (?P<group__name>[^ ]+) set by "
           r"(?P<user__name>[^ ]+) to (?P<accounts__new>.*?)(?: in (?P<file__path>/[^ ]+))?$", "", **_iam("group", "change")),
        _p("group_changed", r"^password of group (?P<group__name>[^ ]+) (?:changed|removed) by "
           r"(?P<user__name>[^ ]+)(?: in (?P<file__path>/[^ ]+))?$", "password of group ",
           constants={"accounts.change": "password"}, **_iam("group", "change")),
        _p("group_changed", r"^access to group (?P<group__name>[^ ]+) restricted by (?P<user__name>[^ ]+)"
           r"(?: in (?P<file__path>/[^ ]+))?$", "access to group ", constants={"accounts.change": "access"},
           **_iam("group", "change")),
        _p("group_change_failed", r"^(?P<user__name>[^ ]+) failed to (?:add|remove) user (?P<user__target__name>[^ ]+) "
           r"(?:to|from) group (?P<group__name>[^ ]+)(?: in (?P<file__path>/[^ ]+))?$", "",
           **_iam("group", "change", "failure")),
        _p("group_change_failed", r"^(?P<user__name>[^ ]+) failed to (?P<accounts__change>change password|remove password|"
           r"restrict access|set the administrators|set the members) of group (?P<group__name>[^ ]+)"
           r"(?: to (?P<accounts__new>.*?))?(?: in (?P<file__path>/[^ ]+))?$", "", **_iam("group", "change", "failure")),
    ],
)
