"""Playbook YAML as plain data only, through the project's one safe loader (core/safeload.py).

`yaml.safe_load` still expands aliases (a "billion laughs" file grows without bound) and
honours explicit tags such as `!!binary` or `!!set`. Playbooks are small hand-written data,
so anchors, aliases and any explicit tag are refused with RESP-6003 (the loader's `plain`
mode), and files are bounded; anything else wrong with a file is RESP-6002.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hostwarden.core.errors import RESP_PLAYBOOK_INVALID, RESP_PLAYBOOK_UNSAFE_YAML, HostwardenError
from hostwarden.core.safeload import DocumentRefused, UnsafeYaml, safe_yaml_load_all
from hostwarden.scan.safefiles import read_regular_file

MAX_BYTES = 1 << 20


def load_documents(text: str, source: str) -> list[Any]:
    """All documents of `text` (empty ones skipped) as plain Python data."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{source}: larger than {MAX_BYTES} bytes")
    try:
        return [d for d in safe_yaml_load_all(text, max_bytes=MAX_BYTES, plain=True) if d is not None]
    except UnsafeYaml as exc:
        where = f"line {exc.line}" if exc.line is not None else "?"
        raise HostwardenError(RESP_PLAYBOOK_UNSAFE_YAML, f"{source}: {where}: {exc.what} is not allowed") from exc
    except DocumentRefused as exc:
        raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{source}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{source}: not valid YAML: {exc}") from exc


def load_file(path: Path) -> list[Any]:
    try:  # regular files only, never blocking (a FIFO named as a playbook would wait for ever)
        raw = read_regular_file(path, MAX_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{path}: not UTF-8 text") from exc
    return load_documents(text, str(path))
