"""Loading rule files into one checked rule set (the unit a reload swaps atomically).

A rule set resolves every correlation reference (by Sigma `name` or `id`) when it is built, so a
broken reference is a load error (CSA-5003) instead of a silent no-op at run time. Thresholds
are overridable per rule (`overrides={"ssh_brute_force": {"gte": 10, "timespan": "5m"}}`),
which is how a user tunes the built-in pack without editing it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostwarden.core.errors import CSA_RULE_INVALID, HostwardenError
from hostwarden.detect.ir import Rule
from hostwarden.detect.matcher import Check, compile_node
from hostwarden.detect.sigma import load_sigma_text

BUILTIN_DIR = Path(__file__).resolve().parents[3] / "rules" / "detect"
_SPAN = re.compile(r"^(\d+)([smhd])$")


def parse_timespan(text: str | float) -> float:
    if isinstance(text, (int, float)):
        return float(text)
    m = _SPAN.match(str(text).strip())
    if not m:
        raise ValueError(f"timespan {text!r}: use <number><s|m|h|d>")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


@dataclass
class RuleSet:
    rules: list[Rule]
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (file, rule, reason)
    checks: dict[str, Check] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_ref: dict[str, Rule] = {}
        for rule in list(self.rules):
            if rule.id in self.by_ref:  # the same rule from two folders would count every match twice
                self.errors.append((rule.source, rule.title, f"duplicate rule id {rule.id} (first in "
                                    f"{self.by_ref[rule.id].source or 'another file'})"))
                self.rules.remove(rule)
                continue
            self.by_ref[rule.id] = rule
            if rule.name:
                self.by_ref[rule.name] = rule
        self._drop_broken_correlations()
        for rule in self.rules:
            if rule.detection is not None:
                self.checks[rule.id] = compile_node(rule.detection)
        # Base rules feeding a correlation stay silent unless the correlation says `generate`.
        self.silent: set[str] = set()
        for rule in self.rules:
            if rule.correlation is not None and not rule.generate:
                self.silent.update(self.by_ref[r].id for r in rule.correlation.rules)

    def _drop_broken_correlations(self) -> None:
        """Remove correlations with unknown references or in a reference cycle (a cycle would
        make one match fire forever), repeating until stable: dropping one can orphan another."""
        changed = True
        while changed:
            changed = False
            for rule in list(self.rules):
                if rule.correlation is None:
                    continue
                missing = [r for r in rule.correlation.rules if r not in self.by_ref]
                reason = f"correlation references unknown rules {missing}" if missing else None
                if reason is None and self._cyclic(rule):
                    reason = "correlation references itself through a cycle"
                if reason:
                    self.errors.append((rule.source, rule.title, reason))
                    self.rules.remove(rule)
                    for key in [k for k, v in self.by_ref.items() if v is rule]:
                        del self.by_ref[key]
                    changed = True

    def _cyclic(self, start: Rule) -> bool:
        seen: set[str] = set()
        stack = [start]
        while stack:
            rule = stack.pop()
            for ref in rule.correlation.rules if rule.correlation else ():
                target = self.by_ref.get(ref)
                if target is None:
                    continue
                if target is start:
                    return True
                if target.id not in seen:
                    seen.add(target.id)
                    stack.append(target)
        return False

    @property
    def base_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.detection is not None]

    @property
    def correlations(self) -> list[Rule]:
        return [r for r in self.rules if r.correlation is not None]

    def resolve(self, ref: str) -> Rule:
        return self.by_ref[ref]


def rule_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()))
        elif path.exists():
            files.append(path)
        else:
            raise HostwardenError(CSA_RULE_INVALID, f"{path}: no such rule file or folder")
    return files


def _override(rule: Rule, settings: Mapping[str, Any]) -> Rule:
    corr = rule.correlation
    if corr is None:
        raise ValueError("only correlation rules have thresholds")
    changes: dict[str, Any] = {}
    bounds = [(op, float(settings[op])) for op in ("gt", "gte", "lt", "lte", "eq") if op in settings]
    if bounds:
        changes["condition"] = tuple(bounds)
    if "timespan" in settings:
        changes["timespan"] = parse_timespan(settings["timespan"])
    return dataclasses.replace(rule, correlation=dataclasses.replace(corr, **changes))


def load_rules(
    paths: Iterable[Path] | None = None,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    strict: bool = False,
) -> RuleSet:
    """Load rule files (default: the built-in pack). `strict` raises CSA-5003 on the first error."""
    rules: list[Rule] = []
    errors: list[tuple[str, str, str]] = []
    for path in rule_files(paths if paths is not None else [BUILTIN_DIR]):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append((str(path), "", f"unreadable: {exc}"))
            continue
        loaded, failed = load_sigma_text(text, str(path))
        rules.extend(loaded)
        errors.extend((str(path), title, reason) for title, reason in failed)
    for key, settings in (overrides or {}).items():
        idx = next((i for i, r in enumerate(rules) if key in (r.id, r.name)), None)
        if idx is None:
            errors.append(("overrides", key, "no such rule"))
            continue
        try:
            rules[idx] = _override(rules[idx], settings)
        except ValueError as exc:
            errors.append(("overrides", key, str(exc)))
    ruleset = RuleSet(rules, errors)
    if strict and ruleset.errors:
        file, title, reason = ruleset.errors[0]
        raise HostwardenError(CSA_RULE_INVALID, f"{file}: {title}: {reason}".replace(": :", ":"))
    return ruleset
