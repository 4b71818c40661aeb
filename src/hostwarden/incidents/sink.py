"""Incidents as a sink on the alert path: every alert joins (or opens) an incident, which is
graded and stored (`event.kind=incident`, one row per incident, replaced as it grows).

In a batch (ingest, scan) incidents are written once, when the path closes; in `watch` an
incident is written as soon as it is opened or raised to a more urgent grade, and the rest on
the next state save (`update`), so a restarted watch finds its open incidents in the store.
Configuration: `[incidents] enabled = true`, `policy = "path.yml"`, `attack_data = "bundle.json"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from hostwarden.core.records import Alert, Result
from hostwarden.core.sink import SinkContext
from hostwarden.incidents.correlate import IncidentBook
from hostwarden.incidents.model import Incident
from hostwarden.incidents.policy import load_policy
from hostwarden.report.terminal import inert

SINK_ORDER = 60  # after the store: an incident names alerts the store already holds
RESTORE_SQL = ('SELECT * FROM events WHERE "event.kind" = \'incident\' AND "organization.id" = ? '
               'AND "hostwarden.incident.status" = \'open\' ORDER BY "@timestamp" DESC LIMIT 10000')


class IncidentSink:
    name = "incidents"

    def __init__(self, book: IncidentBook, ctx: SinkContext) -> None:
        self.book = book
        self.ctx = ctx
        self.streaming = ctx.mode == "watch"
        self.out: TextIO | None = ctx.out if ctx.fmt == "text" else None
        self._dirty: dict[str, Incident] = {}
        self._shown: dict[str, int] = {}  # incident id → grade rank last printed
        self.touched: dict[str, Incident] = {}  # every incident this run opened or changed
        self._restored = False

    def emit(self, results: Sequence[Result]) -> None:
        alerts = [r for r in results if isinstance(r, Alert)]
        if alerts:
            self._restore()
            self._changed(self.book.add(alerts))

    def update(self, alerts: Sequence[Alert]) -> None:
        self._restore()
        self._changed(self.book.update(alerts))
        self._flush()

    def _restore(self) -> None:
        """Open incidents of earlier runs, read once, on first use: the store is not opened at
        all by a run that raises no alert (and a scan's scanners have it to themselves first)."""
        if self._restored:
            return
        self._restored = True
        if self.ctx.store_read is not None:
            self.book.restore(Incident.from_ecs(r) for r in self.ctx.store_read(RESTORE_SQL, [self.ctx.tenant]))

    def close(self) -> None:
        self._flush()

    def _changed(self, incidents: list[Incident]) -> None:
        urgent = []
        for inc in incidents:
            new = inc.id not in self.touched
            before = self._shown.get(inc.id)
            self.touched[inc.id] = inc
            self._dirty[inc.id] = inc
            if new or (before is not None and inc.grade.rank < before):
                urgent.append(inc)
        if self.streaming and urgent:
            self._say(urgent)
            self._flush()

    def _say(self, incidents: list[Incident]) -> None:
        lines = []
        for inc in incidents:
            if self._shown.get(inc.id) == inc.grade.rank:
                continue
            self._shown[inc.id] = inc.grade.rank
            lines.append(inert(f"INCIDENT {inc.grade.value} {inc.priority} {inc.title()} [{inc.id}]") + "\n")
        if self.out is not None and lines:
            self.out.write("".join(lines))
            self.out.flush()

    def _flush(self) -> None:
        if self._dirty and self.ctx.store_replace is not None:
            self.ctx.store_replace([inc.to_ecs() for inc in self._dirty.values()])
        self._dirty.clear()


def make_sink(ctx: SinkContext) -> IncidentSink | None:
    section: dict[str, Any] = dict(ctx.sections.get("incidents") or {})
    if not section.get("enabled", True):
        return None
    policy = load_policy(Path(section["policy"]) if section.get("policy") else None)
    return IncidentSink(IncidentBook(policy, ctx.tenant), ctx)
