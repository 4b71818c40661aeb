"""apt's logs: /var/log/apt/history.log (who ran apt, and what it did) and term.log (dpkg's output).

history.log is a file of multi-line records (apt's `apt-pkg/deb/dpkgpm.cc`):

    Start-Date: 2024-05-02  10:00:00
    Commandline: apt-get install -y nmap
    Requested-By: alice (1000)
    Install: nmap:amd64 (7.93+dfsg1-1), libblas3:amd64 (3.11.0-2, automatic)
    Upgrade: libssl3:amd64 (3.0.11-1~deb12u1, 3.0.11-1~deb12u2)
    End-Date: 2024-05-02  10:00:04

Each package action becomes its own event carrying the record's time, the user who ran apt
(`Requested-By`, present when apt ran under sudo) and its command line. The record's header is
carried from line to line and from one chunk to the next in the source's `ParseState`
(`state.record`), so a record split by a chunk boundary keeps its user; no line is held back, so
a crash between chunks loses nothing (auditd.py's rule). Without a state a batch stands alone.

Event identity: the line itself is stored whole at its own offset; each package of a list line
is an event at the byte offset of its entry within the line, with the entry as `event.original`,
so every event id stays distinct and a re-read deduplicates exactly.

term.log (also unattended-upgrades-dpkg.log, debootstrap's bootstrap.log) is a transcript of
dpkg's terminal: `Log started:` headers, dpkg's progress lines and whatever maintainer scripts
print. Every line of it is terminal output, so none is a parse failure; dpkg's progress lines
also name the package.
"""

from __future__ import annotations

import re
from typing import Any

from hostwarden.core.chunks import RawLine
from hostwarden.normalize.base import ParseContext, parse_failure
from hostwarden.normalize.dpkg import local_time, package_fields
from hostwarden.normalize.state import ParseState, RecordHeader

_FIELD = re.compile(r"^(?P<key>[A-Z][A-Za-z-]*): ?(?P<value>.*)$")
_DATE = r"\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d"
# One package of a list: `name[:arch] (v1[, v2][, automatic])`.
_ENTRY = re.compile(r"(?P<pkg>[^\s:(),]+)(?::(?P<arch>[^\s:(),]+))? \((?P<versions>[^()]*)\)")
_REQUESTER = re.compile(r"^(?P<name>\S+) \((?P<uid>\d+)\)$")
# history.log list key -> (event.action, event.type)
LIST_KEYS: dict[str, tuple[str, str]] = {
    "Install": ("package_installed", "installation"),
    "Reinstall": ("package_reinstalled", "installation"),
    "Upgrade": ("package_upgraded", "change"),
    "Downgrade": ("package_downgraded", "change"),
    "Remove": ("package_removed", "deletion"),
    "Purge": ("package_purged", "deletion"),
}
HEADER_KEYS = ("Start-Date", "End-Date", "Commandline", "Requested-By", "Error")


def _base(dataset: str, line: RawLine, action: str, message: str) -> dict[str, Any]:
    ev: dict[str, Any] = {"event.kind": "event", "event.dataset": dataset, "event.module": "apt",
                          "event.category": ["package"], "event.type": ["info"], "event.action": action,
                          "event.original": line.text, "log.offset": line.offset, "message": message}
    if line.tags:
        ev["tags"] = sorted(line.tags)
    return ev


class AptHistoryParser:
    dataset = "apt.history"

    def sniff(self, lines: list[str]) -> float:
        if not lines:
            return 0.0
        hits = 0
        for text in lines:
            m = _FIELD.match(text)
            hits += bool(m and (m["key"] in HEADER_KEYS or m["key"] in LIST_KEYS))
        return hits / len(lines)

    def parse_batch(self, lines: list[RawLine], ctx: ParseContext, state: ParseState | None = None) -> list[dict[str, Any]]:
        record = (state if state is not None else ParseState()).record
        out: list[dict[str, Any]] = []
        for line in lines:
            try:
                out.extend(self._line(line, ctx, record))
            except Exception:  # a bug on hostile input must not lose the line
                out.append(_unknown(line, self.dataset))
        return out

    def _line(self, line: RawLine, ctx: ParseContext, record: RecordHeader) -> list[dict[str, Any]]:
        text = line.text
        if not text.strip():
            ev = _base(self.dataset, line, "apt_record_separator", "")
            when = record.time or record.ended
            if when is not None:
                ev["@timestamp"] = when
            return [ev]
        m = _FIELD.match(text)
        if m is None:
            return [_unknown(line, self.dataset)]
        key, value = m["key"], m["value"].strip()
        ev = _base(self.dataset, line, "apt_history_field", text)
        ev["apt.field"] = key
        if key == "Start-Date":
            record.start(local_time(value, ctx))
            ev.update({"event.action": "apt_run_started", "event.type": ["start"]})
        elif key == "End-Date":
            ev.update({"event.action": "apt_run_ended", "event.type": ["end"]})
            ended = local_time(value, ctx)
            _with_record(ev, record)
            if ended is not None:
                ev["@timestamp"] = record.ended = ended
            record.start(None)
            return [ev]
        elif key == "Commandline":
            record.fields["process.command_line"] = value
            record.fields["process.name"] = value.split(" ", 1)[0].rsplit("/", 1)[-1]
            ev["event.action"] = "apt_command"
        elif key == "Requested-By":
            who = _REQUESTER.match(value)
            record.fields["user.name"] = who["name"] if who else value
            if who:
                record.fields["user.id"] = who["uid"]
            ev["event.action"] = "apt_requested_by"
        elif key == "Error":
            ev.update({"event.action": "apt_error", "event.outcome": "failure", "error.message": value})
        _with_record(ev, record)
        if key not in LIST_KEYS:
            return [ev]
        ev["event.action"] = "apt_package_list"
        return [ev, *self._packages(line, key, m.start("value"), record)]

    def _packages(self, line: RawLine, key: str, start: int, record: RecordHeader) -> list[dict[str, Any]]:
        action, kind = LIST_KEYS[key]
        text = line.text
        out = []
        for entry in _ENTRY.finditer(text, start):
            versions = [v.strip() for v in entry["versions"].split(",")]
            automatic = "automatic" in versions
            versions = [v for v in versions if v and v != "automatic"]
            previous, version = (versions[0], versions[-1]) if len(versions) > 1 else (None, versions[0] if versions else None)
            offset = line.offset + len(text[: entry.start()].encode("utf-8", "replace"))
            ev = _base(self.dataset, RawLine(offset, entry.group(0), line.tags), action, f"{key}: {entry.group(0)}")
            ev.update({"event.type": [kind], "event.outcome": "success", "apt.field": key})
            ev.update(package_fields(entry["pkg"], entry["arch"], version, previous))
            if automatic:
                ev["package.auto_installed"] = "true"
            _with_record(ev, record)
            out.append(ev)
        return out


