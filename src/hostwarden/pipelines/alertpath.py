"""Builds the alert path for a run: every stage's sink, found by convention, plus registered ones.

A stage offers a sink by having a `sink` module with `make_sink(ctx: SinkContext)` (and an
optional `SINK_ORDER`, lower first); nothing else needs to change to add one, so incidents and
response plug in from their own folder. Tests and embedders add theirs with `register_sink`.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from typing import Any

import hostwarden
from hostwarden.core.sink import AlertPath, AlertSink, SinkContext

SinkFactory = Callable[[SinkContext], AlertSink | None]
_REGISTERED: list[tuple[int, SinkFactory]] = []
DEFAULT_ORDER = 50


def register_sink(factory: SinkFactory, order: int = 100) -> Callable[[], None]:
    """Add a sink to every alert path built from now on; returns the function that removes it."""
    entry = (order, factory)
    _REGISTERED.append(entry)
    return lambda: _REGISTERED.remove(entry) if entry in _REGISTERED else None


def stage_sink_factories() -> list[tuple[int, SinkFactory]]:
    """`(order, make_sink)` of every hostwarden package that has a `sink` module."""
    found = []
    for info in pkgutil.iter_modules(hostwarden.__path__):
        if not info.ispkg:
            continue
        name = f"hostwarden.{info.name}.sink"
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        factory = getattr(module, "make_sink", None)
        if callable(factory):
            found.append((int(getattr(module, "SINK_ORDER", DEFAULT_ORDER)), factory))
    return found


def build_alert_path(ctx: SinkContext, *, on_notice: Callable[[dict[str, Any]], None] | None = None) -> AlertPath:
    factories = sorted(stage_sink_factories() + list(_REGISTERED), key=lambda e: e[0])
    sinks = [s for _, make in factories if (s := make(ctx)) is not None]
    return AlertPath(sinks, on_notice=on_notice)
