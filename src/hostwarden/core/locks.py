"""Waiting with a bound: every lock and join in hostwarden gives up after a timeout.

The seed's failure story is a responder that deadlocked; a component that is stuck must show up
as an error naming it (CSA-5006), not hang everything that waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from hostwarden.core.errors import CSA_LOCK_TIMEOUT, HostwardenError

LOCK_SECONDS = 120.0  # far beyond any healthy hold (a store flush, a merge of segments)


class _Lock(Protocol):
    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...

    def release(self) -> None: ...


@contextmanager
def held(lock: _Lock, what: str, timeout: float = LOCK_SECONDS) -> Iterator[None]:
    """`with held(lock, "the store"):` — like `with lock:`, but CSA-5006 after `timeout` seconds."""
    if not lock.acquire(timeout=timeout):
        raise HostwardenError(CSA_LOCK_TIMEOUT, f"{what} was not free within {timeout:g}s: whoever holds it is stuck")
    try:
        yield
    finally:
        lock.release()


def join(thread: threading.Thread, what: str, timeout: float = LOCK_SECONDS) -> None:
    thread.join(timeout)
    if thread.is_alive():
        raise HostwardenError(CSA_LOCK_TIMEOUT, f"{what} did not stop within {timeout:g}s")
