"""The parser interface every source module implements.

A parser turns raw lines into ECS field dicts. It never raises on bad input: a line it cannot
understand comes back as a `parse_failure` event with its raw text, so nothing is lost. The
pipeline (pipelines/ingest.py, and the store for columnar plans) adds the identity fields (`event.id`, `log.file.path`,
`organization.id`, `event.ingested`) so parsers stay small.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

from hostwarden.core.chunks import RawLine
from hostwarden.normalize.state import ParseState


@dataclass
class ParseContext:
    source: str = "-"  # file path, "-" for stdin, "journald"
    # Year-less syslog timestamps: the year of the file's mtime, with rollover handled.
    reference_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    tz: tzinfo = UTC  # zone of timestamps that carry none


class Parser(Protocol):
    dataset: str

    def sniff(self, lines: list[str]) -> float:
        """Share (0..1) of these sample lines this parser understands."""
        ...

    def parse_batch(self, lines: list[RawLine], ctx: ParseContext, state: ParseState | None = None) -> list[dict[str, Any]]:
        """One or more events per input line group; every input line is covered by some event.
        `state`: what the source's earlier chunks left (updated in place); None: this batch
        stands alone."""
        ...


class LineParser:
    """Base for parsers where one line is one event: implement `parse_line`."""

    dataset = "unknown"

    def parse_line(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        raise NotImplementedError

    def sniff(self, lines: list[str]) -> float:
        if not lines:
            return 0.0
        ctx = ParseContext()
        hits = sum(1 for line in lines if self._safe(line, ctx) is not None)
        return hits / len(lines)

    def _safe(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        try:
            return self.parse_line(text, ctx)
        except Exception:  # a parser bug on hostile input must not lose the line
            return None

    def parse_batch(self, lines: list[RawLine], ctx: ParseContext, state: ParseState | None = None) -> list[dict[str, Any]]:
        """One event per line; a line parser carries nothing between lines, so `state` is unused."""
        out = []
        for line in lines:
            ev = self._safe(line.text, ctx)
            if ev is None:
                ev = parse_failure(line, self.dataset)
            else:
                ev.setdefault("event.dataset", self.dataset)
                ev["log.offset"] = line.offset
                ev["event.original"] = line.text
                if line.tags:
                    ev["tags"] = sorted(set(ev.get("tags") or []) | set(line.tags))
            out.append(ev)
        return out


def parse_failure(line: RawLine, dataset: str = "unknown") -> dict[str, Any]:
    return {
        "event.kind": "event",
        "event.dataset": dataset,
        "event.original": line.text,
        "log.offset": line.offset,
        "message": line.text,
        "tags": sorted({"parse_failure", *line.tags}),
        "error.code": "LOG-4101",
    }


def batched(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
