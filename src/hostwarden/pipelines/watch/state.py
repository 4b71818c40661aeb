"""Streaming detection state that outlives the process, and what `status` shows of it.

`watch` saves the engine's snapshot (open correlation windows, open alerts for suppression,
counters) in the store's key-value table, in the same transaction as the tail checkpoints of
the lines that built it. A restart therefore resumes exactly where the saved state stands:
lines read after the last save are read again (the store drops the repeated events by id) and
fed to the restored windows, so a brute force split across a restart still fires once, and an
alert raised before it is updated, not raised again.

The counters also go to a small JSON file beside the store, replaced atomically, because the
running `watch` holds the store's write lock and `status` must not wait for it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hostwarden.core.config import Config
from hostwarden.core.health import Component
from hostwarden.pipelines.watch.forked import dumps_in_child

STATE_KEY = "detect.watch.state"
STATUS_FILE = "detect-watch.json"


@dataclass
class WatchCounters:
    """What `status` shows about a `watch`: enough to see it is alive, bounded and current."""

    events: int = 0
    alerts: int = 0
    groups_open: int = 0
    max_groups: int = 0
    evictions: int = 0
    rules: int = 0
    ruleset_version: str = ""
    reloads: int = 0
    last_reload: float | None = None
    last_error: str | None = None
    saved: float | None = None
    running: bool = False
    pid: int = field(default_factory=os.getpid)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_state(store: Any) -> dict[str, Any] | None:
    saved = store.get_state(STATE_KEY)
    return saved if isinstance(saved, dict) else None


def save_state(store: Any, snapshot: Callable[[], dict[str, Any]], counters: WatchCounters) -> None:
    """Write the engine's snapshot, made by `snapshot` (an `Engine.capture`), inside the
    transaction that also saves the tail checkpoints. It is made and encoded in a forked child
    (`forked`): a large window state kept detection waiting for the interpreter lock."""
    saved = time.time()
    state = dumps_in_child(lambda: {"engine": snapshot(), "counters": counters.as_dict(), "saved": saved})
    store.put_state_json(STATE_KEY, state)


def write_status(data_dir: Path, counters: WatchCounters) -> None:
    """Replace the status file atomically (write beside it, then rename)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / STATUS_FILE
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(counters.as_dict(), default=str), encoding="utf-8")
    os.replace(tmp, target)


def read_status(data_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((data_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def status_component(cfg: Config) -> Any:
    """`hostwarden status` check (registered in status.EXTRA_CHECKS): the last `watch`'s
    counters; unhealthy while a rule reload is refused (CSA-5001). None if watch never ran."""

    data = read_status(cfg.data_dir)
    if data is None:
        return None
    running = bool(data.get("running")) and _alive(data.get("pid"))
    when = data.get("last_reload")
    reload_text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)) if when else "never"
    detail = (f"{'running' if running else 'stopped'}; {data.get('events', 0)} events, "
              f"{data.get('alerts', 0)} alerts; correlation groups {data.get('groups_open', 0)}/"
              f"{data.get('max_groups', 0)}, {data.get('evictions', 0)} evicted; "
              f"{data.get('rules', 0)} rules, version {data.get('ruleset_version') or '?'}, "
              f"last reload {reload_text}")
    error = data.get("last_error")
    if error:
        detail += f"; {error}"
    return Component("detect.watch", not error, detail)
