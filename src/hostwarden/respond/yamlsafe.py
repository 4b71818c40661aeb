"""A YAML loader for playbooks that accepts plain data only.

`yaml.safe_load` still expands aliases (a "billion laughs" file grows without bound) and
honours explicit tags such as `!!binary` or `!!set`. Playbooks are small hand-written data,
so anchors, aliases and any explicit tag are refused with RESP-6003, and files are bounded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hostwarden.core.errors import RESP_PLAYBOOK_INVALID, RESP_PLAYBOOK_UNSAFE_YAML, HostwardenError

MAX_BYTES = 1 << 20


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader that stops at the first anchor, alias or explicit tag."""

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102 - PyYAML hook
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Forbidden("alias", event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Forbidden(f"anchor &{anchor}", event.start_mark)
        tag = getattr(event, "tag", None)
        if tag is not None and not isinstance(event, yaml.DocumentStartEvent):
            raise _Forbidden(f"tag {tag}", event.start_mark)
        return super().compose_node(parent, index)


class _Forbidden(Exception):
    def __init__(self, what: str, mark: Any) -> None:
        super().__init__(what)
        self.what = what
        self.mark = mark


def load_documents(text: str, source: str) -> list[Any]:
    """All documents of `text` (empty ones skipped) as plain Python data."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{source}: larger than {MAX_BYTES} bytes")
    try:
        return [d for d in yaml.load_all(text, Loader=_PlainLoader) if d is not None]  # noqa: S506 - plain loader
    except _Forbidden as exc:
        where = f"line {exc.mark.line + 1}" if exc.mark is not None else "?"
        raise HostwardenError(RESP_PLAYBOOK_UNSAFE_YAML, f"{source}: {where}: {exc.what} is not allowed") from exc
    except yaml.YAMLError as exc:
        raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{source}: not valid YAML: {exc}") from exc


def load_file(path: Path) -> list[Any]:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{path}: cannot read: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HostwardenError(RESP_PLAYBOOK_INVALID, f"{path}: not UTF-8 text") from exc
    return load_documents(text, str(path))
