"""The response actions, by the name playbooks use."""

from __future__ import annotations

from hostwarden.respond.actions.base import Action, ActionContext, ActionParams, Plan, Target
from hostwarden.respond.actions.firewall import BlockIp, IsolateHost
from hostwarden.respond.actions.notify import Notify
from hostwarden.respond.actions.process import KillProcess
from hostwarden.respond.actions.quarantine import QuarantineFile
from hostwarden.respond.actions.users import DisableUser
from hostwarden.respond.actions.waf import WafDeny

ACTION_TYPES: dict[str, type[Action]] = {
    a.name: a for a in (BlockIp, WafDeny, KillProcess, QuarantineFile, DisableUser, IsolateHost, Notify)
}

__all__ = ["ACTION_TYPES", "Action", "ActionContext", "ActionParams", "Plan", "Target"]
