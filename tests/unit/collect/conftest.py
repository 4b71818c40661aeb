"""A real journal for the journald tests: entries in journald's export format, written into a
`.journal` file by systemd-journal-remote and read back by the real journalctl."""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

JOURNAL_REMOTE = next((p for p in ("/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote")
                       if Path(p).exists()), None)
BOOT_ID = "0123456789abcdef0123456789abcdef"


def export_entry(fields: dict[str, str | bytes], realtime_us: int) -> bytes:
    """One entry in the journal export format (binary-safe fields get a length prefix)."""
    out = [b"__REALTIME_TIMESTAMP=%d\n" % realtime_us, b"__MONOTONIC_TIMESTAMP=%d\n" % (realtime_us % 10**9),
           b"_BOOT_ID=" + BOOT_ID.encode() + b"\n"]
    for key, value in fields.items():
        raw = value if isinstance(value, bytes) else value.encode()
        if b"\n" in raw or any(c > 127 or c < 32 for c in raw):
            out.append(key.encode() + b"\n" + struct.pack("<Q", len(raw)) + raw + b"\n")
        else:
            out.append(key.encode() + b"=" + raw + b"\n")
    return b"".join(out) + b"\n"


@pytest.fixture
def journal(tmp_path: Path) -> Callable[[list[dict[str, str | bytes]]], Path]:
    """`journal(entries)` appends entries to one journal file and returns its path."""
    if JOURNAL_REMOTE is None or shutil.which("journalctl") is None:
        pytest.skip("systemd-journal-remote/journalctl not installed (Makefile APT_PACKAGES installs them)")
    path = tmp_path / "journal" / "test.journal"
    path.parent.mkdir()
    clock = [1_764_300_000_000_000]

    def append(entries: list[dict[str, str | bytes]]) -> Path:
        blob = b""
        for fields in entries:
            clock[0] += 1_000_000
            blob += export_entry(fields, clock[0])
        subprocess.run([JOURNAL_REMOTE, f"--output={path}", "-"], input=blob, check=True, capture_output=True,
                       timeout=30)
        return path

    return append
