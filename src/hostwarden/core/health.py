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
