"""Linux audit logs: records coalesced by event identity into one event per kernel/user-space event.

An execve arrives as SYSCALL + EXECVE + CWD + PATH… + PROCTITLE + EOE sharing one
`msg=audit(TIME:SERIAL)`; detection wants one event with the command line, so records are grouped
by (node, time, serial). A group closes at EOE, at once for user-space records (`msg='…'`, always
single-record), or when no record of it arrived for `WINDOW` lines: records of concurrent events
do interleave on multi-CPU hosts (audit-userspace's test3.log), so "a new serial closes the old
group" would split them.

Batch boundary: every batch is flushed whole. A group split by a chunk boundary (once per
32 MB chunk at most) yields two partial events rather than a line held back in memory, because
the collector checkpoints a chunk as soon as its events are stored: a line carried over to the
next batch would be lost by a crash in between. Pass whole files for exact coalescing.

Native auditd field names (`type`, `syscall`, `SYSCALL`, `key`, `exe`, `comm`, `uid`, `auid`,
`a0`… with EXECVE's argv, PATH's `name`) are kept beside the ECS fields so Sigma auditd rules can
match them; they end up in `labels`. `type` is the primary record type (SYSCALL, or the
user-space type) and `record_types` lists every record type of the group, comma-separated.
Also reads `ausearch -i` output (interpreted values, local dates, `----` separators).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Any

from hostwarden.normalize.base import ParseContext, RawLine, parse_failure
from hostwarden.normalize.localtime import to_utc
from hostwarden.normalize.state import ParseState

# `msg=audit(SECONDS.MS:SERIAL):` raw, `msg=audit(MM/DD/YYYY HH:MM:SS.MS:SERIAL) :` from ausearch -i;
# a few records lack the colon (DAEMON_CONFIG) or the header (`type=UNKNOWN[1329] msg=?`).
RECORD = re.compile(
    r"^(?:node=(?P<node>\S+) )?type=(?P<type>[A-Za-z_0-9]+(?:\[\d+\])?) msg=(?:audit\("
    r"(?:(?P<sec>\d+)|(?P<date>\d\d/\d\d/\d{2,4} \d\d:\d\d:\d\d))\.(?P<ms>\d+):(?P<serial>\d+)\)"
    r"(?:(?P<interp> ):|:)?|\?)\s*(?P<body>.*)$"
)
# Lines ausearch prints between events.
SEPARATOR = re.compile(r"^(?:----|time->.*)$")
_KV = re.compile(r"([A-Za-z_][\w-]*(?:\[\d+\])?)=(\"(?:[^\"\\]|\\.)*\"?|'[^']*'?|\S*)")
_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")
_ARG = re.compile(r"^a\d+(?:\[\d+\])?$")
# Fields audit writes hex-encoded (unquoted) when they hold spaces, quotes or odd bytes.
_HEX_KEYS = frozenset({"proctitle", "exe", "comm", "name", "cwd", "path", "cmd", "acct", "key", "data",
                       "old-name", "new-name", "dir", "file", "ocomm", "vm", "watch", "new-chardev", "root_dir"})
UNSET = ("4294967295", "-1", "unset")
WINDOW = 64  # lines a group may wait for its next record before it is closed
MAX_RECORDS = 5000  # a group this large is closed anyway (hostile input, runaway EXECVE)
_NOTHING = ("", "?", "(null)", "(none)", "none")
# Native fields of the primary record kept as labels (ids, syscall details, SELinux subject).
_NATIVE = ("syscall", "key", "arch", "success", "exit", "items", "auid", "uid", "gid", "euid", "egid", "suid",
           "sgid", "fsuid", "fsgid", "ses", "tty", "comm", "exe", "subj", "op", "res", "acct", "terminal",
           "hostname", "addr", "id", "grantors", "cmd", "cwd", "apparmor", "operation", "profile",
           "scontext", "tcontext", "tclass", "seresult", "seperms", "dev", "prom", "old_prom", "sig", "unit")

X86_64_ARCHES = ("c000003e", "x86_64")
SYSCALLS_X86_64 = {
    "0": "read", "1": "write", "2": "open", "3": "close", "4": "stat", "9": "mmap", "10": "mprotect",
    "16": "ioctl", "21": "access", "41": "socket", "42": "connect", "43": "accept", "44": "sendto",
    "45": "recvfrom", "46": "sendmsg", "49": "bind", "50": "listen", "56": "clone", "57": "fork",
    "58": "vfork", "59": "execve", "62": "kill", "76": "truncate", "77": "ftruncate", "82": "rename",
    "83": "mkdir", "84": "rmdir", "85": "creat", "86": "link", "87": "unlink", "88": "symlink",
    "90": "chmod", "91": "fchmod", "92": "chown", "93": "fchown", "94": "lchown", "99": "sysinfo",
    "101": "ptrace", "105": "setuid", "106": "setgid", "113": "setreuid", "117": "setresuid",
    "133": "mknod", "159": "adjtimex", "165": "mount", "166": "umount2", "169": "reboot",
    "175": "init_module", "176": "delete_module", "188": "setxattr", "200": "tkill", "227": "clock_settime",
    "234": "tgkill", "257": "openat", "258": "mkdirat", "259": "mknodat", "260": "fchownat",
    "263": "unlinkat", "264": "renameat", "265": "linkat", "266": "symlinkat", "268": "fchmodat",
    "288": "accept4", "304": "open_by_handle_at", "313": "finit_module", "316": "renameat2",
    "319": "memfd_create", "321": "bpf", "322": "execveat",
}
_FILE_CREATE = ("creat", "mkdir", "mkdirat", "mknod", "mknodat", "link", "linkat", "symlink", "symlinkat")
_FILE_DELETE = ("unlink", "unlinkat", "rmdir")
_FILE_CHANGE = ("rename", "renameat", "renameat2", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown",
                "fchownat", "truncate", "ftruncate", "setxattr")
SYSCALL_CATEGORY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{n: (("process",), ("start",)) for n in ("execve", "execveat", "clone", "fork", "vfork")},
    **{n: (("process",), ("end",)) for n in ("kill", "tkill", "tgkill")},
    **{n: (("file",), ("access",)) for n in ("open", "openat", "open_by_handle_at", "access", "stat")},
    **{n: (("file",), ("creation",)) for n in _FILE_CREATE},
    **{n: (("file",), ("deletion",)) for n in _FILE_DELETE},
    **{n: (("file",), ("change",)) for n in _FILE_CHANGE},
    **{n: (("network",), ("connection", "start")) for n in ("connect", "accept", "accept4")},
    **{n: (("network",), ("start",)) for n in ("bind", "listen")},
    **{n: (("driver",), ("start",)) for n in ("init_module", "finit_module")},
    "delete_module": (("driver",), ("end",)),
    "ptrace": (("process",), ("access",)),
    "memfd_create": (("process",), ("info",)),
    **{n: (("iam",), ("change",)) for n in ("setuid", "setgid", "setreuid", "setresuid")},
    **{n: (("configuration",), ("change",)) for n in ("mount", "umount2", "adjtimex", "clock_settime", "reboot")},
}
_AUTH, _SESSION, _IAM, _PROC = ("authentication",), ("session",), ("iam",), ("process",)
# record type -> (ECS categories, ECS types, event.action)
TYPE_MAP: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "USER_LOGIN": (_AUTH, ("start",), "user_login"),
    "USER_LOGOUT": (_AUTH, ("end",), "user_logout"),
    "LOGIN": (_AUTH, ("start",), "login_uid_set"),
    "USER_AUTH": (_AUTH, ("info",), "user_authenticated"),
    "USER_ACCT": (_AUTH, ("info",), "user_authorized"),
    "USER_ERR": (_AUTH, ("info",), "user_auth_error"),
    "CRED_ACQ": (_AUTH, ("info",), "credentials_acquired"),
    "CRED_DISP": (_AUTH, ("info",), "credentials_disposed"),
    "CRED_REFR": (_AUTH, ("info",), "credentials_refreshed"),
    "USER_START": (_SESSION, ("start",), "session_started"),
    "USER_END": (_SESSION, ("end",), "session_ended"),
    "USER_ROLE_CHANGE": (_IAM, ("change",), "role_changed"),
    "ADD_USER": (_IAM, ("user", "creation"), "user_created"),
    "DEL_USER": (_IAM, ("user", "deletion"), "user_deleted"),
    "ADD_GROUP": (_IAM, ("group", "creation"), "group_created"),
    "DEL_GROUP": (_IAM, ("group", "deletion"), "group_deleted"),
    "USER_MGMT": (_IAM, ("user", "change"), "user_modified"),
    "GRP_MGMT": (_IAM, ("group", "change"), "group_modified"),
    "USER_CHAUTHTOK": (_IAM, ("user", "change"), "password_changed"),
    "GRP_CHAUTHTOK": (_IAM, ("group", "change"), "group_password_changed"),
    "USER_CMD": (_PROC, ("start",), "user_command"),
    "SERVICE_START": (_PROC, ("start",), "service_started"),
    "SERVICE_STOP": (_PROC, ("end",), "service_stopped"),
    "DAEMON_START": (_PROC, ("start",), "audit_daemon_started"),
    "DAEMON_END": (_PROC, ("end",), "audit_daemon_stopped"),
    "CONFIG_CHANGE": (("configuration",), ("change",), "audit_config_changed"),
    "DAEMON_CONFIG": (("configuration",), ("change",), "audit_config_changed"),
    "USYS_CONFIG": (("configuration",), ("change",), "system_config_changed"),
    "NETFILTER_CFG": (("configuration", "network"), ("change",), "firewall_config_changed"),
    "AVC": (("intrusion_detection",), ("denied",), "mac_denied"),
    "USER_AVC": (("intrusion_detection",), ("denied",), "mac_denied"),
    "SECCOMP": (_PROC, ("denied",), "seccomp_filtered"),
    "ANOM_ABEND": (_PROC, ("end",), "process_crashed"),
    "ANOM_PROMISCUOUS": (("network",), ("change",), "promiscuous_mode_changed"),
    "ANOM_LOGIN_FAILURES": (_AUTH, ("info",), "login_failures_exceeded"),
    "ANOM_LOGIN_TIME": (_AUTH, ("denied",), "login_time_denied"),
    "ANOM_LOGIN_LOCATION": (_AUTH, ("denied",), "login_location_denied"),
    "ANOM_EXEC": (_PROC, ("start",), "anomalous_execution"),
    "SYSTEM_BOOT": (("host",), ("start",), "system_booted"),
    "SYSTEM_SHUTDOWN": (("host",), ("end",), "system_shutdown"),
    "SYSTEM_RUNLEVEL": (("host",), ("change",), "runlevel_changed"),
    "TTY": (_PROC, ("info",), "tty_input"),
    "USER_TTY": (_PROC, ("info",), "tty_input"),
}


def decode_sockaddr(saddr: str) -> tuple[str, int | None] | None:
    """(ip, port) from a SOCKADDR record's hex `saddr` (AF_INET/AF_INET6 only)."""
    try:
        raw = bytes.fromhex(saddr)
    except ValueError:
        return None
    family = int.from_bytes(raw[:2], "little") if len(raw) >= 2 else 0
    if family == 2 and len(raw) >= 8:
        return str(ipaddress.IPv4Address(raw[4:8])), int.from_bytes(raw[2:4], "big")
    if family == 10 and len(raw) >= 24:
        return str(ipaddress.IPv6Address(raw[8:24])), int.from_bytes(raw[2:4], "big")
    return None


