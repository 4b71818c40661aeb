"""The two whole detection paths agree on the same files, cut into chunks differently: `watch`'s
(the per-line parser over small chunks, each file's state carried, events fed one by one to the
streaming engine, follow-ups gathered as events arrive) and `ingest`'s (the columnar plan over
64 KB chunks read two at a time, batch detection over the store, follow-ups queried after).
Same alerts, ids, counts, first and last times, evidence and follow-up lists, for several files
at once (two hosts' auth logs and a web server's access log)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from hostwarden.collect.files import FileReader
from hostwarden.core.checkpoint import MemoryCheckpoints
from hostwarden.detect.batch import detect_store
from hostwarden.detect.engine import Engine
from hostwarden.detect.ruleset import load_rules
from hostwarden.normalize.registry import hint_for_path, sniff
from hostwarden.normalize.source import context_for
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.pipelines.watch.parseworker import SourceParser
from hostwarden.store.eventstore import EventStore

GENERATOR = Path(__file__).resolve().parents[3] / "bench" / "generate.py"
pytestmark = pytest.mark.skipif(not GENERATOR.exists(), reason="bench/generate.py absent")
KB = 1 << 10


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    spec = importlib.util.spec_from_file_location("hw_bench_generate_agree", GENERATOR)
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    sys.modules["hw_bench_generate_agree"] = gen
    spec.loader.exec_module(gen)
    base = tmp_path_factory.mktemp("logs")
    auth = gen.generate("auth", 6000, base / "a", seed=5)
    other = gen.generate("auth", 4000, base / "b", seed=6)
    second = base / "b" / "secure"  # a second host's log: same generator, another host name
    second.write_text(other.read_text().replace(" web-01 ", " db-02 "))
    return [auth, second, gen.generate("access", 5000, base / "c", seed=7)]


def streaming(paths: list[Path], chunk_bytes: int) -> list[dict[str, Any]]:
    """watch: each file's chunks through its own parser (state carried), all events fed in
    stream order (time, then file, then offset) to one streaming engine."""
    events: list[dict[str, Any]] = []
    for path in paths:
        head = path.read_bytes()[:64 * KB].decode("utf-8", "replace").splitlines()[:50]
        source = SourceParser(str(path), sniff(head, hint_for_path(str(path))), context_for(str(path), path.stat().st_mtime))
        for chunk in FileReader(path, MemoryCheckpoints(), chunk_bytes=chunk_bytes).read_chunks():
            events += source.parse(chunk)
    events.sort(key=lambda ev: (ev["@timestamp"], ev["log.file.path"], ev["log.offset"]))
    engine = Engine(load_rules(), eager=False)
    for ev in events:
        engine.feed(ev)
    engine.flush()
    return engine.alerts


def bulk(paths: list[Path], data: Path) -> list[dict[str, Any]]:
    with EventStore(data) as store:
        store.con.execute("SET TimeZone = 'Asia/Shanghai'")  # a store session in another zone changes nothing
        for path in paths:
            ingest_chunks(store, FileReader(path, MemoryCheckpoints(), chunk_bytes=64 * KB).read_chunks(),
                          ctx=context_for(str(path), path.stat().st_mtime), overlap=True)
        return detect_store(store, load_rules(), append=False).alerts


def comparable(alerts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    out = []
    for a in alerts:
        detail = json.loads(a["hostwarden.detail"])
        out.append((a["event.id"], a["rule.id"], a["message"], a["source.ip"], a["user.name"], a["event.severity"],
                    detail["count"], detail["first"], detail["last"], [e["id"] for e in detail["events"]],
                    [(f["id"], f["time"], f["action"]) for f in detail.get("follow_up", [])],
                    a["host.name"], [e.get("file") for e in detail["events"]]))
    return sorted(out)


@pytest.mark.parametrize("chunk_kb", [4, 48])
def test_watch_and_ingest_raise_the_same_alerts_with_the_same_evidence(logs: list[Path], tmp_path: Path,
                                                                      chunk_kb: int) -> None:
    live = comparable(streaming(logs, chunk_kb * KB))
    batch = comparable(bulk(logs, tmp_path / "data"))
    assert len(batch) > 20
    assert any(row[5] == 1 and row[10] for row in batch)  # the L1 login after brute force, with what followed
    assert live == batch


def test_alerts_say_where_they_happened(logs: list[Path], tmp_path: Path) -> None:
    """An alert grouped by address alone still names its host (incidents group by host; a
    campaign on "unknown host" helps nobody) and each evidence line names its log file."""
    alerts = bulk(logs, tmp_path / "data")
    auth_files = {str(p) for p in logs[:2]}
    by_address = [a for a in alerts if json.loads(a["hostwarden.detail"])["key"].keys() == {"source.ip"}]
    assert by_address
    for alert in by_address:
        files = {e["file"] for e in json.loads(alert["hostwarden.detail"])["events"]}
        assert files and files <= {str(p) for p in logs}
        hosts = {str(logs[0]): "web-01", str(logs[1]): "db-02"}
        if files <= auth_files:  # the host of the line that made the window fire
            assert alert["host.name"] in {hosts[f] for f in files}, alert["message"]
