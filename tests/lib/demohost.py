"""A private copy of examples/demo-host with the file modes `make run` applies (from
examples/demo-host.modes), for tests that scan the demo the way a new user does."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-host"
ADVISORIES = REPO / "examples" / "advisories"
MODES = REPO / "examples" / "demo-host.modes"


def demo_copy(dest: Path) -> Path:
    root = dest / "demo-host"
    shutil.copytree(DEMO, root, symlinks=True)
    for line in MODES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            mode, rel = line.split()
            os.chmod(root / rel, int(mode, 8))
    return root
