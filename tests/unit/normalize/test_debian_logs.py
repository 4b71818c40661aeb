"""A stock Debian/Ubuntu /var/log is understood: dpkg, apt, alternatives, unattended-upgrades and
the other files beside syslog parse without a line counted as not understood, files of no known
kind are recognised as such, and apt's multi-line records keep their user across chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostwarden.collect.files import FileReader
from hostwarden.core.checkpoint import MemoryCheckpoints
from hostwarden.core.chunks import Chunk, RawLine
from hostwarden.normalize.apt import AptHistoryParser, AptTermParser
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.dpkg import AlternativesParser, DpkgParser
from hostwarden.normalize.registry import (
    available_parsers,
    base_name,
    hint_for_path,
    sniff,
    sniff_chunks,
    sniff_verdict,
)
from hostwarden.normalize.source import context_for
from hostwarden.normalize.state import ParseState

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "debian-varlog"
LOG = ROOT / "var" / "log"
# Every fixture file and the parser that must read it (None: of no known kind).
EXPECTED: dict[str, str | None] = {
    "dpkg.log": "dpkg",
    "dpkg.log.1": "dpkg",
    "alternatives.log": "alternatives",
    "apt/history.log": "apt.history",
    "apt/term.log": "apt.term",
    "apt/eipp.log.xz": None,
    "unattended-upgrades/unattended-upgrades.log": "applog",
    "unattended-upgrades/unattended-upgrades-dpkg.log": "apt.term",
    "unattended-upgrades/unattended-upgrades-shutdown.log": "applog",
    "cloud-init.log": "applog",
    "cloud-init-output.log": "text",
    "fontconfig.log": "text",
    "bootstrap.log": "apt.term",
    "fail2ban.log": "applog",
    "dmesg": "applog",
    "postgresql/postgresql-15-main.log": "applog",
    "installer/hardware-summary": "text",
    "installer/status": "text",
    "installer/syslog": "syslog",
    "nginx/access.log": "web.access",
    "nginx/error.log": "web.error",
    "auth.log": "syslog",
    "vendor-agent.dat": None,
}


def parse_file(path: Path, parser_name: str) -> list[dict]:
    parser = available_parsers()[parser_name]()
    ctx, state = context_for(str(path)), ParseState()
    events: list[dict] = []
    for chunk in FileReader(path, MemoryCheckpoints()).read_chunks():
        events += parser.parse_batch(chunk.lines(), ctx, state)
    return events


def lines_of(text: str) -> list[RawLine]:
    out, offset = [], 0
    for line in text.split("\n"):
        out.append(RawLine(offset, line))
        offset += len(line.encode()) + 1
    return out


def by_action(events: list[dict], action: str) -> list[dict]:
    return [e for e in events if e.get("event.action") == action]


def test_fixture_lists_every_file() -> None:
    found = {p.relative_to(LOG).as_posix() for p in LOG.rglob("*") if p.is_file()}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_is_read_by_its_parser_and_fully_understood(name: str) -> None:
    path = LOG / name
    reader = FileReader(path, MemoryCheckpoints())
    verdict, chunks = sniff_chunks(reader.read_chunks(), hint_for_path(str(path)))
    if name.endswith(".xz"):  # compression hostwarden does not decode: the reader skips it, says why
        assert list(chunks) == [] and [n["code"] for n in reader.notices] == ["LOG-4107"]
        return
    assert verdict.parser == EXPECTED[name], verdict
    if verdict.parser is None:
        assert verdict.reason.startswith("no known format: ") and f"/{verdict.sampled} sample lines" in verdict.reason
        return
    events = parse_file(path, verdict.parser)
    assert [e["event.original"] for e in events if "parse_failure" in (e.get("tags") or [])] == []
    lines = path.read_bytes().decode().split("\n")
    assert len([e for e in events if e.get("log.offset") is not None]) >= len(lines) - 1


def test_rotated_and_compressed_names_keep_their_hint() -> None:
    assert base_name("/var/log/dpkg.log.2.gz") == "dpkg.log"
    assert base_name("/var/log/apt/term.log.11.gz") == "term.log"
    assert base_name("/var/log/syslog-20240501.xz") == "syslog"
    assert hint_for_path("/var/log/apt/history.log.1.gz") == "apt.history"
    assert hint_for_path("/var/log/installer/partman") == "text"
    assert hint_for_path("/srv/app/installer-notes.txt") is None


def test_unknown_file_named_explicitly_still_gets_a_parser() -> None:
    """A file the user named on `ingest` is never dropped: sniff() still answers a parser,
    whose lines then become parse failures, while the verdict says it is of no known kind."""
    sample = ["[state]", "last_sync=1714980000", "node=7f1d2c"]
    assert sniff_verdict(sample).parser is None
    assert sniff(sample) in available_parsers()


def test_free_text_by_name_only() -> None:
    text = ["Font directories:", "\t/usr/share/fonts", "fc-cache: succeeded"]
    assert sniff_verdict(text, "text").parser == "text"
    assert sniff_verdict(text).parser is None  # never claimed by content
    assert sniff_verdict(text, "dpkg").parser is None  # a content parser's hint is not enough


def test_dpkg_steps_carry_package_fields() -> None:
    events = parse_file(LOG / "dpkg.log", "dpkg")
    (nmap,) = [e for e in by_action(events, "package_installed") if e["package.name"] == "nmap"]
    assert nmap["package.version"] == "7.93+dfsg1-1" and nmap["package.architecture"] == "amd64"
    assert nmap["event.category"] == ["package"] and nmap["event.type"] == ["installation"]
    assert nmap["@timestamp"].isoformat() == "2024-05-02T09:58:12+00:00"
    (ssl,) = [e for e in by_action(events, "package_upgraded") if e["package.name"] == "libssl3"]
    assert (ssl["package.previous_version"], ssl["package.version"]) == ("3.0.11-1~deb12u1", "3.0.11-1~deb12u2")
    (configured,) = [e for e in by_action(events, "package_configured") if e["package.name"] == "nmap"]
    assert configured["package.version"] == "7.93+dfsg1-1" and "package.previous_version" not in configured
    (removed,) = by_action(events, "package_removed")
    assert (removed["package.name"], removed["package.version"], removed["event.type"]) == (
        "auditd", "1:3.0.9-1", ["deletion"])
    assert by_action(events, "package_purged")[0]["package.name"] == "auditd"
    (conffile,) = by_action(events, "package_conffile_resolved")
    assert conffile["file.path"] == "/etc/ssh/sshd_config" and conffile["dpkg.conffile"] == "keep"
    gone = [e for e in by_action(events, "package_status_changed") if e["package.status"] == "not-installed"]
    assert gone and "package.version" not in gone[0]


def test_dpkg_refuses_lines_of_other_formats() -> None:
    parser, ctx = DpkgParser(), ParseContext()
    for text in ("2024-05-02 09:58:11 hello world", "2024-05-02 09:58:11 install nmap", "install nmap:amd64 <none> 1"):
        assert parser.parse_line(text, ctx) is None


def test_alternatives_changes() -> None:
    events = parse_file(LOG / "alternatives.log", "alternatives")
    changed = by_action(events, "alternative_changed")
    assert [(e["alternative.group"], e.get("file.path")) for e in changed] == [
        ("editor", "/usr/bin/vim.basic"), ("iptables", None), ("editor", "/tmp/.cache/ed")]
    commands = by_action(events, "alternatives_command")
    assert commands[2]["process.command_line"] == "update-alternatives --set editor /tmp/.cache/ed"
    assert by_action(events, "alternative_removed")[0]["alternative.group"] == "java"
    assert AlternativesParser().parse_line("update-alternatives: using /usr/bin/x to provide y", ParseContext()) is None


def test_apt_history_one_event_per_package_with_who_and_how() -> None:
    events = parse_file(LOG / "apt" / "history.log", "apt.history")
    installed = by_action(events, "package_installed")
    assert [e["package.name"] for e in installed] == ["nmap-common", "nmap", "liblinear4"]
    for ev in installed:
        assert ev["user.name"] == "alice" and ev["user.id"] == "1000"
        assert ev["process.command_line"] == "apt-get install -y nmap" and ev["process.name"] == "apt-get"
        assert ev["@timestamp"].isoformat() == "2024-05-02T09:58:10+00:00"
        assert ev["event.type"] == ["installation"] and ev["event.category"] == ["package"]
    assert installed[0]["package.auto_installed"] == "true" and "package.auto_installed" not in installed[1]
    upgrades = by_action(events, "package_upgraded")
    assert [(e["package.name"], e["package.previous_version"], e["package.version"], e.get("user.name"))
            for e in upgrades] == [
        ("libssl3", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2", "alice"),
        ("openssh-server", "1:9.2p1-2+deb12u2", "1:9.2p1-2+deb12u3", None),  # unattended-upgrade: nobody
        ("openssh-client", "1:9.2p1-2+deb12u2", "1:9.2p1-2+deb12u3", None)]
    assert upgrades[1]["process.name"] == "unattended-upgrade"
    (purged,) = by_action(events, "package_purged")
    assert (purged["package.name"], purged["user.name"], purged["event.type"]) == ("auditd", "mallory", ["deletion"])
    (down,) = by_action(events, "package_downgraded")
    assert (down["package.previous_version"], down["package.version"]) == ("7.88.1-10+deb12u5", "7.88.1-10+deb12u4")
    (error,) = by_action(events, "apt_error")
    assert error["event.outcome"] == "failure" and error["user.name"] == "bob"
    ended = by_action(events, "apt_run_ended")
    assert ended[0]["@timestamp"].isoformat() == "2024-05-02T09:58:15+00:00"


def test_apt_history_event_ids_are_distinct_and_the_line_is_kept_whole() -> None:
    events = parse_file(LOG / "apt" / "history.log", "apt.history")
    text = (LOG / "apt" / "history.log").read_bytes()
    offsets = [e["log.offset"] for e in events]
    assert len(offsets) == len(set(offsets))
    for ev in events:  # every event's original is the file's bytes at its offset
        raw = ev["event.original"].encode()
        assert text[ev["log.offset"]:ev["log.offset"] + len(raw)] == raw
    (line,) = [e for e in by_action(events, "apt_package_list") if e["event.original"].startswith("Install:")]
    assert line["event.original"].count("(") == 3


@pytest.mark.parametrize("cut", range(1, 8))
def test_apt_history_record_split_by_a_chunk_boundary_keeps_its_user(cut: int) -> None:
    data = (LOG / "apt" / "history.log").read_bytes()
    lines = data.split(b"\n")
    split = len(b"\n".join(lines[:cut])) + 1
    ctx, state = ParseContext(), ParseState()
    whole = AptHistoryParser().parse_batch(Chunk("h", 0, data).lines(), ctx, ParseState())
    # the header travels in the source's state, not in the parser: another instance reads on
    parts = AptHistoryParser().parse_batch(Chunk("h", 0, data[:split]).lines(), ctx, state)
    parts += AptHistoryParser().parse_batch(Chunk("h", split, data[split:]).lines(), ctx, state)
    assert parts == whole
    # cuts 4-6 fall inside alice's record, after her Requested-By line
    assert [e.get("user.name") for e in parts if e.get("event.action") == "package_installed"][:3] == ["alice"] * 3


def test_an_open_apt_record_survives_the_states_json() -> None:
    data = (LOG / "apt" / "history.log").read_bytes()
    split = len(b"\n".join(data.split(b"\n")[:4])) + 1  # after alice's Requested-By line
    ctx, state = ParseContext(), ParseState()
    AptHistoryParser().parse_batch(Chunk("h", 0, data[:split]).lines(), ctx, state)
    again = ParseState.from_json(state.to_json())
    assert again.record == state.record and again.record.fields["user.name"] == "alice"
    rest = Chunk("h", split, data[split:]).lines()
    assert AptHistoryParser().parse_batch(rest, ctx, again) == AptHistoryParser().parse_batch(rest, ctx, state)


def test_apt_history_bad_lines_are_failures_not_crashes() -> None:
    events = AptHistoryParser().parse_batch(lines_of("Start-Date: never\nInstall: (((\ngarbage line\n"), ParseContext())
    assert [("parse_failure" in (e.get("tags") or []), e.get("event.action")) for e in events] == [
        (False, "apt_run_started"), (False, "apt_package_list"), (True, None), (False, "apt_record_separator")]
    assert "@timestamp" not in events[0]


def test_apt_term_transcript() -> None:
    events = parse_file(LOG / "apt" / "term.log", "apt.term")
    unpacked = by_action(events, "dpkg_unpacking")
    assert [(e["package.name"], e.get("package.previous_version")) for e in unpacked] == [
        ("libssl3", "3.0.11-1~deb12u1"), ("nmap-common", None), ("nmap", None)]
    assert all(e["@timestamp"].isoformat() == "2024-05-02T09:58:10+00:00" for e in unpacked)
    assert [e["package.name"] for e in by_action(events, "dpkg_removing")] == ["auditd"]
    output = by_action(events, "terminal_output")
    assert any("could not determine current runlevel" in e["message"] for e in output)
    assert output[-1]["@timestamp"].isoformat() == "2024-05-04T22:03:08+00:00"
    assert AptTermParser().sniff(["Font directories:", "fc-cache: succeeded"]) == 0.0


def test_unattended_upgrades_runs() -> None:
    events = parse_file(LOG / "unattended-upgrades" / "unattended-upgrades.log", "applog")
    assert {e["event.dataset"] for e in events} == {"unattended_upgrades"}
    (planned,) = by_action(events, "unattended_upgrade_planned")
    assert planned["package.names"] == "openssh-client openssh-server"
    (failed,) = by_action(events, "unattended_upgrade_failed")
    assert failed["event.outcome"] == "failure" and failed["log.level"] == "error"
    trace = by_action(events, "log_continuation")
    assert len(trace) == 4 and trace[-1]["message"].startswith("apt_pkg.Error")
    framed = events[events.index(trace[0]) - 1]  # a traceback belongs to the record before it
    assert framed["log.level"] == "error" and all(e["@timestamp"] == framed["@timestamp"] for e in trace)
    assert planned["@timestamp"].isoformat() == "2024-05-03T06:31:10.902000+00:00"


def test_other_stock_application_logs() -> None:
    f2b = parse_file(LOG / "fail2ban.log", "applog")
    (ban,) = by_action(f2b, "ip_banned")
    assert (ban["source.ip"], ban["fail2ban.jail"], ban["process.pid"]) == ("203.0.113.77", "sshd", 612)
    pg = parse_file(LOG / "postgresql" / "postgresql-15-main.log", "applog")
    (denied,) = by_action(pg, "db_auth_failed")
    assert denied["user.name"] == "postgres" and denied["event.outcome"] == "failure"
    assert denied["@timestamp"].isoformat() == "2024-05-06T04:22:40.615000+00:00"
    cloud = parse_file(LOG / "cloud-init.log", "applog")
    assert cloud[0]["event.dataset"] == "cloud_init" and cloud[0]["log.logger"] == "util.py"
    kernel = parse_file(LOG / "dmesg", "applog")
    assert kernel[2]["kernel.uptime"] == "1.284112" and "@timestamp" not in kernel[2]


def test_a_stock_var_log_scans_with_no_line_not_understood(tmp_path: Path) -> None:
    from hostwarden.pipelines.scan.logs import LogScanner
    from hostwarden.scan.base import ScanContext

    scanner = LogScanner()
    ctx = ScanContext(root=ROOT, data_dir=tmp_path / "data")
    assert scanner.scan(ctx) == []
    summary = scanner.summary
    assert summary["parse_failures"] == 0
    skipped = {Path(s["path"]).relative_to(LOG).as_posix(): s["reason"] for s in summary["skipped"]}
    assert set(skipped) == {name for name, parser in EXPECTED.items() if parser is None}
    assert all(reason.startswith("no known format") for name, reason in skipped.items() if not name.endswith(".xz"))
    assert "compress" in skipped["apt/eipp.log.xz"]  # left out by the walk, before any parser looked
    assert {n["code"] for n in ctx.notices} >= {"LOG-4106", "LOG-4107"}
    assert {"dpkg", "apt.history", "apt.term", "alternatives", "unattended_upgrades", "cloud_init", "fail2ban",
            "postgresql", "kernel", "text", "sshd"} <= set(summary["by_dataset"])


def test_ingest_dedupes_package_events_and_keeps_an_explicit_unknown_file(tmp_path: Path) -> None:
    from hostwarden.pipelines.ingest import ingest_chunks
    from hostwarden.store.eventstore import EventStore

    history, unknown = LOG / "apt" / "history.log", LOG / "vendor-agent.dat"
    with EventStore(tmp_path / "data") as store:
        first = ingest_chunks(store, FileReader(history, MemoryCheckpoints()).read_chunks(), ctx=context_for(str(history)))
        again = ingest_chunks(store, FileReader(history, MemoryCheckpoints()).read_chunks(), ctx=context_for(str(history)))
        assert first.stored == first.events == 37 and first.parse_failures == 0
        assert again.stored == 0
        rows = store.query('SELECT "user.name", "process.command_line", "package.name" FROM events '
                           "WHERE \"event.action\" = 'package_installed'")
        assert {(user, cmd, name) for user, cmd, name in rows} == {
            ("alice", "apt-get install -y nmap", name) for name in ("nmap-common", "nmap", "liblinear4")}
        named = ingest_chunks(store, FileReader(unknown, MemoryCheckpoints()).read_chunks(), ctx=context_for(str(unknown)))
        assert named.stored == 6 and named.parse_failures >= 4  # the user asked for it: stored, flagged
