"""The layer contract is real: the project keeps it, and a wrong-way import breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                              "sys.exit(lint_imports_command())", "--no-cache"]


def _lint(src: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(LINT, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "src" / "hostwarden", tmp_path / "src" / "hostwarden",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path / "src"


def test_the_tree_keeps_the_contract(tmp_path: Path) -> None:
    src = _copy(tmp_path)
    done = _lint(src, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_a_stage_importing_a_pipeline_breaks_it(tmp_path: Path) -> None:
    src = _copy(tmp_path)
    schema = src / "hostwarden" / "core" / "schema.py"
    schema.write_text(schema.read_text() + "\nfrom hostwarden.pipelines import ingest  # noqa\n")
    done = _lint(src, tmp_path)
    assert done.returncode != 0
    assert "hostwarden.core.schema -> hostwarden.pipelines.ingest" in done.stdout


def test_sibling_stages_may_not_know_each_other(tmp_path: Path) -> None:
    src = _copy(tmp_path)
    vuln = src / "hostwarden" / "scan" / "vuln" / "match.py"
    vuln.write_text(vuln.read_text() + "\nimport hostwarden.detect.engine  # noqa\n")
    done = _lint(src, tmp_path)
    assert done.returncode != 0 and "hostwarden.scan.vuln.match -> hostwarden.detect.engine" in done.stdout
