"""Fixtures for the response tests: settings under a temp data dir, responders that are closed
after the test, and a stand-in tool that records its calls (a real script, run as a process)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from respond_helpers import script  # noqa: E402

from hostwarden.respond.engine import Responder  # noqa: E402
from hostwarden.respond.playbook import Playbook  # noqa: E402
from hostwarden.respond.settings import RespondSettings, respond_settings  # noqa: E402


@pytest.fixture
def recorder(tmp_path: Path) -> tuple[Path, Path]:
    """(tool, log): a script that appends its arguments and stdin to `log` and succeeds."""
    log = tmp_path / "calls.log"
    tool = script(tmp_path / "fake-tool", f'echo "ARGS $*" >> {log}\ncat >> {log}\necho >> {log}\n')
    return tool, log


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., RespondSettings]:
    def make(**section: Any) -> RespondSettings:
        section.setdefault("builtin_playbooks", False)
        section.setdefault("audit_fsync", False)
        return respond_settings(section, tmp_path / "data")
    return make


@pytest.fixture
def make_responder() -> Iterator[Callable[..., Responder]]:
    made: list[Responder] = []

    def make(settings: RespondSettings, playbooks: list[Playbook], **kw: Any) -> Responder:
        kw.setdefault("host_addresses", [])
        r = Responder(settings, playbooks, **kw)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()
