"""The columnar DuckDB path must produce exactly what the per-line reference parser produces."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import duckdb
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hostwarden.core.chunks import Chunk
from hostwarden.core.schema import FIELD_NAMES, to_arrow
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.bulk import BulkSyslog
from hostwarden.normalize.syslog import SyslogParser

BULK = BulkSyslog()
REF = datetime(2026, 1, 3, 12, 0, tzinfo=UTC)


def both(data: bytes, ctx: ParseContext) -> tuple[list[dict], list[dict]]:
    chunk = Chunk("/var/log/test.log", 1000, data)
    con = duckdb.connect()
    name = BULK.parse(con, chunk.to_arrow(), ctx)
    bulk = con.sql(f'SELECT * FROM {name} ORDER BY "log.offset"').to_arrow_table().to_pylist()
    ref = to_arrow(SyslogParser().parse_batch(chunk.lines(), ctx)).to_pylist()
    return bulk, ref


def assert_same(bulk: list[dict], ref: list[dict]) -> None:
    assert len(bulk) == len(ref)
    for b, r in zip(bulk, ref, strict=True):
        for field in FIELD_NAMES:
            vb, vr = b.get(field), r[field]
            if field == "labels":
                vb, vr = dict(vb or []), dict(vr or [])
            assert vb == vr, (field, b["event.original"])


TEMPLATES = [
    "{ts} {host} sshd[{pid}]: Failed password for {user} from {ip} port {port} ssh2",
    "{ts} {host} sshd[{pid}]: Failed password for invalid user {user} from {ip} port {port} ssh2",
    "{ts} {host} sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:x",
    "{ts} {host} sshd[{pid}]: Invalid user {user} from {ip} port {port}",
    "{ts} {host} sshd[{pid}]: Connection closed by authenticating user {user} {ip} port {port} [preauth]",
    "{ts} {host} sshd[{pid}]: Disconnecting: Too many authentication failures for {user} [preauth]",
    "{ts} {host} sshd[{pid}]: Connection from {ip} port {port} on 10.0.0.1 port 22",
    "{ts} {host} sshd[{pid}]: Received disconnect from {ip} port {port}:11: Bye Bye [preauth]",
    "{ts} {host} sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}",
    "{ts} {host} sshd[{pid}]: Failed password for root from {user}.example.com port {port} ssh2",
    "{ts} {host} sudo: {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/id",
    "{ts} {host} CRON[{pid}]: ({user}) CMD (run-parts /etc/cron.hourly)",
    "{ts} {host} kernel: [12345.678] eth0: link up",
    "<{pri}>{ts} {host} sshd[{pid}]: Invalid user {user} from {ip}",
    "<{pri}>1 2026-01-02T03:04:05.123456Z {host} sshd {pid} - - Failed password for {user} from {ip} port {port} ssh2",
    "2026-01-02T03:04:05+08:00 {host} sshd[{pid}]: Accepted password for {user} from {ip} port {port} ssh2",
    "{ts} {host} {prog}: {junk}",
    "{ts} {host} {prog}[{pid}]:  {junk}",
    "{junk}",
]

ts = st.builds(
    # Space-padded or bare day, two- or one-digit hour: the columnar plan cuts the common header
    # with string functions, so every spacing the framing regexes accept must come out the same.
    lambda m, d, h, y, pad, short: (f"{m} {d:>2}" if pad else f"{m} {d}")
    + (f" {h}" if short else f" {h:02d}") + f":{h % 60:02d}:{(h * 7) % 60:02d}" + (f" {y}" if y else ""),
    st.sampled_from(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]),
    st.integers(1, 31),
    st.integers(0, 23),
    st.sampled_from([None, None, 2024]),
    st.booleans(),
    st.booleans(),
)
token = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]), min_size=0, max_size=8)
line = st.builds(
    lambda t, **kw: t.format(**kw),
    st.sampled_from(TEMPLATES),
    ts=ts,
    host=st.sampled_from(["web01", "db-2", "h.example.com"]),
    pid=st.integers(1, 99999),
    user=st.one_of(st.sampled_from(["root", "admin", "", "a b"]), token),
    ip=st.sampled_from(["203.0.113.9", "2001:db8::1", "::ffff:1.2.3.4", "not-an-ip", "10.0.0.5"]),
    port=st.integers(0, 70000),
    pri=st.integers(0, 200),
    junk=st.text(max_size=40),
    prog=st.sampled_from(["systemd", "CRON", "sshd(pam_unix)", "su", "a[b", "x]", "-", "kernel"]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=[Phase.explicit, Phase.generate])
@given(st.lists(line, min_size=1, max_size=40), st.sampled_from(["UTC", "Asia/Shanghai", "America/New_York"]))
def test_bulk_and_per_line_agree_on_generated_lines(lines, zone):
    data = "\n".join(lines).encode("utf-8") + b"\n"
    bulk, ref = both(data, ParseContext(reference_time=REF, tz=ZoneInfo(zone)))
    assert_same(bulk, ref)


def test_agree_on_crlf_invalid_utf8_and_missing_final_newline():
    data = (
        b"Jan  2 03:04:05 h sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2\r\n"
        b"Jan  2 03:04:06 h sshd[1]: Invalid user \xff\xfe from 1.2.3.4\n"
        b"\n"
        b"Jan  2 03:04:07 h sshd[1]: Disconnecting: Too many authentication failures [preauth]"
    )
    bulk, ref = both(data, ParseContext(reference_time=REF))
    assert_same(bulk, ref)
    assert bulk[0]["event.original"].endswith("ssh2")  # CR removed
    assert "invalid_utf8" in bulk[1]["tags"]
    assert bulk[3]["source.ip"] == "1.2.3.4"  # carried within the sshd session
    starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == 10]
    assert [b["log.offset"] for b in bulk] == [1000 + s for s in starts]
