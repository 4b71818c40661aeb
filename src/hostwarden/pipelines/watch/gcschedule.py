"""When `watch` lets Python's garbage collector walk the whole heap.

CPython's cyclic collector runs its oldest generation by itself whenever enough objects have
survived, and that pass walks every live container. A watch following a brute force holds
correlation windows of several hundred thousand objects, so each such pass stopped detection
for 0.3–0.8 s, several times a minute at 10,000 lines/s, and cost a fifth of its CPU.

Nothing on the hot path makes reference cycles (windows, entries and matches form trees; a
test holds that), so memory is freed by reference counting as windows slide, and the full
pass only matters for the rare cycle made elsewhere. Here it is taken off the automatic
trigger and run on a schedule instead: when watch has had nothing to read for `quiet_seconds`
(a steady stream leaves the loop idle for a poll now and then, which is no time for a pause of
half a second), at most every `idle_seconds`, and in any case every `max_seconds`. The young
generations collect as usual.
What exists when watch starts (rules, compiled matchers, imported modules) is frozen out of
the full pass; a rule reload thaws it so the old rule set can be reclaimed.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from types import TracebackType

YOUNG_THRESHOLD = 5000  # allocations between young collections (CPython's default is 700)
NEVER = 1 << 30  # an oldest-generation threshold no count reaches
QUIET_SECONDS = 1.0  # nothing read for this long: watch is idle, not between two polls


class GcSchedule:
    """A context manager: the schedule applies inside, the previous settings come back after."""

    def __init__(self, idle_seconds: float = 60.0, max_seconds: float = 1800.0, quiet_seconds: float = QUIET_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # injectable: a test must not depend on how loaded the machine is
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.quiet_seconds = quiet_seconds
        self.full_collections = 0
        self.last_pause = 0.0  # seconds the last scheduled full pass took
        self._saved: tuple[int, int, int] | None = None
        self._last = 0.0
        self._idle_since: float | None = None  # start of the current stretch with nothing to read

    def __enter__(self) -> GcSchedule:
        self._saved = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(YOUNG_THRESHOLD, 10, NEVER)
        self._last = self.clock()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        gc.unfreeze()
        if self._saved is not None:
            gc.set_threshold(*self._saved)

    def tick(self, *, idle: bool) -> bool:
        """Run the full pass if it is due; returns whether it ran."""
        now = self.clock()
        if not idle:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        quiet = self._idle_since is not None and now - self._idle_since >= self.quiet_seconds
        since = now - self._last
        if since < self.max_seconds and not (quiet and since >= self.idle_seconds):
            return False
        gc.collect()
        self._last = self.clock()
        self.last_pause = self._last - now
        self.full_collections += 1
        return True

    def thaw(self) -> None:
        """Let the next full pass see what was frozen at start (after a rule reload)."""
        gc.unfreeze()
