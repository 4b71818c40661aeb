"""JSON for a large state, encoded in a forked child so that detection keeps the interpreter.

`watch` saves its correlation windows every few seconds. Turning tens of thousands of window
entries into JSON is pure Python (and `json.dumps` holds the interpreter lock from start to end),
so done on the store thread it stalled the detecting thread for up to a second at every save:
the slowest alerts of a stream were exactly those behind a save. A forked child gets a
copy-on-write image of the captured state and its own interpreter lock; it encodes and writes
the text into a pipe, and the store thread waits for it without holding the lock. (Redis saves
its dataset the same way, for the same reason.)

The child runs only `make` and the encoder: no lock another thread may have held at the fork,
no store connection, no buffered output (it leaves with `os._exit`). It inherits the priority
of the thread that forks it: watch's store thread, already lowered (`sink.background_priority`).
Where `fork` is missing or the child fails, the same text is made in this process instead:
slower, never lost.
"""

from __future__ import annotations

import gc
import json
import os
import warnings
from collections.abc import Callable
from typing import Any

READ_BYTES = 1 << 20
# Python 3.12 warns on any fork of a threaded process; the child here touches none of the
# other threads' locks (see above), which is the case the warning cannot see.
warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks", category=DeprecationWarning)


def dumps_in_child(make: Callable[[], Any]) -> str:
    """`json.dumps(make(), default=str)`, computed in a forked child when possible."""
    if not hasattr(os, "fork"):
        return _dumps(make)
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return _dumps(make)
    if pid == 0:  # the child: encode, write, leave without running any of the parent's exit code
        os.close(read_end)
        _child(make, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        pieces = list(iter(lambda: pipe.read(READ_BYTES), b""))  # blocking reads release the lock
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return _dumps(make)  # the child's failure, whatever it was, is met again here and raised
    return b"".join(pieces).decode("utf-8")


def _child(make: Callable[[], Any], fd: int) -> None:
    code = 1
    try:
        gc.disable()  # the image is thrown away: collecting would only copy pages
        data = _dumps(make).encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        code = 0
    finally:
        os._exit(code)


def _dumps(make: Callable[[], Any]) -> str:
    return json.dumps(make(), default=str)
