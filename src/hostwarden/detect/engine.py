"""The detection engine: rule matches → correlation windows → alerts.

Matches come either one event at a time (`feed`, the streaming path, evaluated by the compiled
Python matchers) or from the bulk executor (`on_match`, fed by `detect.batch` with the rows DuckDB
selected, in time order). Everything after the match — correlation, chaining, suppression — is
this one code path, so the two modes cannot disagree on what alerts a sequence produces.

Streaming (`watch`) runs for months, so there the state is bounded: at most `max_groups` open
correlation groups over all windows (the least recently used one is evicted and counted), groups
whose entries all left their window are dropped by `expire`, and the alert book forgets alerts
past suppression. `snapshot`/`restore` carry the state across a restart and `swap` across a
rule reload, keeping the windows of correlations whose definition did not change.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any

from hostwarden.core.schema import DEFAULT_TENANT
from hostwarden.detect.alerts import AlertBook
from hostwarden.detect.correlate import Match, Window, epoch
from hostwarden.detect.dispatch import Dispatch
from hostwarden.detect.ir import Rule
from hostwarden.detect.ruleset import RuleSet


def rule_signature(ruleset: RuleSet, rule: Rule) -> str:
    """What a correlation's saved windows depend on: its own definition and the rules it reads
    (their order gives the ref indexes stored in each entry). Where a rule lives is not part."""
    parts = [repr(dataclasses.replace(rule, source="", samples={}))]
    if rule.correlation is not None:
        for ref in rule.correlation.rules:
            target = ruleset.by_ref.get(ref)
            parts.append(repr(dataclasses.replace(target, source="", samples={})) if target else ref)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


class Engine:
    def __init__(self, ruleset: RuleSet, *, suppress_window: float = 3600.0, tenant: str = DEFAULT_TENANT,
                 eager: bool = True, max_groups: int | None = None, streaming: bool = False) -> None:
        self.book = AlertBook(suppress_window, tenant, eager=eager, streaming=streaming)
        self.max_groups = max_groups
        self.evictions = 0
        self.ruleset = ruleset
        self.windows: dict[str, Window] = {}
        self.signatures: dict[str, str] = {}
        self.listeners: dict[str, list[Window]] = {}
        self._build(ruleset, {})

    def _build(self, ruleset: RuleSet, keep: dict[str, Window]) -> None:
        windows: dict[str, Window] = {}
        listeners: dict[str, list[Window]] = {}
        signatures: dict[str, str] = {}
        for rule in ruleset.correlations:
            assert rule.correlation is not None
            refs = [ruleset.resolve(r) for r in rule.correlation.rules]
            signatures[rule.id] = rule_signature(ruleset, rule)
            window = keep.get(rule.id)
            if window is None:
                ref_ids = [{ref, target.id, *([target.name] if target.name else [])}
                           for ref, target in zip(rule.correlation.rules, refs, strict=True)]
                window = Window(rule, ref_ids)
            else:
                window.rule = rule  # equal definition; the new object carries the new source path
            windows[rule.id] = window
            for target in refs:
                listeners.setdefault(target.id, []).append(window)
        self.ruleset, self.windows, self.listeners, self.signatures = ruleset, windows, listeners, signatures
        self._group_tables = [w.groups for w in windows.values()]  # counted after every event (`_bound`)
        for rid, window in windows.items():  # a streaming firing nothing reads only updates its alert
            alone = rid not in listeners and rid not in ruleset.silent
            window.quick = self.book.bump if self.book.streaming and alone else None
        self.dispatch = Dispatch(ruleset.base_rules)

    def swap(self, ruleset: RuleSet) -> int:
        """Run `ruleset` from now on (a hot reload). Windows of correlations whose signature is
        unchanged keep their groups; open alerts of rules still loaded stay open (suppression
        goes on). Returns how many windows were kept."""
        keep = {rid: w for rid, w in self.windows.items()
                if rid in ruleset.by_ref and rule_signature(ruleset, ruleset.by_ref[rid]) == self.signatures.get(rid)}
        self._build(ruleset, keep)
        loaded = {r.id for r in ruleset.rules}
        for key in [k for k in self.book.open if k[0] not in loaded]:
            del self.book.open[key]
            self.book.dirty.pop(key, None)
        return len(keep)

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Streaming: run every base rule on one event; returns alerts raised or updated."""
        return self.feed_matched(event, self.dispatch.matching(event, self.ruleset.checks))

    def feed_matched(self, event: dict[str, Any], rules: list[Rule]) -> list[dict[str, Any]]:
        """`feed`, with the base rules the event matches found elsewhere (watch's parse worker
        runs the same `Dispatch.matching` on the same rules)."""
        out: list[dict[str, Any]] = []
        t = epoch(event.get("@timestamp"))
        for rule in rules:
            out.extend(self.on_match(Match(rule, t, event)))
        self.book.follow_up(event, t)
        if self.max_groups is not None:
            self._bound()
        return out

    def on_match(self, m: Match) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if m.rule.id not in self.ruleset.silent:
            out.append(self.book.record(m))
        for window in self.listeners.get(m.rule.id, ()):
            for fired in window.add(m, out):
                out.extend(self.on_match(fired))
        return out

    def flush(self) -> list[dict[str, Any]]:
        """Judge windows that wait for their end (lt/lte conditions): at end of a batch."""
        out: list[dict[str, Any]] = []
        for window in list(self.windows.values()):
            for fired in window.flush():
                out.extend(self.on_match(fired))
        return out

    # -- bounded state (streaming) ---------------------------------------------------------
    @property
    def groups_open(self) -> int:
        return sum(map(len, self._group_tables))

    def _bound(self) -> None:
        """Evict least recently used groups, across all windows, down to `max_groups`."""
        assert self.max_groups is not None
        excess = self.groups_open - self.max_groups
        while excess > 0:
            oldest = min((w for w in self.windows.values() if w.groups), key=lambda w: w.oldest() or 0)
            oldest.drop_oldest()
            self.evictions += 1
            excess -= 1

    def expire(self, now: float) -> list[dict[str, Any]]:
        """Drop state that can no longer matter at event time `now`: groups whose entries all
        left their window (absence windows are judged first) and alerts past suppression."""
        out: list[dict[str, Any]] = []
        for window in list(self.windows.values()):
            for fired in window.expire(now):
                out.extend(self.on_match(fired))
        self.book.prune(now)
        return out

    def snapshot(self) -> dict[str, Any]:
        """Windows (by rule id, with their signature) and open alerts, as JSON-ready data."""
        return self.capture()()

    def capture(self) -> Callable[[], dict[str, Any]]:
        """The state as it is now, taken cheaply between two events; the returned function
        makes it `snapshot` data later, on another thread (watch's store thread), so detection
        doesn't stop while a large window state is written out."""
        windows = [(rid, self.signatures[rid], w.capture()) for rid, w in self.windows.items() if w.groups]
        alerts, evictions, raised = self.book.capture(), self.evictions, self.book.raised
        return lambda: {"windows": {rid: {"signature": signature, **made()} for rid, signature, made in windows},
                        "alerts": alerts(), "evictions": evictions, "raised": raised}

    def restore(self, saved: dict[str, Any]) -> int:
        """Load a `snapshot`; windows whose rule changed meanwhile start empty. Returns how
        many windows were restored."""
        restored = 0
        for rid, data in (saved.get("windows") or {}).items():
            window = self.windows.get(rid)
            if window is not None and data.get("signature") == self.signatures.get(rid):
                window.restore(data)
                restored += 1
        self.book.restore(saved.get("alerts") or [], keep_rules={r.id for r in self.ruleset.rules})
        self.evictions = int(saved.get("evictions") or 0)
        self.book.raised = int(saved.get("raised") or 0)
        if self.max_groups is not None:
            self._bound()
        return restored

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return self.book.finalize()
