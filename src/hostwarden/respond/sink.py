"""Response as a sink on the alert path: each alert is handed to the Responder, which runs the
matching playbooks' actions on its worker pool (the path never waits for an action).

Off unless asked for (`watch --respond`, or `[respond] enabled = true` in the configuration):
acting on alerts is a decision the operator takes, never a default. Early on the path (before
the store write) because a block should land within milliseconds of the line that triggered it.
"""

from __future__ import annotations

from collections.abc import Sequence

from hostwarden.core.records import Alert, Result
from hostwarden.core.sink import SinkContext
from hostwarden.respond.engine import Responder
from hostwarden.respond.settings import respond_settings

SINK_ORDER = 5


class ResponseSink:
    name = "respond"

    def __init__(self, responder: Responder) -> None:
        self.responder = responder

    def emit(self, results: Sequence[Result]) -> None:
        for r in results:
            if isinstance(r, Alert):
                self.responder.handle(r.to_ecs())

    def update(self, alerts: Sequence[Alert]) -> None:
        for a in alerts:  # a grown alert may now meet a playbook's condition; handle() is idempotent
            self.responder.handle(a.to_ecs())

    def close(self) -> None:
        self.responder.close()


def make_sink(ctx: SinkContext) -> ResponseSink | None:
    if ctx.data_dir is None:
        return None
    settings = respond_settings(dict(ctx.sections.get("respond") or {}), ctx.data_dir)
    if not (ctx.options.get("respond") or settings.enabled):
        return None
    responder = Responder(settings)
    responder.start()
    return ResponseSink(responder)
