"""Where the built-in rule data lives: `rules/` at the repository root, or HOSTWARDEN_RULES_DIR."""

from __future__ import annotations

import os
from pathlib import Path


def rules_dir() -> Path:
    override = os.environ.get("HOSTWARDEN_RULES_DIR")
    if override:
        return Path(override)
    # src/hostwarden/scan/baseline/rules_dir.py → parents[4] is the checkout.
    return Path(__file__).resolve().parents[4] / "rules"
