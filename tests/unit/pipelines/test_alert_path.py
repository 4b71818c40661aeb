"""One alert path: the same sink sees every alert and finding, whichever pipeline produced it."""

from __future__ import annotations

import io
import shutil
import threading
import time
from pathlib import Path

import pytest

from hostwarden.core.config import load_config
from hostwarden.core.errors import CSA_SINK_FAILED
from hostwarden.core.records import Alert, Finding, Grade
from hostwarden.core.sink import AlertPath, RecordingSink, SinkContext
from hostwarden.pipelines.alertpath import build_alert_path, register_sink, stage_sink_factories

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo-host"
QUIET = SinkContext(mode="scan", sections={"incidents": {"enabled": False}})


class Exploding:
    name = "exploding"

    def emit(self, results):  # noqa: ANN001
        raise RuntimeError("boom")


class Critical(Exploding):
    name = "critical"
    critical = True


def _finding(n: int = 1) -> Finding:
    return Finding(scanner="baseline", rule_id=f"HW-T-{n}", title="t", message=f"m{n}", grade=Grade.L2)


def test_a_failing_sink_becomes_a_notice_and_the_others_still_get_the_batch() -> None:
    first, last = RecordingSink(), RecordingSink()
    path = AlertPath([first, Exploding(), last])
    path.emit([_finding()])
    assert len(first.results) == len(last.results) == 1
    assert [n["code"] for n in path.notices] == [CSA_SINK_FAILED.code]
    assert "exploding" in path.notices[0]["message"]


def test_a_critical_sinks_failure_is_raised_after_the_others_had_the_batch() -> None:
    last = RecordingSink()
    path = AlertPath([Critical(), last])
    with pytest.raises(RuntimeError, match="boom"):
        path.emit([_finding()])
    assert len(last.results) == 1


def test_stage_sinks_are_found_by_convention_and_registered_ones_join_and_leave() -> None:
    names = {f.__module__ for _, f in stage_sink_factories()}
    assert {"hostwarden.store.sink", "hostwarden.report.sink"} <= names
    recorder = RecordingSink()
    remove = register_sink(lambda ctx: recorder)
    try:
        path = build_alert_path(QUIET)  # no store, no printer, no incidents: just the recorder
        assert path.sinks == [recorder]
    finally:
        remove()
    assert build_alert_path(QUIET).sinks == []
    assert [s.name for s in build_alert_path(SinkContext(mode="scan")).sinks] == ["incidents"]


def test_printer_comes_before_the_store() -> None:
    stored: list[dict] = []
    path = build_alert_path(SinkContext(mode="watch", out=io.StringIO(),
                                        store_append=lambda rs: stored.extend(rs) or len(rs)))
    assert [s.name for s in path.sinks] == ["printer", "store", "incidents"]


def _demo_logs(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(DEMO / "var" / "log", root / "var" / "log")
    return root


def _ingest(tmp_path: Path, root: Path) -> None:
    from hostwarden.pipelines.ingest_job import run_ingest

    cfg = load_config(None, data_dir=tmp_path / "ingest-data")
    files = sorted(str(p) for p in (root / "var" / "log").rglob("*") if p.is_file())
    run_ingest(cfg, files)


def _watch(tmp_path: Path, root: Path) -> None:
    from hostwarden.pipelines.watch.runtime import Watch

    cfg = load_config(None, data_dir=tmp_path / "watch-data")
    files = sorted(str(p) for p in (root / "var" / "log").rglob("*") if p.is_file())
    stop = threading.Event()
    watch = Watch(cfg, files, out=io.StringIO(), err=io.StringIO(), poll_seconds=0.01)
    runner = threading.Thread(target=watch.run, args=(stop,))
    runner.start()
    seen, still = -1, 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and still < 20:  # until nothing new for 20 polls
        time.sleep(0.05)
        now = getattr(getattr(watch, "counters", None), "events", 0)
        still = still + 1 if now == seen and now > 0 else 0
        seen = now
    stop.set()
    runner.join(timeout=60)
    assert not runner.is_alive()


def _scan(tmp_path: Path, root: Path) -> None:
    from hostwarden.pipelines.scan.runner import run_scan

    path = build_alert_path(SinkContext(mode="scan"))
    run_scan(root, data_dir=tmp_path / "scan-data", only=["logs", "detect"], alert_path=path)


def test_ingest_watch_and_scan_deliver_the_same_alerts_to_one_registered_sink(tmp_path: Path) -> None:
    root = _demo_logs(tmp_path)
    seen: dict[str, RecordingSink] = {}
    remove = register_sink(lambda ctx: seen.setdefault(ctx.mode, RecordingSink()))
    try:
        _ingest(tmp_path, root)
        _watch(tmp_path, root)
        _scan(tmp_path, root)
    finally:
        remove()
    ids = {mode: sorted(a.id for a in sink.alerts) for mode, sink in seen.items()}
    assert set(ids) == {"ingest", "watch", "scan"}
    assert ids["ingest"], "the demo logs raise alerts"
    assert ids["ingest"] == ids["watch"] == ids["scan"], ids
    assert any(a.grade is Grade.L1 for a in seen["ingest"].alerts)
    assert all(isinstance(a, Alert) for a in seen["watch"].alerts)
    assert seen["scan"].findings and all(f.scan_id for f in seen["scan"].findings)  # scan also emits findings


def test_scan_alerts_whose_lines_name_no_host_are_on_the_scanned_host(tmp_path: Path) -> None:
    """An access log or auditd line names no host, but it was written on the scanned one: its
    alerts (and so the incidents made of them) say which host, unless a line said otherwise."""
    root = _demo_logs(tmp_path)
    (root / "etc").mkdir()
    (root / "etc" / "hostname").write_text("scanned-01\n")
    seen: dict[str, RecordingSink] = {}
    remove = register_sink(lambda ctx: seen.setdefault(ctx.mode, RecordingSink()))
    try:
        _scan(tmp_path, root)
    finally:
        remove()
    alerts = seen["scan"].alerts
    events = {a.id: list(a.detail.get("events") or []) for a in alerts}
    web = [a for a in alerts if any("access.log" in (e.get("file") or "") for e in events[a.id])]
    assert web and all(a.host_name == "scanned-01" for a in web)  # the access log names no host
    syslog_hosts = {a.host_name for a in alerts if a not in web}
    assert "demo-web01" in syslog_hosts  # a line's own host name is kept
