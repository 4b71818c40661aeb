"""The alert path: one way out for every alert and finding, whichever pipeline produced it.

Ingest, watch and scan hand their results to an `AlertPath`; the path hands each batch to every
sink on it (the store, the terminal printer, incidents, response, a test recorder …). A sink is
anything with `emit`; `update` (an open alert's count or evidence grew) and `close` are optional.

One sink's failure never keeps a batch from the others: a sink that must not fail silently
(the store: losing results is not an option) says `critical = True`, and its error is raised
once every other sink has had the batch; any other sink's error becomes a notice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

from hostwarden.core.errors import CSA_SINK_FAILED
from hostwarden.core.records import Alert, Finding, Result, alerts_of, findings_of


@runtime_checkable
class AlertSink(Protocol):
    name: str

    def emit(self, results: Sequence[Result]) -> None: ...


@dataclass
class SinkContext:
    """What a sink factory (`make_sink(ctx)` in a stage's `sink` module) may use to build its sink.

    A factory returns None when its sink has nothing to do in this run (no printer for a JSON
    report, no store without a data dir)."""

    mode: str  # "ingest", "watch" or "scan"
    tenant: str = "default"
    data_dir: Path | None = None
    # Stores ECS records (event.kind alert or finding) and returns how many were new; the pipeline
    # decides how (directly, or queued behind the events they name on watch's store thread).
    store_append: Callable[[list[dict[str, Any]]], int] | None = None
    # Stores rows that change as they grow (incidents), each replacing its earlier version.
    store_replace: Callable[[list[dict[str, Any]]], None] | None = None
    # Reads stored rows (sql, params) → dicts: a sink restoring its state (open incidents).
    store_read: Callable[[str, list[Any]], list[dict[str, Any]]] | None = None
    out: TextIO | None = None  # where a printer writes; None: nothing is printed per result
    fmt: str = "text"
    sections: Mapping[str, Any] = field(default_factory=dict)  # config sections by name ([respond], …)
    options: Mapping[str, Any] = field(default_factory=dict)  # per-run switches (e.g. respond=True)


class RecordingSink:
    """Keeps everything it is given: for tests, and for callers that want the results back."""

    name = "recorder"

    def __init__(self) -> None:
        self.results: list[Result] = []
        self.updates: list[Alert] = []
        self.closed = False

    def emit(self, results: Sequence[Result]) -> None:
        self.results.extend(results)

    def update(self, alerts: Sequence[Alert]) -> None:
        self.updates.extend(alerts)

    def close(self) -> None:
        self.closed = True

    @property
    def alerts(self) -> list[Alert]:
        return alerts_of(self.results)

    @property
    def findings(self) -> list[Finding]:
        return findings_of(self.results)


class AlertPath:
    """Fans each batch out to its sinks, in order (a printer first: it must not wait for the store)."""

    def __init__(self, sinks: Iterable[AlertSink] = (), *, on_notice: Callable[[dict[str, Any]], None] | None = None):
        self.sinks: list[AlertSink] = list(sinks)
        self.notices: list[dict[str, Any]] = []
        self._on_notice = on_notice

    def add(self, sink: AlertSink) -> None:
        self.sinks.append(sink)

    def emit(self, results: Sequence[Result]) -> None:
        if results:
            self._each("emit", list(results))

    def update(self, alerts: Sequence[Alert]) -> None:
        if alerts:
            self._each("update", list(alerts))

    def close(self) -> None:
        self._each("close")

    def _each(self, method: str, *args: Any) -> None:
        failed: BaseException | None = None
        for sink in self.sinks:
            call = getattr(sink, method, None)
            if call is None:
                continue
            try:
                call(*args)
            except Exception as exc:  # one sink's bug must not keep the batch from the others
                if getattr(sink, "critical", False):
                    failed = failed or exc
                    continue
                self._notice({"code": CSA_SINK_FAILED.code,
                              "message": f"sink {sink.name} failed in {method}: {type(exc).__name__}: {exc}",
                              "sink": sink.name})
        if failed is not None:
            raise failed

    def _notice(self, notice: dict[str, Any]) -> None:
        self.notices.append(notice)
        if self._on_notice is not None:
            self._on_notice(notice)
