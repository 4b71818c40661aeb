"""Keep a scan under a CPU budget by pacing it, and time its parts.

The seed's agent promises at most 35 % of one core. A scanner calls `tick()` between units of
work; when its thread has used more CPU than `cap × wall time`, the pacer sleeps just long enough
to get back under. Thread CPU time is used because scanners run in worker threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DEFAULT_CAP = 0.35


class Pacer:
    def __init__(self, cap: float | None = DEFAULT_CAP, check_every: int = 32) -> None:
        self.cap = cap if cap and 0 < cap < 1 else None
        self.check_every = check_every
        self._n = 0
        self._wall0 = time.monotonic()
        self._cpu0 = time.thread_time()
        self.slept = 0.0
        self.timings: dict[str, float] = {}

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Pacer:
        return cls(float(options.get("cpu_cap", DEFAULT_CAP)))

    def tick(self) -> None:
        self._n += 1
        if self.cap is None or self._n % self.check_every:
            return
        cpu = time.thread_time() - self._cpu0
        wall = time.monotonic() - self._wall0
        owed = cpu / self.cap - wall
        if owed > 0.001:
            time.sleep(owed)
            self.slept += owed

    def usage(self) -> float:
        wall = time.monotonic() - self._wall0
        return (time.thread_time() - self._cpu0) / wall if wall > 0 else 0.0

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.monotonic() - started, 3)

    def report(self) -> dict[str, Any]:
        return {"cpu_cap": self.cap, "cpu_share": round(self.usage(), 3), "slept_s": round(self.slept, 3),
                "parts_s": dict(self.timings)}
