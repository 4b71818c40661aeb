"""The check-kind registry, and the `any` / `all` combinators built from it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hostwarden.scan.baseline import kinds_files as f
from hostwarden.scan.baseline import kinds_system as s
from hostwarden.scan.baseline.host import Host
from hostwarden.scan.baseline.model import FAIL, NA, PASS, Outcome

KindFn = Callable[[Host, dict[str, Any]], Outcome]


def _combine(mode: str) -> KindFn:
    def run(host: Host, spec: dict[str, Any]) -> Outcome:
        outcomes = [evaluate(host, sub) for sub in spec["checks"]]
        decided = [o for o in outcomes if o.status != NA]
        if not decided:
            reasons = "; ".join(dict.fromkeys(o.reason for o in outcomes if o.reason))
            return Outcome(NA, [e for o in outcomes for e in o.evidence], reasons or "no alternative applies",
                           missing=list(dict.fromkeys(m for o in outcomes for m in o.missing)))
        passed = [o for o in decided if o.status == PASS]
        ok = bool(passed) if mode == "any" else len(passed) == len(decided)
        chosen = passed if ok and mode == "any" else decided
        reasons = "; ".join(o.reason for o in decided if o.status == FAIL and o.reason)
        return Outcome(PASS if ok else FAIL, [e for o in chosen for e in o.evidence], "" if ok else reasons)

    return run


KINDS: dict[str, KindFn] = {
    "file_regex": f.file_regex,
    "config": f.config,
    "file_mode": f.file_mode,
    "file_exists": f.file_exists,
    "dir_list": f.dir_list,
    "logrotate": f.logrotate,
    "mount": f.mount,
    "sysctl": s.sysctl,
    "service": s.service,
    "package": s.package,
    "ports": s.ports,
    "file_scan": s.file_scan,
    "command": s.command,
    "any": _combine("any"),
    "all": _combine("all"),
}


def evaluate(host: Host, spec: dict[str, Any]) -> Outcome:
    return KINDS[spec["kind"]](host, spec)
