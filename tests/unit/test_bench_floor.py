"""bench/floor.py's lower bounds do the work they claim, so their figures mean what they say."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import pytest

FLOOR = Path(__file__).resolve().parents[2] / "bench" / "floor.py"
LINES = [
    "Nov  1 00:00:03 web-01 sshd[411]: Failed password for invalid user admin from 203.0.113.7 port 52144 ssh2",
    "Nov  1 00:00:04 web-01 sshd[412]: Accepted publickey for alice from 198.51.100.2 port 40022 ssh2",
    "Nov  1 00:00:05 web-01 CRON[9634]: pam_unix(cron:session): session closed for user root",
    "it's a \"quoted\", comma-laden line; with\ttabs",
]


@pytest.fixture(scope="module")
def floor():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_floor", FLOOR)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "it's auth.log"  # a quote in the path travels as a variable, not as SQL
    path.write_text("\n".join(LINES) + "\n")
    return path


def test_read_counts_every_line(floor, log: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert floor.main(["read", str(log), str(tmp_path / "x.parquet")]) == 0
    assert capsys.readouterr().out.strip() == str(len(LINES))


def test_store_keeps_every_raw_line_with_a_distinct_id(floor, log: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "store.parquet"
    assert floor.main(["store", str(log), str(out)]) == 0
    rows = duckdb.sql(f"SELECT id, original FROM read_parquet('{out}')").fetchall()  # noqa: S608
    assert [r[1] for r in rows] == LINES
    assert len({r[0] for r in rows}) == len(LINES)


def test_parse_extracts_the_header_and_the_sshd_fields(floor, log: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "parse.parquet"
    assert floor.main(["parse", str(log), str(out)]) == 0
    rows = duckdb.sql(f"SELECT host, prog, pid, sshd, original FROM read_parquet('{out}')").fetchall()  # noqa: S608
    assert len(rows) == len(LINES)
    assert rows[0][:3] == ("web-01", "sshd", 411)
    assert rows[0][3] == {"outcome": "Failed", "method": "password", "user": "admin", "ip": "203.0.113.7",
                          "port": "52144"}
    assert rows[1][3]["user"] == "alice" and rows[2][3]["user"] == ""  # CRON: no sshd match


def test_unknown_step_is_refused(floor, log: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert floor.main(["index", str(log), str(tmp_path / "x.parquet")]) == 2