def _with_record(ev: dict[str, Any], record: RecordHeader) -> None:
    """The record's time, user and command line on one of its events."""
    if record.time is not None:
        ev["@timestamp"] = record.time
    ev.update(record.fields)
    if "user.name" in record.fields:
        ev["related.user"] = [record.fields["user.name"]]


def _unknown(line: RawLine, dataset: str) -> dict[str, Any]:
    return parse_failure(line, dataset)


_PKG = r"(?P<pkg>[^\s:()]+)(?::(?P<arch>[^\s:()]+))?"
_VER = r"\((?P<version>[^()]*)\)"
# dpkg's progress lines (dpkg's `src/main/` `printf(_("Unpacking %s (%s) ...\n"), …)` and friends).
TERM_LINES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Log (?P<edge>started|ended): (?P<ts>" + _DATE + r")$"), "apt_log"),
    (re.compile(r"^Selecting previously unselected package " + _PKG + r"\.$"), "dpkg_selecting"),
    (re.compile(r"^Preparing to unpack (?P<file>\S+) \.\.\.$"), "dpkg_preparing"),
    (re.compile(r"^Unpacking " + _PKG + " " + _VER + r"(?: over \((?P<previous>[^()]*)\))? \.\.\.$"), "dpkg_unpacking"),
    (re.compile(r"^Setting up " + _PKG + " " + _VER + r" \.\.\.$"), "dpkg_setting_up"),
    (re.compile(r"^Processing triggers for " + _PKG + " " + _VER + r" \.\.\.$"), "dpkg_triggers"),
    (re.compile(r"^Removing " + _PKG + " " + _VER + r" \.\.\.$"), "dpkg_removing"),
    (re.compile(r"^Purging configuration files for " + _PKG + " " + _VER + r" \.\.\.$"), "dpkg_purging"),
    (re.compile(r"^\(Reading database \.\.\."), "dpkg_reading_database"),
)
# Other lines maintainer scripts commonly print: not parsed further, but they tell a dpkg
# transcript from any other text when sniffing.
_TERM_NOISE = re.compile(r"^(?:update-alternatives: |Created symlink |debconf: |invoke-rc\.d: |dpkg: |Adding |"
                         r"Removing |Updating |Generating |Running |Processing |\(Reading database|done\.$)")


class AptTermParser:
    """A dpkg terminal transcript; the by-name parser of term.log and its kin (any line is output)."""

    dataset = "apt.term"
    claims_by_name = True  # chosen for its file names even when few lines are dpkg's own

    def sniff(self, lines: list[str]) -> float:
        if not lines:
            return 0.0
        hits = sum(1 for text in lines if _TERM_NOISE.match(text) or any(r.match(text) for r, _ in TERM_LINES))
        return hits / len(lines)

    def parse_batch(self, lines: list[RawLine], ctx: ParseContext, state: ParseState | None = None) -> list[dict[str, Any]]:
        record = (state if state is not None else ParseState()).record  # `time`: the last `Log started`
        return [self._line(line, ctx, record) for line in lines]

    def _line(self, line: RawLine, ctx: ParseContext, record: RecordHeader) -> dict[str, Any]:
        text = line.text
        ev = _base(self.dataset, line, "terminal_output", text)
        for regex, action in TERM_LINES:
            m = regex.match(text)
            if m is None:
                continue
            groups = m.groupdict()
            if action == "apt_log":
                ts = local_time(groups["ts"], ctx)
                if groups["edge"] == "started":
                    record.time = ts
                ev.update({"event.action": f"apt_log_{groups['edge']}",
                           "event.type": ["start" if groups["edge"] == "started" else "end"]})
                if ts is not None:
                    ev["@timestamp"] = ts
                return ev
            ev["event.action"] = action
            if groups.get("pkg"):
                ev.update(package_fields(groups["pkg"], groups.get("arch"), groups.get("version"), groups.get("previous")))
            if groups.get("file"):
                ev["file.path"] = groups["file"]
            break
        if not text.strip():
            ev["event.action"] = "apt_record_separator"
        if record.time is not None:
            ev["@timestamp"] = record.time
        return ev
