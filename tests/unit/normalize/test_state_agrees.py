"""One source's lines mean the same however they are cut into chunks and whichever executor (per
line, or the columnar plan in DuckDB) reads each chunk: the `ParseState` each hands to the next
carries sshd addresses and attempt counts across the cuts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostwarden.core.chunks import Chunk
from hostwarden.core.schema import FIELD_NAMES, to_arrow
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.bulk import BulkSyslog
from hostwarden.normalize.sessions import ATTEMPT_GAP_SECONDS, SAME_ATTEMPT
from hostwarden.normalize.state import ParseState
from hostwarden.normalize.syslog import SyslogParser

from .chunking import comparable as row_of
from .chunking import read_in_turn

BULK = BulkSyslog()
CTX = ParseContext(reference_time=datetime(2026, 12, 1, tzinfo=UTC))
PAM = "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}"
# What sshd (OpenSSH 7-9) and its PAM module write within one connection, with and without addresses.
MESSAGES = [
    PAM,
    "Failed password for {user} from {ip} port {port} ssh2",
    "Failed password for invalid user {user} from {ip} port {port} ssh2",
    "Invalid user {user} from {ip} port {port}",
    "pam_unix(sshd:auth): check pass; user unknown",
    "check pass; user unknown",
    "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={ip}",
    "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}",
    "Disconnecting: Too many authentication failures [preauth]",
    "error: maximum authentication attempts exceeded for {user} from {ip} port {port} ssh2 [preauth]",
    "Connection closed by authenticating user {user} {ip} port {port} [preauth]",
    "Accepted password for {user} from {ip} port {port} ssh2",
    "pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)",
    "Received disconnect from {ip} port {port}:11: Bye Bye [preauth]",
    "Failed password for root from {user}.example.net port {port} ssh2",
]
line = st.builds(
    lambda second, host, prog, pid, message, ip, user, port: (
        second, f"{host} {prog}[{pid}]: " + message.format(ip=ip, user=user, port=port)),
    st.integers(0, 4 * ATTEMPT_GAP_SECONDS),
    st.sampled_from(["web1", "db2"]),
    st.sampled_from(["sshd", "sshd(pam_unix)"]),  # the second: how sshd's PAM lines were tagged before 2006
    st.integers(100, 104),
    st.sampled_from(MESSAGES),
    st.sampled_from(["203.0.113.9", "2001:db8::7", "198.51.100.4"]),
    st.sampled_from(["root", "alice"]),
    st.integers(1, 65535),
)


def log_bytes(lines: list[tuple[int, str]]) -> bytes:
    """Syslog text in time order (seconds may repeat), plus a CRON line that is no session."""
    out = []
    for t, text in sorted(lines, key=lambda x: x[0]):
        stamp = datetime.fromtimestamp(1_795_000_000 + t, UTC).strftime("%b %d %H:%M:%S")
        out.append(f"{stamp} {text}\n")
    out.append("Nov 20 10:00:00 web1 CRON[7]: (root) CMD (true)\n")
    return "".join(out).encode()


def cut(data: bytes, points: list[int]) -> list[Chunk]:
    """Chunks of whole lines, cut after the lines at these positions (as fractions of the data)."""
    ends = sorted({data.rfind(b"\n", 0, max(1, int(p * len(data)) + 1)) + 1 for p in points} - {0}) + [len(data)]
    chunks, start = [], 0
    for end in ends:
        if end > start:
            chunks.append(Chunk("/var/log/auth.log", start, data[start:end]))
            start = end
    return chunks


def parse_chunks(chunks: list[Chunk], executors: list[bool]) -> list[dict[str, Any]]:
    """Each chunk by the columnar plan (True) or the line parser (False), one state throughout."""
    state, rows = ParseState(), []
    con = duckdb.connect()
    for chunk, columnar in zip(chunks, executors, strict=False):
        if columnar:
            name = BULK.parse(con, chunk.to_arrow(), CTX, state=state)
            rows += con.sql(f'SELECT * FROM {name} ORDER BY "log.offset"').to_arrow_table().to_pylist()
        else:
            rows += to_arrow(SyslogParser().parse_batch(chunk.lines(), CTX, state)).to_pylist()
    return rows


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{f: (dict(r.get(f) or []) if f == "labels" else r.get(f)) for f in FIELD_NAMES} for r in rows]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line, min_size=1, max_size=40), st.lists(st.floats(0, 1), max_size=5),
       st.lists(st.booleans(), min_size=6, max_size=6))
def test_any_cut_and_any_executor_per_chunk_mean_the_same(lines, points, executors):
    data = log_bytes(lines)
    whole = comparable(to_arrow(SyslogParser().parse_batch(Chunk("/var/log/auth.log", 0, data).lines(), CTX,
                                                            ParseState())).to_pylist())
    assert comparable(parse_chunks(cut(data, points), executors)) == whole


def _attempts(text: str) -> list[tuple[str, bool]]:
    events = SyslogParser().parse_batch(Chunk("x", 0, text.encode()).lines(), CTX, ParseState())
    return [(ev.get("event.action"), SAME_ATTEMPT not in (ev.get("tags") or ())) for ev in events
            if ev.get("event.outcome") == "failure"]


def test_a_typo_logged_by_pam_and_sshd_is_one_attempt():
    text = ("Nov 20 10:00:01 h sshd[5]: " + PAM.format(ip="192.0.2.7", user="alice") + "\n"
            "Nov 20 10:00:02 h sshd[5]: Failed password for alice from 192.0.2.7 port 4000 ssh2\n"
            "Nov 20 10:00:06 h sshd[5]: Accepted password for alice from 192.0.2.7 port 4000 ssh2\n")
    assert _attempts(text) == [("pam_auth_failure", True), ("ssh_login_failed", False)]


def test_a_connection_counts_max_of_one_and_its_failed_lines():
    text = ("Nov 20 10:00:00 h sshd[6]: Invalid user bob from 192.0.2.8 port 4000\n"
            "Nov 20 10:00:00 h sshd[6]: pam_unix(sshd:auth): check pass; user unknown\n"
            "Nov 20 10:00:00 h sshd[6]: " + PAM.format(ip="192.0.2.8", user="bob") + "\n"
            "Nov 20 10:00:02 h sshd[6]: Failed password for invalid user bob from 192.0.2.8 port 4000 ssh2\n"
            "Nov 20 10:00:05 h sshd[6]: Failed password for invalid user bob from 192.0.2.8 port 4000 ssh2\n"
            "Nov 20 10:00:05 h sshd[6]: PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.8\n"
            "Nov 20 10:00:05 h sshd[6]: Connection closed by invalid user bob 192.0.2.8 port 4000 [preauth]\n"
            "Nov 20 10:00:09 h sshd[7]: Invalid user carol from 192.0.2.8 port 4001\n"
            "Nov 20 10:00:09 h sshd[7]: Connection closed by invalid user carol 192.0.2.8 port 4001 [preauth]\n")
    counted = [action for action, counted in _attempts(text) if counted]
    # pid 6: two passwords tried (its first line stands for the first); pid 7: a probe, one attempt
    assert counted == ["ssh_invalid_user", "ssh_login_failed", "ssh_invalid_user"]


@pytest.mark.parametrize("gap", [ATTEMPT_GAP_SECONDS, ATTEMPT_GAP_SECONDS + 1])
def test_a_reused_pid_after_the_login_grace_time_is_a_new_connection(gap):
    first = datetime.fromtimestamp(1_795_000_000, UTC)
    later = datetime.fromtimestamp(1_795_000_000 + gap, UTC)
    text = (f"{first:%b %d %H:%M:%S} h sshd[8]: Invalid user x from 192.0.2.9 port 1\n"
            f"{later:%b %d %H:%M:%S} h sshd[8]: Invalid user y from 192.0.2.9 port 2\n")
    assert [c for _, c in _attempts(text)] == [True, gap > ATTEMPT_GAP_SECONDS]


def test_state_round_trips_through_json_and_arrow():
    state = ParseState()
    SyslogParser().parse_batch(Chunk("x", 0, log_bytes([(0, "h sshd[1]: " + PAM.format(ip="192.0.2.1", user="a")),
                                                        (1, "h sshd[2]: Disconnecting: Too many authentication failures [preauth]")])).lines(), CTX, state)
    again = ParseState.from_json(state.to_json())
    assert again.sessions == state.sessions
    table = again.sessions_table()
    assert ParseState.from_json(state.to_json()).sessions_table().equals(table)
    assert len(again) == 2


def test_the_cap_forgets_the_least_recently_active_sessions_at_the_end_of_a_chunk():
    lines = [(i, f"h sshd[{i}]: Failed password for root from 192.0.2.{i} port 22 ssh2") for i in range(1, 6)]
    data = log_bytes(lines)
    line_state, columnar_state = ParseState(cap=3), ParseState(cap=3)
    SyslogParser().parse_batch(Chunk("x", 0, data).lines(), CTX, line_state)
    BULK.parse(duckdb.connect(), Chunk("x", 0, data).to_arrow(), CTX, state=columnar_state)
    assert list(line_state.sessions) == [("h", 3), ("h", 4), ("h", 5)]
    assert columnar_state.sessions == line_state.sessions


def test_a_run_continued_from_the_previous_chunk_flips_the_marks_the_plan_made_alone():
    first = b"Nov 20 10:00:00 h sshd[5]: Failed password for root from 192.0.2.3 port 7 ssh2\n"
    second = (b"Nov 20 10:00:01 h sshd[5]: " + PAM.format(ip="192.0.2.3", user="root").encode() + b"\n"
              b"Nov 20 10:00:02 h sshd[5]: Failed password for root from 192.0.2.3 port 7 ssh2\n")
    chunks = [Chunk("/var/log/auth.log", 0, first), Chunk("/var/log/auth.log", len(first), second)]
    rows = parse_chunks(chunks, [False, True])
    # alone, the second chunk's PAM line would start a run and its Failed line repeat it
    assert [SAME_ATTEMPT in (r["tags"] or []) for r in rows] == [False, True, False]
    whole = to_arrow(SyslogParser().parse_batch(Chunk("/var/log/auth.log", 0, first + second).lines(), CTX,
                                                ParseState())).to_pylist()
    assert comparable(rows) == comparable(whole)


def test_an_attempt_counts_on_its_first_line_with_an_address():
    # sshd before 2006: PAM's unknown-user line, with no address, comes before its rhost= line
    text = ("Jun 15 12:12:34 combo sshd(pam_unix)[23397]: check pass; user unknown\n"
            "Jun 15 12:12:34 combo sshd(pam_unix)[23397]: authentication failure; logname= uid=0 euid=0 "
            "tty=NODEVssh ruser= rhost=218.188.2.4\n")
    events = SyslogParser().parse_batch(Chunk("x", 0, text.encode()).lines(), CTX, ParseState())
    counted = [ev.get("source.ip") for ev in events if SAME_ATTEMPT not in (ev.get("tags") or ())]
    assert counted == ["218.188.2.4"]
    assert parse_chunks([Chunk("x", 0, text.encode())], [True])[1]["tags"] == ["year_inferred"]


def test_journald_records_of_an_sshd_process_carry_its_address_and_count_attempts_once():
    import json

    from hostwarden.core.chunks import RawLine
    from hostwarden.normalize.journald import JournaldParser

    messages = [PAM.format(ip="192.0.2.5", user="root"), "Failed password for root from 192.0.2.5 port 2 ssh2",
                "Disconnecting: Too many authentication failures [preauth]"]
    records = [json.dumps({"__REALTIME_TIMESTAMP": f"17000000{i:02d}000000", "_HOSTNAME": "h", "SYSLOG_IDENTIFIER": "sshd",
                           "_PID": "5", "MESSAGE": m}) for i, m in enumerate(messages)]
    state = ParseState()
    first = JournaldParser().parse_batch([RawLine(0, records[0])], CTX, state)
    rest = JournaldParser().parse_batch([RawLine(i, r) for i, r in enumerate(records[1:], 1)], CTX, state)
    assert [ev.get("source.ip") for ev in first + rest] == ["192.0.2.5"] * 3
    assert [SAME_ATTEMPT in (ev.get("tags") or ()) for ev in first + rest] == [False, True, True]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line, min_size=1, max_size=25), st.lists(line, min_size=1, max_size=25),
       st.lists(st.floats(0, 1), max_size=3), st.lists(st.booleans(), min_size=4, max_size=4))
def test_each_file_carries_its_own_state_while_their_chunks_alternate(first, second, points, executors):
    """Two files of the same hosts and pids (a log and its rotated predecessor, or two hosts'
    logs gathered in one folder): chunks read in turn, each source with its own normalizer
    (as ingest and watch keep one per file), mean what each file means whole."""
    files = {"/var/log/auth.log": log_bytes(first), "/var/log/auth.log.1": log_bytes(second)}
    got = read_in_turn(files, "syslog", CTX, points, executors)
    for source, data in files.items():
        whole = SyslogParser().parse_batch(Chunk(source, 0, data).lines(), CTX, ParseState())
        assert got[source] == [row_of(r) for r in to_arrow(whole).to_pylist()]
