"""The audit log's hash chain: any edit, removal or reordering is caught and the record named."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.respond.audit import AuditLog, record_hash, verify


def _log(path: Path, n: int) -> AuditLog:
    log = AuditLog(path, fsync=False)
    for i in range(n):
        log.append("apply", id=f"a{i}", target={"kind": "ip", "value": f"203.0.113.{i % 250}"}, n=i)
    return log


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def test_an_untouched_log_verifies(tmp_path: Path) -> None:
    _log(tmp_path / "audit.jsonl", 12)
    v = verify(tmp_path / "audit.jsonl")
    assert v.ok and v.records == 12
    recs = [json.loads(x) for x in _lines(tmp_path / "audit.jsonl")]
    assert [r["seq"] for r in recs] == list(range(1, 13))
    assert all(r["prev"] == p["hash"] for p, r in zip(recs, recs[1:], strict=False))


def test_appends_from_many_threads_form_one_chain(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", fsync=False)
    threads = [threading.Thread(target=lambda k=k: [log.append("x", k=k, i=i) for i in range(25)]) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    v = verify(tmp_path / "audit.jsonl")
    assert v.ok and v.records == 200


N = 9


@settings(max_examples=60, deadline=None)
@given(pos=st.integers(0, N - 1), how=st.sampled_from(["value", "kind", "drop-hash", "garbage", "recompute"]))
def test_an_edited_record_is_named(tmp_path_factory, pos: int, how: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("a") / "audit.jsonl"
    _log(path, N)
    lines = _lines(path)
    rec = json.loads(lines[pos])
    if how == "value":
        rec["target"]["value"] = "192.0.2.1"
    elif how == "kind":
        rec["kind"] = "undo"
    elif how == "drop-hash":
        del rec["hash"]
    elif how == "recompute":  # an editor who knows the scheme recomputes the record's own hash
        rec["n"] = -1
        rec["hash"] = record_hash(rec)
    lines[pos] = "{not json" if how == "garbage" else json.dumps(rec)
    _write(path, lines)
    v = verify(path)
    assert not v.ok
    assert v.seq == pos + 1, str(v)
    assert "edited" in v.problem


@settings(max_examples=40, deadline=None)
@given(pos=st.integers(0, N - 1), count=st.integers(1, 3))
def test_removed_records_are_named(tmp_path_factory, pos: int, count: int) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("a") / "audit.jsonl"
    _log(path, N)
    lines = _lines(path)
    del lines[pos:pos + count]
    _write(path, lines)
    v = verify(path)
    assert not v.ok
    assert v.seq == pos + 1, str(v)
    assert "removed" in v.problem


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_reordered_records_are_named(tmp_path_factory, data) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("a") / "audit.jsonl"
    _log(path, N)
    i = data.draw(st.integers(0, N - 2))
    j = data.draw(st.integers(i + 1, N - 1))
    lines = _lines(path)
    lines[i], lines[j] = lines[j], lines[i]
    _write(path, lines)
    v = verify(path)
    assert not v.ok
    assert v.seq == i + 1, str(v)
    assert "reordered" in v.problem


def test_a_duplicated_record_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _log(path, 5)
    lines = _lines(path)
    _write(path, lines[:3] + [lines[2]] + lines[3:])
    v = verify(path)
    assert not v.ok and v.seq == 3 and "duplicated" in v.problem


def test_the_head_catches_truncation_and_an_edited_last_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _log(path, 5)
    lines = _lines(path)
    _write(path, lines[:-1])
    v = verify(path)
    assert not v.ok and v.seq == 5 and "removed" in v.problem
    last = json.loads(lines[-1])
    last["n"] = 99
    last["hash"] = record_hash(last)
    _write(path, [*lines[:-1], json.dumps(last)])
    v = verify(path)
    assert not v.ok and v.seq == 5 and "edited" in v.problem


def test_appending_continues_the_chain_in_a_new_process_object(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _log(path, 3)
    AuditLog(path, fsync=False).append("undo", id="a1")
    assert verify(path).ok and verify(path).records == 4
