"""dpkg's own log (/var/log/dpkg.log) and update-alternatives' (/var/log/alternatives.log).

Who installed what, and when, is a security record: a package installed outside the usual
maintenance window, a network tool appearing on a web server, or an editor alternative
re-pointed at a wrapper script all show up here first. dpkg writes one line per step
(dpkg's `src/main/` `log_action` and `log_message`):

    2024-05-02 10:00:01 startup archives unpack
    2024-05-02 10:00:01 install nmap:amd64 <none> 7.93+dfsg1-1
    2024-05-02 10:00:01 upgrade libssl3:amd64 3.0.11-1~deb12u1 3.0.11-1~deb12u2
    2024-05-02 10:00:02 status half-installed nmap:amd64 7.93+dfsg1-1
    2024-05-02 10:00:02 configure nmap:amd64 7.93+dfsg1-1 <none>
    2024-05-02 10:00:02 conffile /etc/ssh/sshd_config keep

Times are local time without a zone (the context's zone applies). Package fields follow ECS
(`package.name`, `package.version`, `package.architecture`); the version a step replaces is
`package.previous_version` (no ECS home: it lands in `labels`).
"""

from __future__ import annotations

import re
from typing import Any

from hostwarden.normalize.base import LineParser, ParseContext
from hostwarden.normalize.syslog import parse_iso

_STAMP = r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"
_DPKG = re.compile(r"^" + _STAMP + r" (?P<verb>startup|status|conffile|install|upgrade|remove|purge|configure|"
                   r"trigproc|disappear|unpack) (?P<rest>.*)$")
# `<verb> <package>[:<arch>] <version or <none>> <version or <none>>`
_STEP = re.compile(r"^(?P<pkg>[^\s:]+)(?::(?P<arch>[^\s:]+))? (?P<old>\S+) (?P<new>\S+)$")
_STATUS = re.compile(r"^(?P<state>[a-z-]+) (?P<pkg>[^\s:]+)(?::(?P<arch>[^\s:]+))? (?P<version>\S+)$")
_CONFFILE = re.compile(r"^(?P<path>/.*) (?P<decision>keep|install)$")
NONE = "<none>"

_INSTALL, _DELETE, _CHANGE, _INFO = ("installation",), ("deletion",), ("change",), ("info",)
# dpkg verb -> (event.action, event.type): the package steps a person asked for (or apt did).
STEPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "install": ("package_installed", _INSTALL),
    "upgrade": ("package_upgraded", _CHANGE),
    "remove": ("package_removed", _DELETE),
    "purge": ("package_purged", _DELETE),
    "configure": ("package_configured", _CHANGE),
    "trigproc": ("package_triggers_processed", _INFO),
    "disappear": ("package_disappeared", _DELETE),
    "unpack": ("package_unpacked", _CHANGE),
}


def package_fields(name: str, arch: str | None, version: str | None, previous: str | None = None) -> dict[str, Any]:
    """ECS package fields from dpkg's `name[:arch]` and versions (`<none>` means absent)."""
    out: dict[str, Any] = {"package.name": name}
    if arch:
        out["package.architecture"] = arch
    if version and version != NONE:
        out["package.version"] = version
    if previous and previous != NONE:
        out["package.previous_version"] = previous
    return out


def local_time(text: str, ctx: ParseContext) -> Any:
    """`YYYY-MM-DD HH:MM:SS` (any run of spaces between date and time) in the context's zone."""
    return parse_iso(" ".join(text.split()), ctx)


def _event(dataset: str, program: str, category: str, message: str, stamp: str, ctx: ParseContext) -> dict[str, Any]:
    ev: dict[str, Any] = {"event.kind": "event", "event.dataset": dataset, "event.module": "dpkg",
                          "event.category": [category], "process.name": program, "message": message}
    ts = local_time(stamp, ctx)
    if ts is not None:
        ev["@timestamp"] = ts
    return ev


class DpkgParser(LineParser):
    dataset = "dpkg"

    def parse_line(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        m = _DPKG.match(text)
        if m is None:
            return None
        verb, rest = m["verb"], m["rest"]
        ev = _event(self.dataset, "dpkg", "package", f"{verb} {rest}", m["ts"], ctx)
        if verb == "startup":  # `startup archives unpack`, `startup packages configure`
            ev.update({"event.action": "dpkg_started", "event.type": ["start"], "dpkg.operation": rest})
            return ev
        if verb == "status":
            s = _STATUS.match(rest)
            if s is None:
                return None
            ev.update({"event.action": "package_status_changed", "event.type": ["info"], "package.status": s["state"]})
            ev.update(package_fields(s["pkg"], s["arch"], s["version"]))
            return ev
        if verb == "conffile":
            c = _CONFFILE.match(rest)
            if c is None:
                return None
            ev.update({"event.action": "package_conffile_resolved", "event.type": ["change"],
                       "event.category": ["package", "file"], "file.path": c["path"], "dpkg.conffile": c["decision"]})
            return ev
        step = _STEP.match(rest)
        if step is None:
            return None
        action, types = STEPS[verb]
        ev.update({"event.action": action, "event.type": list(types), "event.outcome": "success"})
        if verb in ("remove", "purge", "disappear"):  # `remove pkg <installed version> <none>`
            ev.update(package_fields(step["pkg"], step["arch"], step["old"]))
        else:
            ev.update(package_fields(step["pkg"], step["arch"], step["new"], step["old"]))
            if verb in ("configure", "trigproc"):  # `configure pkg <version> <none>`
                ev.pop("package.previous_version", None)
                if step["old"] != NONE:
                    ev["package.version"] = step["old"]
        return ev


_ALTERNATIVES = re.compile(r"^update-alternatives " + _STAMP + r": (?P<msg>.*)$")
_ALT_MESSAGES: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    (re.compile(r"^run with (?P<args>.*)$"), "alternatives_command", ("start",)),
    (re.compile(r"^link group (?P<group>\S+) updated to point to (?P<target>.+)$"), "alternative_changed", ("change",)),
    (re.compile(r"^link group (?P<group>\S+) fully removed$"), "alternative_removed", ("deletion",)),
    (re.compile(r"^link group (?P<group>\S+) updated with changed slaves$"), "alternative_changed", ("change",)),
    (re.compile(r"^auto-repair link group (?P<group>\S+)$"), "alternative_repaired", ("change",)),
)


class AlternativesParser(LineParser):
    """update-alternatives' log: which program `editor`, `java`, `iptables` … now point to."""

    dataset = "alternatives"

    def parse_line(self, text: str, ctx: ParseContext) -> dict[str, Any] | None:
        m = _ALTERNATIVES.match(text)
        if m is None:
            return None
        msg = m["msg"]
        ev = _event(self.dataset, "update-alternatives", "configuration", msg, m["ts"], ctx)
        ev.update({"event.type": ["info"], "event.action": "alternatives_message"})
        for regex, action, types in _ALT_MESSAGES:
            found = regex.match(msg)
            if found is None:
                continue
            ev.update({"event.action": action, "event.type": list(types)})
            groups = found.groupdict()
            if groups.get("args") is not None:
                ev["process.command_line"] = f"update-alternatives {groups['args']}"
            if groups.get("group"):
                ev["alternative.group"] = groups["group"]
            if groups.get("target"):
                ev["file.path"] = groups["target"]
            break
        return ev
