"""YAML and JSON loaders for text someone else wrote: bounded in size, nesting and expansion.

Why: `yaml.safe_load` refuses Python tags but still expands aliases, so ten lines of
"billion laughs" become a structure that walks (json.dumps, a rule compiler, a record
importer) never finish; and `json.loads` of a document nested 100,000 deep raises
RecursionError, which callers that catch ValueError let through and so abort a whole import.
Everything here raises `DocumentRefused`, a ValueError *and* a yaml.YAMLError, so every
existing `except ValueError` / `except yaml.YAMLError` around a loader still catches it.

* YAML: aliases are refused (an anchor alone expands nothing and is accepted), explicit tags
  outside the YAML core schema are refused, documents are capped in bytes and nodes; libyaml
  itself caps nesting at 1,000 levels. Parsing and composing stay in libyaml (fast), only the
  node graph is walked here, iteratively.
* YAML, `plain=True`: for small hand-written data (response playbooks) anchors and every
  explicit tag, core ones such as `!!set` and `!!binary` included, are refused too, before
  anything is composed (`UnsafeYaml`, which names the construct and its line).
* JSON: documents are capped in bytes and nesting depth, checked before parsing.

This is the one YAML loader for outside text in the project (scan policies, Sigma rules,
firewall health checks, advisories, playbooks); it lives in core so every layer can use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

MAX_DOCUMENT_BYTES = 64 << 20
MAX_NODES = 5_000_000
MAX_JSON_DEPTH = 200

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CORE = "tag:yaml.org,2002:"
_CORE_TAGS = frozenset(_CORE + t for t in (
    "str", "int", "float", "bool", "null", "map", "seq", "timestamp", "binary", "set", "omap", "pairs", "merge",
    "value",
))
_NOT_BRACKETS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[^\[\]{}"]+')  # strings and everything but brackets
_INNERMOST = re.compile(r"\[\]|\{\}")


class DocumentRefused(ValueError, yaml.YAMLError):
    """A document refused before or instead of being expanded (too big, too deep, aliases, tags)."""


class UnsafeYaml(DocumentRefused):
    """A YAML construct that is refused whatever the document's size: an alias, anchor or tag."""

    def __init__(self, what: str, line: int | None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{what} is not allowed")
        self.what = what
        self.line = line


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _check_size(text: str | bytes, max_bytes: int, what: str) -> None:
    if len(text) > max_bytes:
        raise DocumentRefused(f"{what} document of {len(text)} bytes is over the {max_bytes}-byte limit")


def _check_nodes(root: yaml.Node, max_nodes: int) -> None:
    """Refuse a node graph that shares a node (an alias), has an unknown explicit tag, or is too big."""
    seen: set[int] = set()
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise UnsafeYaml("a YAML alias", _line(node.start_mark))
        seen.add(id(node))
        if len(seen) > max_nodes:
            raise DocumentRefused(f"YAML document has more than {max_nodes} nodes")
        if node.tag not in _CORE_TAGS:
            raise UnsafeYaml(f"YAML tag {node.tag!r}", _line(node.start_mark))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack += (key, value)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def _check_plain(text: str | bytes) -> None:
    """Refuse any alias, anchor or explicit tag, from the event stream (nothing is composed yet)."""
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise UnsafeYaml(f"alias *{event.anchor}", _line(event.start_mark))
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise UnsafeYaml(f"anchor &{anchor}", _line(event.start_mark))
        tag = getattr(event, "tag", None)
        if tag is not None and isinstance(event, yaml.NodeEvent):
            raise UnsafeYaml(f"tag {tag}", _line(event.start_mark))


def safe_yaml_load_all(text: str | bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES,
                       max_nodes: int = MAX_NODES, plain: bool = False) -> Iterator[Any]:
    """Every document of a YAML stream, each checked before it is built (see module docstring)."""
    _check_size(text, max_bytes, "YAML")
    if plain:
        _check_plain(text)
    loader = _LOADER(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                yield None
                continue
            _check_nodes(node, max_nodes)
            yield loader.construct_document(node)
    except RecursionError as exc:  # the pure-Python composer (no libyaml) recurses per level
        raise DocumentRefused("YAML document nested too deeply") from exc
    finally:
        loader.dispose()


def safe_yaml_load(text: str | bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES, max_nodes: int = MAX_NODES) -> Any:
    """The single document of a YAML text (None for an empty one); more than one is an error."""
    docs = list(safe_yaml_load_all(text, max_bytes=max_bytes, max_nodes=max_nodes))
    if len(docs) > 1:
        raise DocumentRefused(f"expected one YAML document, found {len(docs)}")
    return docs[0] if docs else None


def json_depth(text: str, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings skipped).

    Each pass deletes every innermost `[]`/`{}` pair at C speed, so the passes count the depth;
    `stop_above` ends the count early for a document that is only being checked against a limit.
    """
    brackets = _NOT_BRACKETS.sub("", text)
    depth = 0
    while brackets:
        brackets, removed = _INNERMOST.subn("", brackets)
        if not removed:
            break  # unbalanced: the JSON parser will say where
        depth += 1
        if stop_above is not None and depth > stop_above:
            break
    return depth


def safe_json_loads(text: str | bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES,
                    max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads with a size cap and a nesting cap (DocumentRefused, never RecursionError).

    The depth is only measured when the text has more brackets than `max_depth` (a C-speed
    count), so ordinary small documents pay nothing for it.
    """
    _check_size(text, max_bytes, "JSON")
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")
    if text.count("[") + text.count("{") > max_depth and json_depth(text, stop_above=max_depth) > max_depth:
        raise DocumentRefused(f"JSON nested more than {max_depth} levels deep")
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise DocumentRefused("JSON nested too deeply") from exc
