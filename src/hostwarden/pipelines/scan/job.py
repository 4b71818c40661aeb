"""`hostwarden scan` as a whole: pick the root (a folder, or an image unpacked to a temp folder),
build the scanners' options from the configuration, run them, and send the results down the
alert path (stored when there is a data dir)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hostwarden.core.config import Config
from hostwarden.core.records import ScanReport
from hostwarden.core.sink import AlertPath, SinkContext
from hostwarden.normalize.timezones import ZonePolicy
from hostwarden.pipelines.scan.runner import run_scan
from hostwarden.scan.vuln.workdir import image_workdir, remove_stale_workdirs
from hostwarden.store.eventstore import EventStore
from hostwarden.store.sink import appender, reader, replacer


def scanner_options(cfg: Config, advisories: Path | None, zones: ZonePolicy | None = None) -> dict[str, Any]:
    """`zones`: the zone rules of the logs' zone-less times (--timezone; default: the config's,
    else the scanned root's own /etc/localtime: the log scanner applies them under the root)."""
    return {**cfg.scan.options, "advisories": str(advisories) if advisories else None,
            "advisory_max_age_days": cfg.scan.advisory_max_age_days,
            "cpu_cap": cfg.scan.cpu_cap_percent / 100, "advisory_dir": str(cfg.data_dir),
            "zones": zones or ZonePolicy.from_config(cfg.ingest)}


def scan_target(
    cfg: Config,
    *,
    root: Path,
    image: Path | None = None,
    only: list[str] | None = None,
    advisories: Path | None = None,
    store: bool = False,
    alert_path_factory: Callable[[SinkContext], AlertPath] | None = None,
    sink_context: SinkContext | None = None,
    zones: ZonePolicy | None = None,
) -> ScanReport:
    """Scan `root` (or `image`); with `store`, results go into the store at `cfg.data_dir`."""
    remove_stale_workdirs()  # image folders a killed scan (SIGKILL) left in the temp folder
    options = scanner_options(cfg, advisories, zones)
    data_dir = cfg.data_dir if store else None
    ctx = sink_context or SinkContext(mode="scan")
    ctx.tenant, ctx.data_dir = cfg.tenant, data_dir
    opened: list[EventStore] = []

    def store() -> EventStore:  # opened once the scanners are done with it (the log scanner writes first)
        if not opened:
            opened.append(EventStore(cfg.data_dir, lock_timeout=cfg.lock_timeout_seconds))
        return opened[0]

    if data_dir is not None:
        ctx.store_append = lambda records: appender(store(), cfg.tenant)(records)
        ctx.store_replace = lambda rows: replacer(store(), cfg.tenant)(rows)
        ctx.store_read = lambda sql, params: reader(store())(sql, params)
    path = alert_path_factory(ctx) if alert_path_factory is not None else None
    run: dict[str, Any] = {"data_dir": data_dir, "only": only, "timeout": cfg.scan.timeout_seconds,
                           "extra_scanners": cfg.scan.scanners, "alert_path": path, "tenant": cfg.tenant,
                           "previous": ctx.store_read}
    try:
        if image is None:
            return run_scan(root, options=options, **run)
        from hostwarden.scan.vuln.image import Limits, unpack

        options["image_source"] = str(image)  # the vuln scanner checks its digest against the allowlist
        # Removed however the scan ends (exception, SIGTERM/SIGINT with the command's handlers),
        # never recursively; the unpack stops at the image limits (a layer bomb is SCAN-9033).
        with image_workdir() as tmp:
            unpack(image, tmp / "rootfs", Limits.from_options(options))  # layers in order, whiteouts honoured
            report = run_scan(tmp / "rootfs", options=options, target=str(image.resolve()), **run)
        report.host["root"] = str(image)
        report.host["image"] = str(image)
        return report
    finally:
        if path is not None:
            path.close()
        for s in opened:
            s.close()
