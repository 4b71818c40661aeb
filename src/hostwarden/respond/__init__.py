"""Response: playbooks turn alerts into actions (block, deny, kill, quarantine, disable,
isolate, notify), each planned, allowlist-checked, rate-capped, audited and reversible.

The public API (what the CLI and the alert-path adapter use):

    settings = respond_settings(config.extra.get("respond"), config.data_dir)
    responder = Responder(settings)          # loads playbooks, builds the allowlist
    responder.start()                        # restore state: expire / re-assert; expiry timer
    responder.handle(alert)                  # an alert as a flat ECS mapping → [Outcome]
    responder.list_actions(); responder.approve(id); responder.reject(id); responder.undo(id)
    responder.dry_run(playbook_id, alert)
    verify_audit(path)                       # → Verdict(ok, records, line, seq, problem)
    responder.close()
"""

from __future__ import annotations

from hostwarden.respond.audit import Verdict
from hostwarden.respond.audit import verify as verify_audit
from hostwarden.respond.engine import Responder
from hostwarden.respond.outcome import Outcome
from hostwarden.respond.playbook import Playbook, load_playbooks
from hostwarden.respond.settings import RespondSettings, respond_settings

__all__ = ["Outcome", "Playbook", "RespondSettings", "Responder", "Verdict", "load_playbooks",
           "respond_settings", "verify_audit"]
