"""What `hostwarden status` shows of one component: its name, whether it is healthy, and why.

A record type every stage can return without importing the status command that gathers them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Component:
    name: str
    healthy: bool
    detail: str
    # Healthy but missing something that limits it (no advisory database yet): shown as
    # "degraded" with how to fix it, without making `status` fail on a fresh install.
    degraded: bool = False
