"""disable_user: lock the password and expire the account; undo puts the shadow entry back.

`usermod -L -e 1` prefixes the password hash with `!` and sets the expiry to day 1 (so key-
based logins stop too). The whole /etc/shadow line is recorded before and after. Undo first
checks that the line is still what we left (if someone changed the account meanwhile, it
refuses with RESP-6016 rather than overwrite their change), then restores the hash with
`chpasswd -e` (through stdin: a hash in argv would be visible in /proc to every user) and the
last-change and expiry days with `chage -d/-E`, and verifies the line is exactly the old one.
The system root is configurable (`-R ROOT`), so tests work on a copy of /etc.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hostwarden.core.errors import RESP_RESTORE_CONFLICT, RESP_TARGET_INVALID, HostwardenError
from hostwarden.respond.actions.base import Action, ActionContext, Plan, Target
from hostwarden.respond.runner import Command
from hostwarden.respond.settings import UserSettings


def shadow_line(root: Path, user: str) -> str:
    """The /etc/shadow line of `user` under `root`; RESP-6009 if there is none."""
    shadow = Path(root) / "etc" / "shadow"
    try:
        text = shadow.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise HostwardenError(RESP_TARGET_INVALID, f"cannot read {shadow}: {exc.strerror}") from exc
    for line in text.splitlines():
        if line.split(":", 1)[0] == user:
            return line
    raise HostwardenError(RESP_TARGET_INVALID, f"no account {user!r} in {shadow}")


def _root_args(users: UserSettings) -> list[str]:
    return [] if Path(users.root) == Path("/") else ["-R", str(users.root)]


class DisableUser(Action):
    name = "disable_user"
    target_kind = "user"
    default_field = "user.name"
    default_approval = "manual"

    def plan(self, target: Target, params: Any) -> Plan:
        users = self.settings.users
        shadow_line(users.root, target.value)  # RESP-6009 now if there is no such account
        lock = Command([*users.usermod, *_root_args(users), "-L", "-e", "1", target.value])
        return Plan(self.name, target, params.model_dump(), f"lock and expire account {target.value}",
                    steps=[lock.display(), "record the shadow entry before and after (undo restores it exactly)"],
                    commands=[lock], ttl=params.ttl, facts={"root": str(users.root)})

    def apply(self, plan: Plan, ctx: ActionContext) -> dict[str, Any]:
        root = Path(plan.facts["root"])
        before = shadow_line(root, plan.target.value)
        ctx.run(plan.commands[0])
        return {"before": before, "after": shadow_line(root, plan.target.value), "root": str(root)}

    def undo(self, plan: Plan, undo: dict[str, Any], ctx: ActionContext) -> None:
        users = ctx.settings.users.model_copy(update={"root": Path(undo["root"])})
        user = plan.target.value
        now = shadow_line(users.root, user)
        if now == undo["before"]:
            return  # already as it was
        if now != undo["after"]:
            raise HostwardenError(RESP_RESTORE_CONFLICT, f"account {user} was changed after it was disabled; "
                                  "restore it by hand (the recorded entry is in the audit log)")
        fields = undo["before"].split(":")
        root = _root_args(users)
        ctx.run(Command([*users.chpasswd, *root, "-e"], f"{user}:{fields[1]}\n"))
        ctx.run(Command([*users.chage, *root, "-d", fields[2] or "-1", "-E", fields[7] or "-1", user]))
        restored = shadow_line(users.root, user)
        if restored != undo["before"]:
            raise HostwardenError(RESP_RESTORE_CONFLICT, f"account {user}: shadow entry after undo differs from the "
                                  "recorded one; check it by hand")

    def reassert(self, plan: Plan, undo: dict[str, Any], ctx: ActionContext, remaining: float | None) -> dict[str, Any]:
        return undo  # the lock is on disk; nothing to redo
