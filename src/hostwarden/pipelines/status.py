"""`hostwarden status`: every component's health in one place, so a stuck part is visible.

Each check is a small function returning a Component; a check that raises is itself reported
unhealthy with the error, it never hides the others.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from hostwarden import __version__
from hostwarden.core.config import Config
from hostwarden.core.errors import HostwardenError
from hostwarden.core.health import Component
from hostwarden.store.eventstore import EventStore

# Optional stages contribute checks as "module:function" taking (Config) → Component | None.
EXTRA_CHECKS: tuple[str, ...] = (
    "hostwarden.scan.vuln.status:status_component",
    "hostwarden.pipelines.watch.state:status_component",
)


def collect_status(cfg: Config) -> dict[str, Any]:
    components: list[Component] = []
    facts: dict[str, Any] = {"version": __version__, "data_dir": str(cfg.data_dir)}
    store_ok = _guard(components, "store", lambda: _store(cfg, facts))
    if store_ok:
        _guard(components, "parsing", lambda: _parse_rate(cfg, facts))
    _guard(components, "disk", lambda: _disk(cfg, facts))
    for target in EXTRA_CHECKS:
        module_name, _, attr = target.partition(":")
        try:
            check = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError):
            continue
        _guard(components, module_name.rsplit(".", 1)[-1], lambda check=check: check(cfg))
    return {
        "healthy": all(c.healthy for c in components),
        "degraded": any(c.degraded for c in components),
        "components": [asdict(c) for c in components],
        "facts": facts,
    }


def _guard(components: list[Component], name: str, check: Callable[[], Component | None]) -> bool:
    try:
        result = check()
    except HostwardenError as exc:
        result = Component(name, False, f"{exc.code.code}: {exc.message}")
    except Exception as exc:  # a broken check is itself a finding, not a crash
        result = Component(name, False, f"{type(exc).__name__}: {exc}")
    if result is not None:
        components.append(result)
        return result.healthy
    return True


def _store(cfg: Config, facts: dict[str, Any]) -> Component:
    with EventStore(cfg.data_dir, read_only=True, lock_timeout=cfg.lock_timeout_seconds) as store:
        facts["store.bytes"] = store.size_bytes()
        facts["events"] = store.count_rows()
        facts["events.by_dataset"] = dict(store.query(
            'SELECT COALESCE("event.dataset", \'unknown\'), count(*) FROM events WHERE "organization.id" = ? '
            "GROUP BY 1 ORDER BY 2 DESC", [cfg.tenant]))
        facts["last_event.by_source"] = {
            path: str(ts) for path, ts in store.query(
                'SELECT "log.file.path", max("@timestamp") FROM events WHERE "organization.id" = ? '
                'AND "log.file.path" IS NOT NULL GROUP BY 1 ORDER BY 1 LIMIT 200', [cfg.tenant])
        }
    exists = (cfg.data_dir / "events.duckdb").exists()
    return Component("store", True, f"{facts['events']} events, {facts['store.bytes']} bytes"
                     + ("" if exists else " (no store yet)"))


def _parse_rate(cfg: Config, facts: dict[str, Any]) -> Component:
    with EventStore(cfg.data_dir, read_only=True, lock_timeout=cfg.lock_timeout_seconds) as store:
        rows = store.query(
            "SELECT count(*), count(*) FILTER (WHERE list_contains(tags, 'parse_failure')) FROM events "
            "WHERE \"event.kind\" = 'event' AND \"organization.id\" = ?", [cfg.tenant])
    total, failed = rows[0] if rows else (0, 0)
    rate = failed / total if total else 0.0
    facts["parse_failure_rate"] = round(rate, 4)
    limit = cfg.status.max_parse_failure_rate
    return Component("parsing", rate <= limit, f"{failed}/{total} lines not understood ({rate:.1%}; limit {limit:.0%})")


def _disk(cfg: Config, facts: dict[str, Any]) -> Component:
    target = cfg.data_dir if cfg.data_dir.exists() else cfg.data_dir.parent if cfg.data_dir.parent.exists() else None
    usage = shutil.disk_usage(target or ".")
    free_mb = usage.free // (1 << 20)
    facts["disk.free_mb"] = free_mb
    return Component("disk", free_mb >= cfg.status.min_free_disk_mb,
                     f"{free_mb} MB free (minimum {cfg.status.min_free_disk_mb} MB)")
