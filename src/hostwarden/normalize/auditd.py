"""Linux audit logs: records coalesced by serial into one event per kernel/user-space event.

A SYSCALL for execve arrives as SYSCALL + EXECVE + CWD + PATH… + PROCTITLE + EOE sharing one
serial; detection wants one event with the command line, so records are grouped until EOE or a
new serial. Each batch is flushed whole: a group split by a 32 MB chunk boundary yields two
partial events rather than a line stored late, so a checkpointed line is always a stored line.

Native field names (`type`, `syscall`, `key`, `exe`, `a0`… with EXECVE's argv) are kept in
`labels` beside the ECS fields so Sigma auditd rules can match them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hostwarden.normalize.base import ParseContext, RawLine, parse_failure

RECORD = re.compile(
    r"^(?:node=(?P<node>\S+) )?type=(?P<type>[A-Z_0-9]+) msg=audit\((?P<sec>\d+)\.(?P<ms>\d+):(?P<serial>\d+)\):\s*(?P<body>.*)$"
)
_KV = re.compile(r"([A-Za-z_][\w-]*(?:\[\d+\])?)=(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s]*)")
_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")
# Values audit writes hex-encoded when they hold spaces or odd bytes (unquoted then).
_HEX_KEYS = {"proctitle", "exe", "comm", "name", "cwd", "path", "cmd", "acct", "key", "data", "old-name", "new-name"}
UNSET = "4294967295"

SYSCALLS_X86_64 = {
    "0": "read", "1": "write", "2": "open", "4": "stat", "9": "mmap", "10": "mprotect", "16": "ioctl",
    "21": "access", "41": "socket", "42": "connect", "43": "accept", "49": "bind", "50": "listen",
    "56": "clone", "57": "fork", "58": "vfork", "59": "execve", "62": "kill", "82": "rename", "86": "link",
    "87": "unlink", "88": "symlink", "90": "chmod", "92": "chown", "101": "ptrace", "105": "setuid",
    "133": "mknod", "159": "adjtimex", "165": "mount", "175": "init_module", "176": "delete_module",
    "257": "openat", "260": "fchownat", "263": "unlinkat", "265": "linkat", "266": "symlinkat",
    "268": "fchmodat", "288": "accept4", "304": "open_by_handle_at", "313": "finit_module",
    "319": "memfd_create", "322": "execveat",
}

_CATEGORY = {
    "USER_LOGIN": (["authentication"], ["start"]), "USER_AUTH": (["authentication"], ["info"]),
    "USER_ACCT": (["authentication"], ["info"]), "USER_LOGOUT": (["authentication"], ["end"]),
    "CRED_ACQ": (["authentication"], ["info"]), "CRED_DISP": (["authentication"], ["info"]),
    "CRED_REFR": (["authentication"], ["info"]), "USER_START": (["session"], ["start"]),
    "USER_END": (["session"], ["end"]), "ADD_USER": (["iam"], ["user", "creation"]),
    "DEL_USER": (["iam"], ["user", "deletion"]), "ADD_GROUP": (["iam"], ["group", "creation"]),
    "DEL_GROUP": (["iam"], ["group", "deletion"]), "USER_MGMT": (["iam"], ["change"]),
    "USER_CHAUTHTOK": (["iam"], ["change"]), "USER_CMD": (["process"], ["start"]),
    "SERVICE_START": (["process"], ["start"]), "SERVICE_STOP": (["process"], ["end"]),
    "CONFIG_CHANGE": (["configuration"], ["change"]), "AVC": (["intrusion_detection"], ["denied"]),
    "USER_AVC": (["intrusion_detection"], ["denied"]), "ANOM_ABEND": (["process"], ["end"]),
    "ANOM_PROMISCUOUS": (["network"], ["change"]), "EXECVE": (["process"], ["start"]),
}


def _value(key: str, raw: str) -> str:
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return raw[1:-1]
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        return raw[1:-1]
    if (key in _HEX_KEYS or re.fullmatch(r"a\d+", key)) and _HEX.match(raw) and raw not in ("00",):
        try:
            decoded = bytes.fromhex(raw).decode("utf-8", "replace")
        except ValueError:
            return raw
        return decoded.replace("\x00", " ").strip() if key == "proctitle" else decoded
    return raw


def parse_fields(body: str) -> dict[str, str]:
    """key=value pairs; a user-space `msg='…'` is opened and its pairs merged in."""
    fields: dict[str, str] = {}
    for key, raw in _KV.findall(body):
        if key == "msg" and raw.startswith("'"):
            for inner_key, inner_raw in _KV.findall(raw[1:-1]):
                fields.setdefault(inner_key, _value(inner_key, inner_raw))
            continue
        fields.setdefault(key, _value(key, raw))
    return fields


class AuditdParser:
    dataset = "auditd"

    def sniff(self, lines: list[str]) -> float:
        if not lines:
            return 0.0
        return sum(1 for line in lines if RECORD.match(line)) / len(lines)

    def parse_batch(self, lines: list[RawLine], ctx: ParseContext) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        groups: dict[tuple[str | None, str], list[tuple[RawLine, re.Match[str]]]] = {}
        for line in lines:
            m = RECORD.match(line.text)
            if m is None:
                for old in list(groups):
                    out.append(self._event(groups.pop(old)))
                out.append(parse_failure(line, self.dataset))
                continue
            key = (m["node"], m["serial"])
            if key not in groups and groups:
                # A new serial closes every earlier group (audit writes events in order).
                for old in list(groups):
                    out.append(self._event(groups.pop(old)))
            groups.setdefault(key, []).append((line, m))
            if m["type"] == "EOE":
                out.append(self._event(groups.pop(key)))
        for group in groups.values():
            out.append(self._event(group))
        return out

    def _event(self, group: list[tuple[RawLine, re.Match[str]]]) -> dict[str, Any]:
        first_line, first = group[0]
        records: dict[str, list[dict[str, str]]] = {}
        types: list[str] = []
        for _, m in group:
            types.append(m["type"])
            records.setdefault(m["type"], []).append(parse_fields(m["body"]))
        primary_type = "SYSCALL" if "SYSCALL" in records else next((t for t in types if t != "EOE"), types[0])
        primary = records.get(primary_type, [{}])[0]
        tags = sorted({tag for line, _ in group for tag in line.tags})
        ev: dict[str, Any] = {
            "event.kind": "event",
            "event.dataset": self.dataset,
            "event.module": "auditd",
            "@timestamp": datetime.fromtimestamp(int(first["sec"]) + int(first["ms"]) / 1000, UTC),
            "event.original": "\n".join(line.text for line, _ in group),
            "log.offset": first_line.offset,
            "message": f"{primary_type} serial {first['serial']}",
            "type": primary_type,
            "record_types": ",".join(dict.fromkeys(types)),
            "auditd.serial": first["serial"],
        }
        if tags:
            ev["tags"] = tags
        if first["node"]:
            ev["host.name"] = first["node"]
        self._process(ev, primary, records)
        self._user(ev, primary)
        self._outcome_and_category(ev, primary_type, primary)
        return ev

    @staticmethod
    def _process(ev: dict[str, Any], primary: dict[str, str], records: dict[str, list[dict[str, str]]]) -> None:
        for key in ("syscall", "key", "arch", "exit", "tty", "ses", "success", "auid", "a0", "a1", "a2", "a3",
                    "op", "res", "acct", "terminal", "hostname", "addr", "id"):
            if key in primary and primary[key] not in ("", "(null)", "?"):
                ev[key] = primary[key]
        if "syscall" in primary:
            ev["syscall_name"] = SYSCALLS_X86_64.get(primary["syscall"], primary["syscall"])
        if primary.get("pid", "").isdigit():
            ev["process.pid"] = int(primary["pid"])
        if primary.get("ppid", "").isdigit():
            ev["process.parent.pid"] = int(primary["ppid"])
        if primary.get("comm"):
            ev["process.name"] = primary["comm"]
        if primary.get("exe"):
            ev["exe"] = ev["process.executable"] = primary["exe"]
        if primary.get("tty") not in (None, "", "(none)", "?"):
            ev["process.tty"] = primary["tty"]
        execve = records.get("EXECVE", [])
        if execve:
            argv = _argv(execve[0])
            for i, arg in enumerate(argv):
                ev[f"a{i}"] = arg  # EXECVE's argv, as Sigma auditd rules name them
            ev["process.args"] = argv
            ev["process.command_line"] = " ".join(argv)
            ev["argc"] = str(len(argv))
        if "CWD" in records and records["CWD"][0].get("cwd"):
            ev["process.working_directory"] = records["CWD"][0]["cwd"]
        if "PROCTITLE" in records and records["PROCTITLE"][0].get("proctitle"):
            ev["proctitle"] = records["PROCTITLE"][0]["proctitle"]
            ev.setdefault("process.command_line", ev["proctitle"])
        paths = [p for p in records.get("PATH", []) if p.get("name") and p.get("nametype") != "PARENT"]
        if paths:
            ev["file.path"] = ev["name"] = paths[-1]["name"]
        if primary.get("hostname") not in (None, "?", "") or primary.get("addr") not in (None, "?", ""):
            addr = primary.get("addr") if primary.get("addr") not in (None, "?", "") else primary.get("hostname")
            if addr and re.match(r"^[0-9a-fA-F:.]+$", addr):
                ev["source.ip"] = addr.removeprefix("::ffff:")
            elif addr:
                ev["source.domain"] = addr

    @staticmethod
    def _user(ev: dict[str, Any], primary: dict[str, str]) -> None:
        if primary.get("uid", "").isdigit():
            ev["user.id"] = primary["uid"]
        if primary.get("euid", "").isdigit():
            ev["user.effective.id"] = primary["euid"]
        auid = primary.get("auid")
        if auid:
            ev["auid"] = "unset" if auid in (UNSET, "-1") else auid
        acct = primary.get("acct")
        if acct and acct not in ("?", "(unknown)"):
            ev["user.name"] = acct
        if primary.get("id", "").isdigit() and ev.get("type") in ("ADD_USER", "DEL_USER", "USER_MGMT"):
            ev["user.target.name"] = primary.get("acct") or primary["id"]

    @staticmethod
    def _outcome_and_category(ev: dict[str, Any], primary_type: str, primary: dict[str, str]) -> None:
        success = primary.get("success") or primary.get("res")
        if success in ("yes", "success"):
            ev["event.outcome"] = "success"
        elif success in ("no", "failed", "fail"):
            ev["event.outcome"] = "failure"
        category = _CATEGORY.get(primary_type)
        if primary_type == "SYSCALL" and ev.get("syscall_name") in ("execve", "execveat"):
            category = (["process"], ["start"])
            ev["event.action"] = "executed"
        elif primary_type == "SYSCALL":
            ev["event.action"] = str(ev.get("syscall_name", "syscall"))
        else:
            ev["event.action"] = primary_type.lower()
        if category:
            ev["event.category"], ev["event.type"] = list(category[0]), list(category[1])


def _argv(execve: dict[str, str]) -> list[str]:
    """EXECVE a0..aN, including long arguments split as aN_len= aN[0]= aN[1]=…"""
    count = int(execve["argc"]) if execve.get("argc", "").isdigit() else 0
    argv = []
    for i in range(min(count, 4096)):
        if f"a{i}" in execve:
            argv.append(execve[f"a{i}"])
            continue
        parts, j = [], 0
        while f"a{i}[{j}]" in execve:
            parts.append(execve[f"a{i}[{j}]"])
            j += 1
        argv.append(_value(f"a{i}", "".join(parts)) if parts else "")
    return argv
