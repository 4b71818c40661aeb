"""The detection engine: rule matches → correlation windows → alerts.

Matches come either one event at a time (`feed`, the streaming path, evaluated by the compiled
Python matchers) or from the bulk executor (`on_match`, fed by `detect.batch` with the rows DuckDB
selected, in time order). Everything after the match — correlation, chaining, suppression — is
this one code path, so the two modes cannot disagree on what alerts a sequence produces.
"""

from __future__ import annotations

from typing import Any

from hostwarden.detect.alerts import AlertBook
from hostwarden.detect.correlate import Match, Window, epoch
from hostwarden.detect.ruleset import RuleSet
from hostwarden.schema import DEFAULT_TENANT


class Engine:
    def __init__(self, ruleset: RuleSet, *, suppress_window: float = 3600.0, tenant: str = DEFAULT_TENANT,
                 eager: bool = True) -> None:
        self.ruleset = ruleset
        self.book = AlertBook(suppress_window, tenant, eager=eager)
        self.windows: dict[str, Window] = {}
        self.listeners: dict[str, list[Window]] = {}
        for rule in ruleset.correlations:
            assert rule.correlation is not None
            refs = [ruleset.resolve(r) for r in rule.correlation.rules]
            ref_ids = [{ref, target.id, *( [target.name] if target.name else [])}
                       for ref, target in zip(rule.correlation.rules, refs, strict=True)]
            window = Window(rule, ref_ids)
            self.windows[rule.id] = window
            for target in refs:
                self.listeners.setdefault(target.id, []).append(window)

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Streaming: run every base rule on one event; returns alerts raised or updated."""
        out: list[dict[str, Any]] = []
        t = epoch(event.get("@timestamp"))
        for rule in self.ruleset.base_rules:
            if self.ruleset.checks[rule.id](event):
                out.extend(self.on_match(Match(rule, t, event)))
        self.book.follow_up(event, t)
        return out

    def on_match(self, m: Match) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if m.rule.id not in self.ruleset.silent:
            out.append(self.book.record(m))
        for window in self.listeners.get(m.rule.id, ()):
            for fired in window.add(m):
                out.extend(self.on_match(fired))
        return out

    def flush(self) -> list[dict[str, Any]]:
        """Judge windows that wait for their end (lt/lte conditions): at end of a batch."""
        out: list[dict[str, Any]] = []
        for window in list(self.windows.values()):
            for fired in window.flush():
                out.extend(self.on_match(fired))
        return out

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return self.book.finalize()
