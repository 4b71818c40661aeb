"""Syslog framing, timestamps and sshd messages, on the per-line (reference) parser."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hostwarden.normalize.base import ParseContext, RawLine
from hostwarden.normalize.syslog import SyslogParser

REF = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def parse(line: str, **ctx_kw) -> dict:
    ctx = ParseContext(reference_time=ctx_kw.pop("ref", REF), **ctx_kw)
    return SyslogParser().parse_batch([RawLine(0, line)], ctx)[0]


@pytest.mark.parametrize(
    "line, host, prog, pid, when",
    [
        ("Nov 28 09:16:03 srv sshd[32307]: Connection closed by 192.0.2.1", "srv", "sshd", 32307, datetime(2026, 11, 28, 9, 16, 3)),
        ("Feb  7 16:01:07 linux-m899 su: x", "linux-m899", "su", None, datetime(2026, 2, 7, 16, 1, 7)),
        ("Feb 7 16:01:07 nas sshd[1]: x", "nas", "sshd", 1, datetime(2026, 2, 7, 16, 1, 7)),
        ("Mar 12 2024 10:00:00 h cron[5]: x", "h", "cron", 5, datetime(2024, 3, 12, 10, 0, 0)),
        ("Mar 12 10:00:00 2023 h cron[5]: x", "h", "cron", 5, datetime(2023, 3, 12, 10, 0, 0)),
        ("<38>Mar 12 10:00:00 h sshd[5]: x", "h", "sshd", 5, datetime(2026, 3, 12, 10, 0, 0)),
        ("Nov 23 21:50:19 sshd[8148]: Disconnecting: Too many authentication failures", None, "sshd", 8148, datetime(2026, 11, 23, 21, 50, 19)),
        ("2015-04-16T18:02:50.321974+02:00 host sshd[2716]: x", "host", "sshd", 2716, datetime(2015, 4, 16, 16, 2, 50, 321974)),
        ("<38>1 2019-07-08T17:40:16.954167-04:00 h.example.com sshd 57915 - - Failed unknown for invalid user r from 192.0.2.1 port 59197 ssh2",
         "h.example.com", "sshd", 57915, datetime(2019, 7, 8, 21, 40, 16, 954167)),
        ("Jun 14 04:04:22 combo syslogd 1.4.1: restart.", "combo", None, None, datetime(2026, 6, 14, 4, 4, 22)),
        ("Mar  3 00:17:22 [sshd]: User root from 211.188.220.49 not allowed because not listed in AllowUsers", None, "sshd", None, datetime(2026, 3, 3, 0, 17, 22)),
        ("srv sshd[13709]: error: PAM: Authentication failure for x from 192.0.2.6", "srv", "sshd", 13709, None),
    ],
)
def test_framings(line, host, prog, pid, when):
    ev = parse(line)
    assert "parse_failure" not in (ev.get("tags") or [])
    assert ev.get("host.name") == host
    assert ev.get("process.name") == prog
    assert ev.get("process.pid") == pid
    assert ev.get("@timestamp") == (when.replace(tzinfo=UTC) if when else None)
    assert ev["event.original"] == line


def test_year_rollover_uses_previous_year_for_future_dates():
    # A December line in a file last written in January belongs to last year.
    ev = parse("Dec 31 23:59:59 h sshd[1]: x", ref=datetime(2027, 1, 2, tzinfo=UTC))
    assert ev["@timestamp"] == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert "year_inferred" in ev["tags"]


def test_local_time_zone_is_applied_to_zone_less_timestamps():
    ev = parse("Nov 28 09:00:00 h sshd[1]: x", tz=ZoneInfo("Asia/Shanghai"))
    assert ev["@timestamp"] == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


def test_priority_is_decoded():
    ev = parse("<86>Nov 28 09:00:00 h sudo: x")
    assert (ev["log.syslog.priority"], ev["log.syslog.facility.code"], ev["log.syslog.severity.code"]) == (86, 10, 6)


@pytest.mark.parametrize("line", ["", "garbage without any header", "\x00\x01\x02", "12345", "<999>"])
def test_unframed_lines_become_parse_failures_with_raw_text(line):
    ev = parse(line)
    assert "parse_failure" in ev["tags"]
    assert ev["event.original"] == line
    assert ev["error.code"] == "LOG-4101"


SSHD = [
    ("Failed password for root from 203.0.113.9 port 50273 ssh2", "ssh_login_failed", "failure", "root", "203.0.113.9", 50273),
    ("Failed password for invalid user ROOT from aaaa:bbbb:cccc:1234::1:1 port 12345", "ssh_login_failed", "failure", "ROOT", "aaaa:bbbb:cccc:1234::1:1", 12345),
    ("Failed publickey for git from 192.0.2.1 port 57904 ssh2: ECDSA 0e:ff", "ssh_login_failed", "failure", "git", "192.0.2.1", 57904),
    ("Failed keyboard-interactive/pam for invalid user jamedds from 205.186.180.77 port 33723 ssh2", "ssh_login_failed", "failure", "jamedds", "205.186.180.77", 33723),
    ("Failed none for invalid user admin from 1.2.3.4 port 22 ssh2", "ssh_login_failed", "failure", "admin", "1.2.3.4", 22),
    # attacker-controlled user name and auth info must not decide the address (fail2ban's cases)
    ("Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2", "ssh_login_failed", "failure", "test from 10.10.1.2 port 55555 ssh2", "127.0.0.1", 58946),
    ("Failed password for invalid user test from 127.0.0.1 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2", "ssh_login_failed", "failure", "test", "127.0.0.1", 58946),
    ("Accepted publickey for deploy from 198.51.100.7 port 41234 ssh2: RSA SHA256:abc", "ssh_login", "success", "deploy", "198.51.100.7", 41234),
    ("Accepted password for alice from 198.51.100.7 port 41234 ssh2", "ssh_login", "success", "alice", "198.51.100.7", 41234),
    ("Accepted keyboard-interactive/pam for bob from 198.51.100.8 port 2222 ssh2", "ssh_login", "success", "bob", "198.51.100.8", 2222),
    ("Invalid user webmaster from 173.234.31.186", "ssh_invalid_user", "failure", "webmaster", "173.234.31.186", None),
    ("Invalid user ftp from 192.0.2.2 port 37220", "ssh_invalid_user", "failure", "ftp", "192.0.2.2", 37220),
    ("Connection closed by authenticating user root 192.0.2.10 port 46038 [preauth]", "ssh_connection_closed", "failure", "root", "192.0.2.10", 46038),
    ("Connection reset by invalid user admin 192.0.2.20 port 1558 [preauth]", "ssh_connection_closed", "failure", "admin", "192.0.2.20", 1558),
    ("Connection closed by 192.0.2.5", "ssh_connection_closed", "unknown", None, "192.0.2.5", None),
    ("Disconnected from user root 192.0.2.4 port 36985", "ssh_disconnected", "unknown", "root", "192.0.2.4", 36985),
    ("Received disconnect from 198.51.100.76 port 58846:11: Bye Bye [preauth]", "ssh_received_disconnect", "failure", None, "198.51.100.76", 58846),
    ("Received disconnect from 10.0.0.9 port 40000:11: disconnected by user", "ssh_received_disconnect", None, None, "10.0.0.9", 40000),
    ("error: maximum authentication attempts exceeded for root from 61.0.0.1 port 49940 ssh2 [preauth]", "ssh_max_auth_exceeded", "failure", "root", "61.0.0.1", 49940),
    ("Did not receive identification string from 69.61.56.114", "ssh_no_identification", "failure", None, "69.61.56.114", None),
    ("Bad protocol version identification 'dummy string' from 192.0.2.1' from 69.61.56.115 port 31778", "ssh_bad_protocol", "failure", None, "69.61.56.115", 31778),
    ("Unable to negotiate with 192.0.2.1 port 55419: no matching cipher found. Their offer: aes256-cbc [preauth]", "ssh_negotiation_failed", "failure", None, "192.0.2.1", 55419),
    ("reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!", "ssh_reverse_mapping_failed", None, None, "173.234.31.186", None),
    ("PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=103.99.0.122  user=root", "ssh_pam_more_failures", "failure", "root", "103.99.0.122", None),
    ("error: PAM: Authentication failure for stefanor from example.com", "ssh_pam_failure", "failure", "stefanor", None, None),
    ("ROOT LOGIN REFUSED FROM ::ffff:1.2.3.4", "ssh_root_login_refused", "failure", "root", "1.2.3.4", None),
    ("User root from 46.45.128.3 not allowed because listed in DenyUsers", "ssh_user_not_allowed", "failure", "root", "46.45.128.3", None),
    ("message repeated 2 times: [ Failed password for root from 183.62.140.253 port 52540 ssh2]", "ssh_login_failed", "failure", "root", "183.62.140.253", 52540),
    ("Server listening on 0.0.0.0 port 22.", "ssh_server_listening", None, None, None, None),
]


@pytest.mark.parametrize("message, action, outcome, user, ip, port", SSHD)
def test_sshd_messages(message, action, outcome, user, ip, port):
    ev = parse(f"Nov 28 09:16:03 web01 sshd[4242]: {message}")
    assert ev["event.dataset"] == "sshd"
    assert ev.get("event.action") == action
    assert ev.get("event.outcome") == outcome
    assert ev.get("user.name") == user
    assert ev.get("source.ip") == ip
    assert ev.get("source.port") == port


def test_host_names_in_address_position_become_source_domain():
    ev = parse("Nov 28 09:16:03 web01 sshd[1]: Failed password for root from bad.example.com port 22 ssh2")
    assert ev.get("source.ip") is None
    assert ev["source.domain"] == "bad.example.com"


def test_session_address_is_carried_to_later_lines_of_the_same_process():
    p = SyslogParser()
    ctx = ParseContext(reference_time=REF)
    lines = [
        "Feb 12 04:09:18 h sshd[26713]: Connection from 115.249.163.77 port 51353",
        "Feb 12 04:09:19 h sshd[999]: Disconnecting: Too many authentication failures [preauth]",
        "Feb 12 04:09:21 h sshd[26713]: Disconnecting: Too many authentication failures for root [preauth]",
    ]
    events = p.parse_batch([RawLine(i, t) for i, t in enumerate(lines)], ctx)
    assert events[2]["source.ip"] == "115.249.163.77" and events[2]["source.port"] == 51353
    assert "source.ip" not in events[1]  # another process: nothing to carry


def test_dropbear_messages():
    ev = parse("Mar 24 15:25:51 buffalo1 dropbear[4092]: bad password attempt for 'root' from ::ffff:198.51.100.87:5543")
    assert (ev["event.action"], ev["user.name"], ev["source.ip"], ev["source.port"]) == ("ssh_login_failed", "root", "198.51.100.87", 5543)
