"""The terminal/JSON printer as a sink on the alert path: each alert is printed and flushed the
moment it is emitted (first on the path: a person watching must not wait for the store write).
Findings are not printed one by one: a scan prints its whole report at the end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from hostwarden.core.records import Alert, Result
from hostwarden.core.sink import SinkContext
from hostwarden.report.alertline import alert_line

SINK_ORDER = 0


class AlertPrinter:
    name = "printer"

    def __init__(self, out: TextIO, fmt: str = "text") -> None:
        self.out, self.fmt = out, fmt

    def emit(self, results: Sequence[Result]) -> None:
        lines = [alert_line(r, self.fmt) + "\n" for r in results if isinstance(r, Alert)]
        if not lines:
            return
        try:
            self.out.write("".join(lines))
            self.out.flush()
        except BrokenPipeError:  # the reader went away (`watch | head`): nothing left to do
            raise SystemExit(0) from None


def make_sink(ctx: SinkContext) -> AlertPrinter | None:
    return AlertPrinter(ctx.out, ctx.fmt) if ctx.out is not None else None
