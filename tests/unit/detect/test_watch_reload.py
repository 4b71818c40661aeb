"""Hot reload: a change swaps in a complete new rule set keeping unchanged windows; a broken
file is refused with CSA-5001 naming it, and the running set goes on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostwarden.core.errors import HostwardenError
from hostwarden.detect.engine import Engine
from hostwarden.pipelines.watch.reload import RuleReloader

from .test_watch_state import RULES, fail

EXTRA = """\
title: Root login
id: 00000000-0000-0000-0000-00000000000c
level: high
logsource: {product: linux, service: sshd}
detection:
  selection: {event.action: ssh_login, user.name: root}
  condition: selection
"""


def setup(tmp_path: Path) -> tuple[Path, RuleReloader, Engine]:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "pack.yml").write_text(RULES)
    reloader = RuleReloader([folder], interval=0.0)
    engine = Engine(reloader.load(), eager=False, streaming=True, max_groups=100)
    return folder, reloader, engine


def touch(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()  # make the change visible even within one mtime tick
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_unchanged_files_do_not_reload(tmp_path: Path) -> None:
    _, reloader, engine = setup(tmp_path)
    assert reloader.poll(engine.ruleset) is None
    assert reloader.reloads == 0


def test_reload_swaps_rules_and_keeps_unchanged_windows(tmp_path: Path) -> None:
    folder, reloader, engine = setup(tmp_path)
    version = reloader.version
    for i in range(3):
        engine.feed(fail(i, "203.0.113.20", i))
    touch(folder / "extra.yml", EXTRA)
    new = reloader.poll(engine.ruleset)
    assert new is not None and len(new.rules) == 3
    assert engine.swap(new) == 1
    assert engine.ruleset is new and reloader.version != version and reloader.last_reload is not None
    for i in range(3, 5):
        engine.feed(fail(i, "203.0.113.20", i))
    assert [a["rule.name"] for a in engine.book.drain_new()] == ["Brute force"]  # 3 before + 2 after


def test_changed_correlation_starts_empty(tmp_path: Path) -> None:
    folder, reloader, engine = setup(tmp_path)
    for i in range(3):
        engine.feed(fail(i, "203.0.113.21", i))
    touch(folder / "pack.yml", RULES.replace("gte: 5", "gte: 3"))
    new = reloader.poll(engine.ruleset)
    assert new is not None
    assert engine.swap(new) == 0
    assert engine.groups_open == 0
    for i in range(3, 5):
        engine.feed(fail(i, "203.0.113.21", i))
    assert engine.book.drain_new() == []  # only two failures under the new definition


@pytest.mark.parametrize("broken", [
    "title: [unclosed\n",
    RULES.replace("type: event_count", "type: value_percentile"),
    RULES.replace("rules: [auth_failure]", "rules: [no_such_rule]"),
])
def test_broken_file_is_refused_and_old_set_keeps_running(tmp_path: Path, broken: str) -> None:
    folder, reloader, engine = setup(tmp_path)
    old = engine.ruleset
    for i in range(3):
        engine.feed(fail(i, "203.0.113.22", i))
    touch(folder / "pack.yml", broken)
    with pytest.raises(HostwardenError) as info:
        reloader.poll(engine.ruleset)
    assert info.value.code.code == "CSA-5001"
    assert str(folder / "pack.yml") in info.value.message
    assert reloader.last_error is not None and "CSA-5001" in reloader.last_error
    assert engine.ruleset is old
    for i in range(3, 5):
        engine.feed(fail(i, "203.0.113.22", i))
    assert [a["rule.name"] for a in engine.book.drain_new()] == ["Brute force"]
    # fixing the file reloads and clears the error
    touch(folder / "pack.yml", RULES)
    assert reloader.poll(engine.ruleset) is not None
    assert reloader.last_error is None


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    folder, reloader, engine = setup(tmp_path)
    (folder / "pack.yml").unlink()
    folder.rmdir()
    with pytest.raises(HostwardenError) as info:
        reloader.poll(engine.ruleset)
    assert info.value.code.code == "CSA-5001" and str(folder) in info.value.message
