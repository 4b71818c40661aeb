"""Processes and sockets of the live host, from /proc: what is running that should not be.

Flags: executable deleted or run from /tmp, /dev/shm, /var/tmp; shells whose stdin/stdout is a
network socket (reverse shells); miner names, stratum URLs and pool ports; listening sockets of a
binary no package installed; and processes hidden from the /proc listing (a pid that answers
kill(0) but is missing from readdir, the classic LD_PRELOAD/rootkit trick). Needs the live host:
on a mounted disk or image there are no processes to look at, and the scan says so in a SCAN-9204
notice rather than reporting an empty, apparently clean, process table. It then reads nothing at
all: the real /proc belongs to the scanning machine, not to the scanned root. Files under the
root (dpkg lists) are read through its resolver.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostwarden.core.errors import SCAN_NOT_ASSESSED
from hostwarden.scan.base import ScanContext, finding
from hostwarden.scan.baseline.host import dpkg_owned_files, usr_aliases
from hostwarden.scan.rootfs import RootFS
from hostwarden.scan.runtime_pacer import Pacer

TMP_DIRS = ("/tmp/", "/dev/shm/", "/var/tmp/")
SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "ash", "busybox"}
MINER_NAMES = {"xmrig", "xmr-stak", "minerd", "cpuminer", "kdevtmpfsi", "kinsing", "ethminer", "nanominer",
               "t-rex", "lolminer", "nbminer", "phoenixminer", "xmrig-notls", "sysupdate", "networkservice"}
POOL_PORTS = {3333, 4444, 5555, 7777, 8888, 9999, 14433, 14444, 45560, 45700}
PROCESS_FIX = ("Inspect the process (ls -l /proc/PID/exe, cat /proc/PID/environ), kill it if unknown, "
               "then find how it started (persistence scan, parent process, logs).")
TCP_STATES = {"01": "ESTABLISHED", "0A": "LISTEN"}


@dataclass
class Sock:
    proto: str
    local: tuple[str, int]
    remote: tuple[str, int]
    state: str


@dataclass
class Proc:
    pid: int
    ppid: int = 0
    name: str = ""
    uid: int = -1
    exe: str = ""
    cmdline: str = ""
    fds: dict[int, int] = field(default_factory=dict)  # fd → socket inode

    def to_ecs(self) -> dict[str, Any]:
        return {"process.pid": self.pid, "process.parent.pid": self.ppid, "process.name": self.name,
                "process.executable": self.exe, "process.command_line": self.cmdline, "user.id": str(self.uid)}


def _addr(hexaddr: str) -> tuple[str, int]:
    ip_hex, port_hex = hexaddr.split(":")
    raw = bytes.fromhex(ip_hex)
    if len(raw) == 4:
        ip = socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(ip_hex, 16)))
    else:
        words = struct.unpack("<4I", raw)
        ip = socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))
    return ip, int(port_hex, 16)


def sockets(proc: Path = Path("/proc")) -> dict[int, Sock]:
    """inode → socket, for TCP and UDP over IPv4 and IPv6."""
    table: dict[int, Sock] = {}
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = (proc / "net" / proto).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10:
                continue
            state = TCP_STATES.get(parts[3], parts[3]) if proto.startswith("tcp") else ("LISTEN" if parts[3] == "07" else parts[3])
            table[int(parts[9])] = Sock(proto, _addr(parts[1]), _addr(parts[2]), state)
    return table


def read_proc(pid: int, proc: Path = Path("/proc")) -> Proc | None:
    base = proc / str(pid)
    p = Proc(pid)
    try:
        for line in (base / "status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "Name":
                p.name = value.strip()
            elif key == "PPid":
                p.ppid = int(value)
            elif key == "Uid":
                p.uid = int(value.split()[0])
        p.cmdline = (base / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        return None
    try:
        p.exe = os.readlink(base / "exe")
    except OSError:
        p.exe = ""  # kernel thread, or not ours to read
    try:
        for fd in os.listdir(base / "fd"):
            try:
                target = os.readlink(base / "fd" / fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                p.fds[int(fd)] = int(target[8:-1])
    except OSError:
        pass
    return p


def listed_pids(proc: Path = Path("/proc")) -> set[int]:
    return {int(n) for n in os.listdir(proc) if n.isdigit()}


def hidden_pids(listed: set[int], proc: Path = Path("/proc")) -> list[int]:
    """Pids that exist (kill(0) succeeds or says EPERM) and lead a thread group, yet readdir skips them."""
    suspects = []
    top = max(listed, default=0) + 256
    for pid in range(1, top):
        if pid in listed:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        except OSError as exc:
            if exc.errno != errno.EPERM:
                continue
        try:
            tgid = next((int(line.split()[1]) for line in (proc / str(pid) / "status").read_text().splitlines()
                         if line.startswith("Tgid:")), pid)
        except (OSError, ValueError):
            tgid = pid
        if tgid == pid:
            suspects.append(pid)
    # A process may simply have started during the sweep: keep only pids still missing from a fresh listing.
    again = listed_pids(proc)
    return [p for p in suspects if p not in again]


def packaged_files(root: Path | RootFS) -> set[str]:
    return dpkg_owned_files(root if isinstance(root, RootFS) else RootFS(Path(root)))


def judge(p: Proc, socks: dict[int, Sock], packaged: set[str] | None) -> list[tuple[str, str, str]]:
    flags: list[tuple[str, str, str]] = []
    exe = p.exe.removesuffix(" (deleted)")
    if exe.startswith("/memfd:"):
        # Run from an anonymous memory file: fileless malware does this, so do runc and some sandboxes.
        flags.append(("executable_memfd", "L2", p.exe))
    elif p.exe.endswith(" (deleted)"):
        grade = "L2" if exe.startswith(("/usr/", "/lib/")) and not exe.startswith(TMP_DIRS) else "L1"
        flags.append(("executable_deleted", grade, p.exe))
    if exe.startswith(TMP_DIRS):
        flags.append(("executable_in_tmp", "L1", exe))
    names = {p.name.lower(), Path(exe).name.lower()}
    if names & MINER_NAMES or "stratum+tcp://" in p.cmdline or "stratum+ssl://" in p.cmdline:
        flags.append(("miner", "L1", p.cmdline[:200] or p.name))
    std = [socks[p.fds[fd]] for fd in (0, 1, 2) if fd in p.fds and p.fds[fd] in socks]
    if Path(exe).name in SHELLS or p.name in SHELLS:
        remote = [s for s in std if s.state == "ESTABLISHED"]
        if remote:
            flags.append(("reverse_shell", "L1", f"stdio connected to {remote[0].remote[0]}:{remote[0].remote[1]}"))
    mine = [socks[i] for i in p.fds.values() if i in socks]
    pool = [s for s in mine if s.state == "ESTABLISHED" and s.remote[1] in POOL_PORTS]
    if pool and not any(f[0] == "miner" for f in flags):
        flags.append(("pool_port", "L2", f"connected to {pool[0].remote[0]}:{pool[0].remote[1]}"))
    listening = [s for s in mine if s.state == "LISTEN"]
    if listening and packaged and exe and not any(a in packaged for a in usr_aliases(exe)):
        ports = sorted({s.local[1] for s in listening})
        flags.append(("listener_unpackaged", "L2", f"{exe} listens on {ports}"))
    return flags


def process_tree(procs: list[Proc], socks: dict[int, Sock]) -> list[dict[str, Any]]:
    """Processes nested under their parents, each with executable, command line, user and sockets."""
    nodes = {p.pid: {**p.to_ecs(), "sockets": [vars(socks[i]) for i in p.fds.values() if i in socks], "children": []}
             for p in procs}
    roots = []
    for p in procs:
        parent = nodes.get(p.ppid)
        (parent["children"] if parent is not None and p.ppid != p.pid else roots).append(nodes[p.pid])
    return roots


def is_live_root(ctx: ScanContext) -> bool:
    """Live *and* rooted at /: only then is this machine's /proc the scanned system's."""
    try:
        return bool(ctx.live) and Path(ctx.root).resolve() == Path("/")
    except OSError:
        return False


class RuntimeScanner:
    name = "runtime"

    def __init__(self) -> None:
        self.summary: dict[str, Any] = {}

    def scan(self, ctx: ScanContext) -> list[dict[str, Any]]:
        if not is_live_root(ctx):
            why = "processes and sockets exist only on the running system"
            self.summary = {"skipped": f"{why}; this root is not it", "live": False}
            ctx.notice(SCAN_NOT_ASSESSED.code,
                       f"runtime: not assessed, {why} and {ctx.root} is a copy or mounted disk, not the live host "
                       "(scan with --root / on the host itself)", scanner=self.name)
            return []
        pacer = Pacer.from_options(ctx.options)
        proc = Path("/proc")
        with pacer.part("processes"):
            pids = listed_pids(proc)
            socks = sockets(proc)
            packaged = packaged_files(ctx.fs) or None
            procs = []
            for pid in sorted(pids):
                p = read_proc(pid, proc)
                if p is not None and pid != os.getpid():
                    procs.append(p)
                pacer.tick()
        out = []
        for p in procs:
            flags = judge(p, socks, packaged)
            if flags:
                grade = min(g for _, g, _ in flags)
                out.append(finding(
                    scanner=self.name, kind="process", severity=grade, **{"rule.id": f"runtime.{min(flags, key=lambda f: f[1])[0]}"},
                    title=f"suspicious process {p.pid} {p.name} ({', '.join(f[0] for f in flags)})",
                    evidence={"flags": [{"flag": n, "grade": g, "detail": d} for n, g, d in flags],
                              "sockets": [vars(socks[i]) for i in p.fds.values() if i in socks][:10]},
                    **p.to_ecs(), **{"event.action": "process-suspicious", "hostwarden.fix": PROCESS_FIX}))
        with pacer.part("hidden"):
            hidden = hidden_pids(pids, proc) if ctx.options.get("runtime_hidden_check", True) else []
        for pid in hidden:
            out.append(finding(scanner=self.name, kind="process", severity="L1",
                               title=f"process {pid} hidden from /proc listing",
                               evidence={"pid": pid, "probe": "kill(pid, 0) answers but readdir(/proc) omits it"},
                               **{"process.pid": pid, "event.action": "process-hidden", "rule.id": "runtime.hidden_pid",
                                  "hostwarden.fix": "Look for a rootkit (ld.so.preload, kernel modules); reboot from trusted media."}))
        self.summary = {"processes": len(procs), "sockets": len(socks), "hidden": len(hidden), **pacer.report()}
        if ctx.options.get("runtime_inventory"):
            self.summary["tree"] = process_tree(procs, socks)
        return out
