"""The store as a sink on the alert path: alerts and findings become rows beside the events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hostwarden.core.records import Result
from hostwarden.core.schema import to_arrow
from hostwarden.core.sink import SinkContext
from hostwarden.store.eventstore import EventStore

SINK_ORDER = 50  # after the printer (an alert is shown before the slow write), before the rest


class StoreResults:
    name = "store"
    critical = True  # a result the store did not take must not pass unnoticed

    def __init__(self, append: Callable[[list[dict[str, Any]]], int]) -> None:
        self.append = append
        self.stored = 0

    def emit(self, results: Sequence[Result]) -> None:
        self.stored += self.append([r.to_ecs() for r in results])


def appender(store: EventStore, tenant: str) -> Callable[[list[dict[str, Any]]], int]:
    """A `SinkContext.store_append` that writes straight into an open store, one append per
    source (alerts and findings each have their own `log.file.path`, the scope of dedupe)."""

    def append(records: list[dict[str, Any]]) -> int:
        by_source: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            by_source.setdefault(str(r.get("log.file.path") or ""), []).append(r)
        return sum(store.append(to_arrow(rs), source=src or None, tenant=tenant) for src, rs in by_source.items())

    return append


def replacer(store: EventStore, tenant: str) -> Callable[[list[dict[str, Any]]], None]:
    """A `SinkContext.store_replace` for an open store."""
    return lambda rows: None if not rows else store.replace(to_arrow(rows), tenant=tenant) and None


def reader(store: EventStore) -> Callable[[str, list[Any]], list[dict[str, Any]]]:
    """A `SinkContext.store_read` for an open store."""
    return lambda sql, params: store.query_arrow(sql, params).to_pylist()


def bind(ctx: SinkContext, store: EventStore, tenant: str) -> SinkContext:
    """Point a sink context's store functions at an open store."""
    ctx.store_append, ctx.store_replace, ctx.store_read = appender(store, tenant), replacer(store, tenant), reader(store)
    return ctx


def make_sink(ctx: SinkContext) -> StoreResults | None:
    return StoreResults(ctx.store_append) if ctx.store_append is not None else None