def decode_value(key: str, raw: str, interpreted: bool = False) -> str:
    """Unquote or hex-decode one value as auditd encodes it for field `key`.

    `ausearch -i` output is already decoded, so a hex-looking value there is literal text.
    """
    first = raw[:1]
    if first == '"' or first == "'":
        return raw[1:-1] if len(raw) >= 2 and raw[-1] == first else raw[1:]  # [1:]: truncated value
    if interpreted or not (key in _HEX_KEYS or (first and key[0] == "a" and _ARG.match(key))):
        return raw
    if _HEX.match(raw):
        text = bytes.fromhex(raw).decode("utf-8", "replace")
        return text.replace("\x00", " ").strip() if key == "proctitle" else text
    return raw


def parse_fields(body: str, record_type: str = "", interpreted: bool = False) -> dict[str, str]:
    """key=value pairs of one record; a user-space `msg='…'` is opened and its pairs merged in.

    A SYSCALL record's a0..a3 are register values in hex, never text, so only EXECVE's are decoded.
    The enriched tail auditd appends after a 0x1d byte (`AUID="alice" SYSCALL=execve`) is kept
    under its upper-case names.
    """
    body, _, enriched = body.partition("\x1d")
    fields: dict[str, str] = {}
    for key, raw in _KV.findall(body):
        if key == "msg" and raw.startswith("'"):
            for inner_key, inner_raw in _KV.findall(raw.strip("'")):
                fields.setdefault(inner_key, decode_value(inner_key, inner_raw, interpreted))
            continue
        if (record_type == "SYSCALL" and _ARG.match(key)) or "[" in key:
            fields.setdefault(key, raw)  # registers; split argv chunks are decoded once joined
            continue
        fields.setdefault(key, decode_value(key, raw, interpreted))
    for key, raw in _KV.findall(enriched):
        fields.setdefault(key, decode_value(key, raw))
    if record_type == "AVC":
        avc = re.search(r"avc:\s+(\w+)\s+\{\s*([^}]*?)\s*\}", body)
        if avc:
            fields.setdefault("seresult", avc.group(1))
            fields.setdefault("seperms", avc.group(2))
    return fields


