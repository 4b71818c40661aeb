"""Run `hostwarden watch` in-process on files until it has read a number of events, then stop it
the way Ctrl-C does, for tests that compare what watch stored or printed."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

from hostwarden.core.config import Config
from hostwarden.pipelines.watch.runtime import Watch


def watch_until(cfg: Config, files: list[Path], events: int, *, seconds: float = 120) -> str:
    """What watch printed, once it counted `events` events (or `seconds` passed); it must stop."""
    out, stop = io.StringIO(), threading.Event()
    w = Watch(cfg, [str(p) for p in files], out=out, err=io.StringIO(), poll_seconds=0.01)
    runner = threading.Thread(target=w.run, args=(stop,))
    runner.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and getattr(getattr(w, "counters", None), "events", 0) < events:
        time.sleep(0.05)
    stop.set()
    runner.join(timeout=seconds)
    assert not runner.is_alive(), "watch did not stop"
    return out.getvalue()
