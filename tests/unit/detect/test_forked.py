"""The state encoder that runs in a forked child (watch's saves)."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hostwarden.pipelines.watch import forked
from hostwarden.pipelines.watch.forked import dumps_in_child
from hostwarden.pipelines.watch.storewriter import BACKGROUND_NICE, background_priority

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def test_same_text_as_json_dumps_made_in_another_process() -> None:
    value = {"when": datetime(2026, 11, 29, 4, 0, tzinfo=UTC), "n": [1, 2.5, None], "s": "ünï"}
    text = dumps_in_child(lambda: {**value, "pid": os.getpid()})
    decoded = json.loads(text)
    assert decoded["pid"] != os.getpid()  # made in the child
    assert text == json.dumps({**value, "pid": decoded["pid"]}, default=str)


def test_text_larger_than_a_pipe_buffer_arrives_whole() -> None:
    big = {"entries": [[i, i * 0.5, f"user{i}"] for i in range(200_000)]}
    text = dumps_in_child(lambda: big)
    assert len(text) > 4 * forked.READ_BYTES
    assert json.loads(text) == big


def test_parent_buffered_output_is_not_written_twice(tmp_path: Path) -> None:
    # The child inherits this unflushed buffer; leaving through os._exit, it never writes it.
    path = tmp_path / "out.txt"
    with path.open("w", buffering=1 << 16) as out:
        out.write("written once\n")
        dumps_in_child(lambda: [1])
    assert path.read_text() == "written once\n"


def test_child_failure_falls_back_to_this_process() -> None:
    parent = os.getpid()

    def make() -> dict[str, int]:
        if os.getpid() != parent:
            raise RuntimeError("only the child fails")
        return {"made_by": os.getpid()}

    assert json.loads(dumps_in_child(make)) == {"made_by": parent}


def test_an_error_of_make_itself_is_raised_here() -> None:
    def make() -> None:
        raise ValueError("broken state")

    with pytest.raises(ValueError, match="broken state"):
        dumps_in_child(make)


def test_without_fork_it_encodes_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "fork")
    assert json.loads(dumps_in_child(lambda: {"pid": os.getpid()})) == {"pid": os.getpid()}


def test_the_child_runs_at_the_lowered_priority_of_the_store_thread() -> None:
    seen: dict[str, int] = {}

    def store_thread() -> None:  # as watch's store thread: lowered once, then it saves
        background_priority()
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        seen["child"] = json.loads(dumps_in_child(lambda: os.getpriority(os.PRIO_PROCESS, 0)))

    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=store_thread)
    thread.start()
    thread.join()
    assert seen["thread"] == min(19, own + BACKGROUND_NICE)
    assert seen["child"] == seen["thread"]  # inherited, not lowered a second time
