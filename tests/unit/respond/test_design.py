"""The safety rules that hold by construction, checked on the source: actions reach the host only
through the context the responder hands them, never delete, never call one another, and every
response error code is registered with a cause and a fix."""

from __future__ import annotations

import ast
from pathlib import Path

import hostwarden.respond as respond
from hostwarden.core.errors import catalog

ACTIONS = Path(respond.__file__).parent / "actions"
FORBIDDEN_CALLS = {("os", "remove"), ("os", "unlink"), ("os", "rmdir"), ("os", "removedirs"), ("shutil", "rmtree"),
                   ("os", "system"), ("os", "popen"), ("os", "truncate")}


def _modules() -> list[Path]:
    return sorted(p for p in ACTIONS.glob("*.py") if p.name != "__init__.py")


def test_actions_run_no_process_and_delete_nothing_themselves() -> None:
    for path in _modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                assert "subprocess" not in names, f"{path.name} imports subprocess: use ctx.run"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
                assert (owner, node.func.attr) not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} {owner}.{node.func.attr}"
                assert node.func.attr not in ("unlink", "rmdir", "rmtree"), f"{path.name}:{node.lineno} {node.func.attr}"


def test_actions_never_import_one_another() -> None:
    for path in _modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hostwarden.respond.actions"):
                assert node.module == "hostwarden.respond.actions.base", f"{path.name} imports {node.module}"


def test_only_the_responder_calls_apply_and_undo() -> None:
    package = Path(respond.__file__).parent
    for path in package.rglob("*.py"):
        if path.parent == ACTIONS or path.name == "engine.py":
            continue
        text = path.read_text()
        assert ".apply(" not in text and ".undo(plan" not in text, path


def test_response_error_codes_are_registered_with_cause_and_fix() -> None:
    codes = [e for e in catalog() if e.code.startswith("RESP-")]
    assert len(codes) >= 20
    for e in codes:
        assert e.title and e.cause.endswith(".") and e.fix.endswith(".")
