"""Helpers shared by the response tests (imported by name: conftest puts this folder on sys.path)."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path
from typing import Any

from hostwarden.respond.playbook import Playbook, parse_playbook
from hostwarden.respond.settings import RespondSettings

SSH_FAST = "6b1f4f6e-1d0e-4c53-9a57-0f3d7c0a1003"


def script(path: Path, body: str) -> Path:
    """An executable shell script (the stand-in for a tool a test must not run for real)."""
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def playbook(text: str, settings: RespondSettings | None = None) -> Playbook:
    import yaml
    return parse_playbook(yaml.safe_load(textwrap.dedent(text)), "<test>", settings or RespondSettings())


def block_playbook(ttl: str = "1h", approval: str = "auto", action: str = "block_ip", pid: str = "test-block") -> str:
    return f"""
    id: {pid}
    trigger: {{rules: [{SSH_FAST}], grades: [L1, L2]}}
    actions:
      - {action}: {{field: source.ip, ttl: {ttl}}}
    approval: {approval}
    """


def alert(ip: str = "203.0.113.5", **extra: Any) -> dict[str, Any]:
    return {"event.id": f"alert-{ip}", "rule.id": SSH_FAST, "hostwarden.grade": "L2", "source.ip": ip, **extra}


def is_root() -> bool:
    return os.geteuid() == 0
