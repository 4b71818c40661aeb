"""An sshd session that one `ingest` run began and the next run goes on with keeps its address,
and a saved state is used only where the next run resumes exactly at its offset."""

from __future__ import annotations

from pathlib import Path

from hostwarden.core.config import load_config
from hostwarden.pipelines.carried import KEY_PREFIX
from hostwarden.pipelines.ingest_job import run_ingest
from hostwarden.store.eventstore import EventStore

FIRST = "Dec  1 04:09:18 web-01 sshd[26713]: Connection from 203.0.113.50 port 51353 on 10.0.0.1 port 22\n"
LATER = "Dec  1 04:09:21 web-01 sshd[26713]: Disconnecting: Too many authentication failures for root [preauth]\n"
OTHER = "Dec  1 04:09:22 web-01 sshd[999]: Disconnecting: Too many authentication failures for root [preauth]\n"


def _later_addresses(data: Path) -> list[str | None]:
    with EventStore(data, read_only=True) as store:
        rows = store.query('SELECT "source.ip" FROM events WHERE "event.original" LIKE \'%Disconnecting%\' '
                           'ORDER BY "log.offset"')
    return [r[0] for r in rows]


def test_a_session_split_between_two_runs_keeps_its_address(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(FIRST)
    cfg = load_config(None, data_dir=tmp_path / "data")
    run_ingest(cfg, [str(log)], detect=False)
    with log.open("a") as f:
        f.write(LATER + OTHER)
    run_ingest(cfg, [str(log)], detect=False)
    assert _later_addresses(cfg.data_dir) == ["203.0.113.50", None]  # its own session's; another pid none


def test_a_state_saved_at_another_offset_is_not_used(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(FIRST)
    cfg = load_config(None, data_dir=tmp_path / "data")
    run_ingest(cfg, [str(log)], detect=False)
    with EventStore(cfg.data_dir) as store:  # as if a crash left the state behind the checkpoint
        (key,) = [r[0] for r in store.query("SELECT key FROM kv WHERE key LIKE ?", [KEY_PREFIX + "%"])]
        saved = store.get_state(key)
        store.put_state(key, {**saved, "offset": saved["offset"] - 1})
    with log.open("a") as f:
        f.write(LATER)
    run_ingest(cfg, [str(log)], detect=False)
    assert _later_addresses(cfg.data_dir) == [None]  # a fresh start, as before states were kept


def test_a_damaged_saved_state_costs_the_carry_not_the_ingest(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(FIRST)
    cfg = load_config(None, data_dir=tmp_path / "data")
    run_ingest(cfg, [str(log)], detect=False)
    with EventStore(cfg.data_dir) as store:
        (key,) = [r[0] for r in store.query("SELECT key FROM kv WHERE key LIKE ?", [KEY_PREFIX + "%"])]
        saved = store.get_state(key)
        store.put_state(key, {**saved, "state": {"sessions": [["web-01", "not a pid"]]}})
    with log.open("a") as f:
        f.write(LATER)
    result = run_ingest(cfg, [str(log)], detect=False)
    assert result.stats.stored == 1 and _later_addresses(cfg.data_dir) == [None]