class _Group:
    __slots__ = ("records", "last")

    def __init__(self) -> None:
        self.records: list[tuple[RawLine, re.Match[str]]] = []
        self.last = 0


class AuditdParser:
    dataset = "auditd"

    def sniff(self, lines: list[str]) -> float:
        if not lines:
            return 0.0
        return sum(1 for line in lines if RECORD.match(line) or SEPARATOR.match(line)) / len(lines)

    def parse_batch(self, lines: list[RawLine], ctx: ParseContext, state: ParseState | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        open_groups: dict[tuple[str | None, str, str, str], _Group] = {}

        def close(key: tuple[str | None, str, str, str]) -> None:
            out.append(self._safe_event(open_groups.pop(key).records, ctx))

        for index, line in enumerate(lines):
            m = RECORD.match(line.text)
            if m is None:
                if SEPARATOR.match(line.text):
                    for key in list(open_groups):
                        close(key)
                    out.append(_separator(line, self.dataset))
                else:
                    out.append(parse_failure(line, self.dataset))
                continue
            key = (m["node"], m["sec"] or m["date"], m["ms"], m["serial"])
            group = open_groups.pop(key, None) or _Group()
            open_groups[key] = group  # re-inserted: the dict stays ordered by last record seen
            group.records.append((line, m))
            group.last = index
            if m["type"] == "EOE" or "msg='" in m["body"] or not m["serial"] or len(group.records) >= MAX_RECORDS:
                close(key)
            while open_groups:
                oldest = next(iter(open_groups))
                if index - open_groups[oldest].last <= WINDOW:
                    break
                close(oldest)
        for key in list(open_groups):
            close(key)
        out.sort(key=lambda ev: ev.get("log.offset", 0))
        return out

    def _safe_event(self, group: list[tuple[RawLine, re.Match[str]]], ctx: ParseContext) -> dict[str, Any]:
        try:
            return self._event(group, ctx)
        except Exception:  # a bug on hostile input must not lose the lines: keep them raw
            lines = [line for line, _ in group]
            ev = parse_failure(RawLine(lines[0].offset, "\n".join(ln.text for ln in lines)), self.dataset)
            ev["tags"] = sorted({"parse_failure", *(t for ln in lines for t in ln.tags)})
            return ev

    def _event(self, group: list[tuple[RawLine, re.Match[str]]], ctx: ParseContext) -> dict[str, Any]:
        first_line, first = group[0]
        records: dict[str, list[dict[str, str]]] = {}
        types: list[str] = []
        for _, m in group:
            types.append(m["type"])
            fields = parse_fields(m["body"], m["type"], bool(m["interp"]))
            if m["interp"] and m["type"] == "PROCTITLE" and m["body"].startswith("proctitle="):
                fields["proctitle"] = m["body"][len("proctitle="):].strip()  # ausearch -i: spaces unquoted
            records.setdefault(m["type"], []).append(fields)
        primary_type = "SYSCALL" if "SYSCALL" in records else next((t for t in types if t != "EOE"), types[0])
        primary = records.get(primary_type, [{}])[0]
        tags = sorted({tag for line, _ in group for tag in line.tags})
        ev: dict[str, Any] = {
            "event.kind": "event",
            "event.dataset": self.dataset,
            "event.module": "auditd",
            "event.original": "\n".join(line.text for line, _ in group),
            "log.offset": first_line.offset,
            "type": primary_type,
            "record_types": ",".join(dict.fromkeys(types)),
        }
        if first["serial"]:
            ev["auditd.serial"] = first["serial"]
        timestamp = _timestamp(first, ctx)
        if timestamp is not None:
            ev["@timestamp"] = timestamp
        if tags:
            ev["tags"] = tags
        if first["node"]:
            ev["host.name"] = first["node"]
        for key in _NATIVE:
            value = primary.get(key)
            if value is not None and value not in _NOTHING:
                ev[key] = value
        if any("\x1d" in m["body"] for _, m in group):
            for key, value in primary.items():
                if key.isupper():
                    ev.setdefault(key, value)  # enriched names: AUID, UID, SYSCALL, ARCH…
        if primary_type == "SYSCALL" and "EXECVE" not in records:
            for key in ("a0", "a1", "a2", "a3"):
                if key in primary:
                    ev[key] = primary[key]
        if primary_type == "SYSCALL":
            _syscall_name(ev, primary)
        _process(ev, primary, records)
        _files(ev, records)
        _user(ev, primary_type, primary)
        _network(ev, primary, records)
        _classify(ev, primary_type, primary)
        ev["message"] = _message(ev, primary_type, first["serial"])
        return ev


def _timestamp(m: re.Match[str], ctx: ParseContext) -> datetime | None:
    if not m["ms"]:
        return None
    fraction = int(m["ms"]) / 10 ** len(m["ms"])
    if m["sec"]:
        try:
            return datetime.fromtimestamp(int(m["sec"]) + fraction, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    for fmt in ("%m/%d/%Y %H:%M:%S", "%m/%d/%y %H:%M:%S", "%d/%m/%Y %H:%M:%S"):
        try:
            local = datetime.strptime(m["date"], fmt)
        except ValueError:
            continue
        return to_utc(local.replace(microsecond=int(fraction * 1_000_000)), ctx.tz)  # ausearch -i: the wall clock
    return None


def _process(ev: dict[str, Any], primary: dict[str, str], records: dict[str, list[dict[str, str]]]) -> None:
    if primary.get("pid", "").isdigit():
        ev["process.pid"] = int(primary["pid"])
    if primary.get("ppid", "").isdigit():
        ev["process.parent.pid"] = int(primary["ppid"])
    if ev.get("comm"):
        ev["process.name"] = ev["comm"]
    if ev.get("exe"):
        ev["process.executable"] = ev["exe"]
    if ev.get("tty"):
        ev["process.tty"] = ev["tty"]
    if ev.get("key"):
        keys = [k for k in ev["key"].split("\x01") if k]
        ev["key"] = keys[0] if keys else ev.pop("key")
        if len(keys) > 1:
            ev["keys"] = ",".join(keys)
    execve: dict[str, str] = {}
    for record in records.get("EXECVE", []):  # long argv spans several EXECVE records
        for key, value in record.items():
            execve.setdefault(key, value)
    if execve:
        argv = _argv(execve)
        for i, arg in enumerate(argv):
            ev[f"a{i}"] = arg  # EXECVE's argv, as Sigma auditd rules name them
        ev["argc"] = str(len(argv))
        ev["process.args"] = argv
        ev["process.command_line"] = " ".join(argv)
    cwd = (records.get("CWD") or [{}])[0].get("cwd") or primary.get("cwd")
    if cwd and cwd not in _NOTHING:
        ev["cwd"] = ev["process.working_directory"] = cwd
    title = (records.get("PROCTITLE") or [{}])[0].get("proctitle")
    if title:
        ev["proctitle"] = title
        ev.setdefault("process.command_line", title)
    if primary.get("cmd") and primary.get("cmd") not in _NOTHING:  # USER_CMD: sudo's command
        ev.setdefault("process.command_line", primary["cmd"])


def _files(ev: dict[str, Any], records: dict[str, list[dict[str, str]]]) -> None:
    """The file an event is about: the first PATH item that is not a PARENT directory."""
    paths = [p for p in records.get("PATH", []) if p.get("name") and p["name"] not in _NOTHING]
    if not paths:
        return
    chosen = next((p for p in paths if p.get("nametype") != "PARENT"), paths[0])
    ev["file.path"] = ev["name"] = chosen["name"]
    for key in ("nametype", "inode", "mode", "ouid", "ogid"):
        if chosen.get(key):
            ev[key] = chosen[key]
    if len(paths) > 1:
        ev["names"] = ",".join(dict.fromkeys(p["name"] for p in paths))


def _user(ev: dict[str, Any], primary_type: str, primary: dict[str, str]) -> None:
    """Numeric ids to user.id/user.effective.id; names (ausearch -i, enriched tail) to user.*name."""
    for key, id_field, name_field in (("uid", "user.id", None), ("euid", "user.effective.id", "user.effective.name")):
        value = primary.get(key, "")
        if value.isdigit():
            ev[id_field] = value
        elif value and value not in _NOTHING and name_field:
            ev[name_field] = value
    auid = primary.get("auid")
    if auid:
        ev["auid"] = "unset" if auid in UNSET else auid
    # The login user behind the event: auditd's own name for the auid, or an interpreted auid.
    login = primary.get("AUID") or (auid if auid and not auid.isdigit() else None)
    if login and login not in UNSET and login not in _NOTHING:
        ev["user.name"] = login
    if primary.get("EUID"):
        ev.setdefault("user.effective.name", primary["EUID"])
    acct = primary.get("acct")
    if not acct or acct in _NOTHING or acct.startswith("("):  # (unknown), (invalid user)
        acct = None
    meta = TYPE_MAP.get(primary_type)
    if meta and "iam" in meta[0]:
        target = acct or primary.get("id")
        if target and "group" in meta[1]:
            ev["group.name"] = target
        elif target:
            ev["user.target.name"] = target
    elif acct:
        ev["user.name"] = acct  # the account a login/auth/acct record is about


def _network(ev: dict[str, Any], primary: dict[str, str], records: dict[str, list[dict[str, str]]]) -> None:
    addr = primary.get("addr")
    host = primary.get("hostname")
    peer = addr if addr and addr not in _NOTHING else host if host and host not in _NOTHING else None
    if peer:
        if re.fullmatch(r"[0-9a-fA-F:.]+", peer) and any(c in peer for c in ".:"):
            ev["source.ip"] = peer.removeprefix("::ffff:")
        else:
            ev["source.domain"] = peer
    saddr = (records.get("SOCKADDR") or [{}])[0].get("saddr")
    decoded = decode_sockaddr(saddr) if saddr else None
    if decoded:
        ip, port = decoded
        side = "destination" if ev.get("SYSCALL") in ("connect", "sendto", "sendmsg") else "source"
        if side == "destination" or "source.ip" not in ev:
            ev[f"{side}.ip"] = ip
            if port:
                ev[f"{side}.port"] = port


def _syscall_name(ev: dict[str, Any], primary: dict[str, str]) -> None:
    """The syscall's name (Sigma's `SYSCALL`): enriched tail, ausearch -i, or the x86_64 table."""
    number = primary.get("syscall", "")
    name = primary.get("SYSCALL")
    if name is None:
        if number.isdigit():
            if primary.get("arch") in X86_64_ARCHES:
                name = SYSCALLS_X86_64.get(number)
        elif number:
            name = number  # ausearch -i already names it
    if name:
        ev["SYSCALL"] = ev["syscall_name"] = name


def _classify(ev: dict[str, Any], primary_type: str, primary: dict[str, str]) -> None:
    success = primary.get("success") or primary.get("res")
    if success in ("yes", "success", "1"):
        ev["event.outcome"] = "success"
    elif success in ("no", "failed", "fail", "0"):
        ev["event.outcome"] = "failure"
    if primary_type == "SYSCALL":
        number, name = primary.get("syscall", ""), ev.get("SYSCALL")
        category = SYSCALL_CATEGORY.get(name or "")
        ev["event.action"] = "executed" if name in ("execve", "execveat") else (name or f"syscall_{number or 'unknown'}")
    else:
        meta = TYPE_MAP.get(primary_type)
        category = (meta[0], meta[1]) if meta else None
        ev["event.action"] = meta[2] if meta else primary_type.lower()
        if primary_type.startswith("ANOM_") and not meta:
            category = (("intrusion_detection",), ("info",))
    if category:
        ev["event.category"], ev["event.type"] = list(category[0]), list(category[1])


def _message(ev: dict[str, Any], primary_type: str, serial: str | None) -> str:
    what = ev.get("process.command_line") or ev.get("process.executable") or ev.get("file.path") or ""
    text = f"{primary_type} {ev['event.action']}"
    if ev.get("user.name"):
        text += f" user={ev['user.name']}"
    return f"{text} {what}".strip() + (f" (serial {serial})" if serial else "")


def _separator(line: RawLine, dataset: str) -> dict[str, Any]:
    """ausearch's `----`/`time->` lines: framing, stored so every line is covered, not failures."""
    ev: dict[str, Any] = {"event.kind": "event", "event.dataset": dataset, "event.module": "auditd",
                          "event.action": "ausearch_separator", "event.original": line.text,
                          "log.offset": line.offset, "message": line.text}
    if line.tags:
        ev["tags"] = sorted(line.tags)
    return ev


def _argv(execve: dict[str, str]) -> list[str]:
    """EXECVE a0..aN, including long arguments split as aN_len= aN[0]= aN[1]=…"""
    count = int(execve["argc"]) if execve.get("argc", "").isdigit() else 0
    if not count:
        count = sum(1 for key in execve if re.fullmatch(r"a\d+", key))
    argv = []
    for i in range(min(count, 65536)):
        if f"a{i}" in execve:
            argv.append(execve[f"a{i}"])
            continue
        parts, j = [], 0
        while f"a{i}[{j}]" in execve:
            parts.append(execve[f"a{i}[{j}]"])
            j += 1
        if not parts:
            break  # argv cut short (records lost): keep what arrived
        if all(_HEX.match(p) for p in parts):
            argv.append(decode_value(f"a{i}", "".join(parts)))
        else:
            argv.append("".join(decode_value(f"a{i}", p) for p in parts))
    return argv
