"""Test roots for the posture scanners, built from tests/fixtures/posture at test time.

Git keeps file contents only, so modes, owners and symlinks come from layout.yml. Owners need
root; `IS_ROOT` lets tests that depend on them skip elsewhere.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "posture"
IS_ROOT = os.geteuid() == 0


def build_root(variant: str, dest: Path) -> Path:
    shutil.copytree(FIXTURES / variant, dest, symlinks=True)
    layout = yaml.safe_load((FIXTURES / "layout.yml").read_text())[variant]
    for rel, target in (layout.get("symlinks") or {}).items():
        link = dest / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    for rel, mode in (layout.get("modes") or {}).items():
        os.chmod(dest / rel, int(mode, 8))
    if IS_ROOT:
        for rel, owner in (layout.get("owners") or {}).items():
            uid, gid = (int(x) for x in owner.split(":"))
            os.chown(dest / rel, uid, gid)
    return dest


@pytest.fixture(scope="session")
def posture_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("posture")
    return {v: build_root(v, base / v) for v in ("hardened", "weakened")}
