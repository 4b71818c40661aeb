"""Check kinds about the system as a whole: sysctl, services, packages, sockets, file sweeps, commands.

They still read files under the root (proc/sys, systemd unit symlinks, dpkg status, proc/net/tcp)
so a mounted disk or an image is checked the same way as the live host; only `command` needs the
live host and is not-applicable elsewhere. As for files, a kind whose source is absent under the
root (no proc/sys and no sysctl configuration, no init configuration, no swept folder) reports
not-applicable with the missing input named, never a pass or a failure about what it did not see.
"""

from __future__ import annotations

import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

from hostwarden.scan.baseline.compare import compare, describe
from hostwarden.scan.baseline.host import Host, usr_aliases
from hostwarden.scan.baseline.model import FAIL, NA, PASS, Evidence, Outcome

SYSCTL_DIRS = ("/usr/lib/sysctl.d", "/lib/sysctl.d", "/usr/local/lib/sysctl.d", "/run/sysctl.d", "/etc/sysctl.d")


def sysctl_files(host: Host) -> list[str]:
    """The files `systemd-sysctl` reads, in order: sysctl.d by name (etc wins), then sysctl.conf.

    Listed once per host: a policy has a sysctl check per key.
    """
    cached: list[str] | None = host.__dict__.get("_sysctl_files")
    if cached is not None:
        return cached
    by_name: dict[str, str] = {}
    for folder in SYSCTL_DIRS:
        for file in host.expand(f"{folder}/*.conf"):
            by_name[Path(file).name] = file
    found = [by_name[n] for n in sorted(by_name)] + host.expand("/etc/sysctl.conf")
    host.__dict__["_sysctl_files"] = found
    return found


def sysctl_configured(host: Host, key: str) -> Evidence | None:
    """The value `systemd-sysctl` would apply at boot for `key`, from the last file that sets it."""
    found: Evidence | None = None
    for file in sysctl_files(host):
        for lineno, raw in enumerate((host.read(file) or "").splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            k, _, v = line.partition("=")
            if k.strip().lstrip("-").replace("/", ".") == key:
                found = Evidence(file=file, line=lineno, value=v.strip())
    return found


def sysctl(host: Host, spec: dict[str, Any]) -> Outcome:
    """Runtime value (proc/sys under the root) and boot-time value (sysctl.d) must both comply.

    With neither a runtime value (a disk or an image has no /proc) nor a setting, the value the
    kernel will apply at boot is its built-in default: judged when the policy states it
    (`default`, only for defaults that do not vary between kernel builds) and the root has a
    sysctl configuration that could have set it; otherwise the check cannot be assessed.
    """
    key = spec["key"]
    evidence: list[Evidence] = []
    runtime_file = "/proc/sys/" + key.replace(".", "/")
    runtime = host.read(runtime_file)
    if runtime is not None:
        evidence.append(Evidence(file=runtime_file, value=runtime.strip(), note="runtime"))
    configured = sysctl_configured(host, key)
    if configured is not None:
        evidence.append(configured)
    if not evidence:
        config = sysctl_files(host)
        if not config:
            return Outcome(NA, [Evidence(file=runtime_file, note="absent")],
                           f"cannot assess: no {runtime_file} and no sysctl configuration under this root",
                           missing=[runtime_file, "/etc/sysctl.conf"])
        if "default" not in spec:
            return Outcome(NA, [Evidence(file=runtime_file, note="absent")],
                           f"cannot assess: {key} is not set in {len(config)} sysctl file(s), and without "
                           f"{runtime_file} the kernel's default for it is not known here", missing=[runtime_file])
        evidence.append(Evidence(value=str(spec["default"]),
                                 note=f"kernel default: not set in {', '.join(config)}"
                                      + ("" if host.live else "; no runtime value under this root")))
    bad = [e for e in evidence if not compare(e.value or "", spec["op"], spec["value"])]
    if bad:
        return Outcome(FAIL, bad, f"{key} must be {describe(spec['op'], spec['value'])}")
    return Outcome(PASS, evidence)


def _unit_state(host: Host, unit: str) -> tuple[str, list[Evidence]]:
    """enabled / masked / disabled from the unit symlinks systemctl itself reads."""
    for base in ("/etc/systemd/system", "/run/systemd/system"):
        if host.readlink(f"{base}/{unit}") == "/dev/null":
            return "masked", [Evidence(file=f"{base}/{unit}", value="-> /dev/null")]
    wants: list[Evidence] = []
    for base in ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"):
        for sub in host.entries(base):
            if sub.name.endswith(".wants") and host.fs.lexists(f"{sub.path}/{unit}"):
                wants.append(Evidence(file=f"{base}/{sub.name}/{unit}", note="enabled"))
    name = unit.rsplit(".", 1)[0]
    for rc in host.fs.glob("/etc/rc[2-5].d/S*" + name):
        wants.append(Evidence(file=rc, note="enabled (SysV)"))
    return ("enabled", wants) if wants else ("disabled", [])


INIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system", "/etc/init.d")


def service(host: Host, spec: dict[str, Any]) -> Outcome:
    """`expect: enabled|not_enabled` from unit symlinks; `running|not_running` only on the live host."""
    units = spec.get("units") or [spec["unit"]]
    want = spec.get("expect", "enabled")
    if want in ("running", "not_running") and not host.live:
        return Outcome(NA, [], "service state needs the live host")
    if not any(host.is_dir(d) for d in INIT_DIRS):
        return Outcome(NA, [Evidence(file="/etc/systemd/system", note="absent")],
                       "cannot assess: no systemd or SysV init configuration under this root",
                       missing=["/etc/systemd/system"])
    if want in ("running", "not_running"):
        active = [u for u in units if _systemctl_active(u)]
        ok = bool(active) if want == "running" else not active
        ev = [Evidence(value=f"{u} active") for u in active] or [Evidence(value="none active")]
        return Outcome(PASS if ok else FAIL, ev, "" if ok else f"expected {want}")
    states = {u: _unit_state(host, u) for u in units}
    enabled = [(u, ev) for u, (st, ev) in states.items() if st == "enabled"]
    if want == "enabled":
        if enabled:
            return Outcome(PASS, enabled[0][1])
        return Outcome(FAIL, [Evidence(value=f"{u}: {st}") for u, (st, _) in states.items()],
                       f"none of {', '.join(units)} is enabled")
    if enabled:
        return Outcome(FAIL, [e for _, ev in enabled for e in ev], f"{', '.join(u for u, _ in enabled)} enabled")
    return Outcome(PASS, [Evidence(value=f"{u}: {st}") for u, (st, _) in states.items()])


def _systemctl_active(unit: str) -> bool:
    try:
        res = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.stdout.strip() == "active"


def package(host: Host, spec: dict[str, Any]) -> Outcome:
    """`expect: installed` (any of `names`) or `absent` (none of them), from dpkg's status file."""
    if not host.has_dpkg:
        return Outcome(NA, [Evidence(file="/var/lib/dpkg/status", note="absent")],
                       "cannot assess: /var/lib/dpkg/status missing (no dpkg database)", missing=["/var/lib/dpkg/status"])
    names = spec.get("names") or [spec["name"]]
    present = [n for n in names if host.installed(n)]
    ev = [Evidence(file="/var/lib/dpkg/status", value=f"{n}: {host.dpkg_status.get(n, 'not installed')}")
          for n in (present or names)]
    if spec.get("expect", "installed") == "installed":
        return Outcome(PASS, ev) if present else Outcome(FAIL, ev, f"none of {', '.join(names)} installed")
    return Outcome(FAIL, ev, f"{', '.join(present)} installed") if present else Outcome(PASS, ev)


WILDCARD = {"00000000", "00000000000000000000000000000000"}


def listening(host: Host) -> list[tuple[str, int, str, int]] | None:
    """(proto, port, file, line) of sockets listening on every address, from proc/net under the root."""
    found: list[tuple[str, int, str, int]] = []
    seen_any = False
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        file = f"/proc/net/{proto}"
        text = host.read(file)
        if text is None:
            continue
        seen_any = True
        for lineno, line in enumerate(text.splitlines()[1:], 2):
            parts = line.split()
            if len(parts) < 4 or ":" not in parts[1]:
                continue
            addr, port_hex = parts[1].rsplit(":", 1)
            is_listen = parts[3] == "0A" if proto.startswith("tcp") else parts[3] == "07"
            if is_listen and addr in WILDCARD:
                found.append((proto, int(port_hex, 16), file, lineno))
    return found if seen_any else None


def ports(host: Host, spec: dict[str, Any]) -> Outcome:
    """None of `ports` may listen on the wildcard address (open to every network the host sits on)."""
    socks = listening(host)
    if socks is None:
        return Outcome(NA, [Evidence(file="/proc/net/tcp", note="absent")],
                       "cannot assess: no socket table (/proc/net/tcp) under this root", missing=["/proc/net/tcp"])
    risky = set(spec["ports"])
    open_ = [s for s in socks if s[1] in risky]
    if open_:
        return Outcome(FAIL, [Evidence(file=f, line=n, value=f"{p}/{proto} on all addresses") for proto, p, f, n in open_],
                       "risky port(s) open to the world")
    return Outcome(PASS, [Evidence(file="/proc/net/tcp", note=f"none of {sorted(risky)} listening on all addresses")])


SWEEP_DEFAULT = ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/lib", "/usr/local", "/etc", "/opt"]


SWEEP_CONDITIONS = ("world_writable", "unowned", "suid_unpackaged")


def sweep(host: Host, paths: list[str], limit: int) -> tuple[dict[str, list[Evidence]], int, bool]:
    """One walk of `paths` (the root's bounded walk, symlinks not followed) judging every entry for all sweep conditions.

    The result is cached on the Host, so the three sweep checks of a policy cost one walk; only
    offenders are kept, never the whole tree.
    """
    key = (tuple(paths), limit)
    cache: dict[tuple[tuple[str, ...], int], tuple[dict[str, list[Evidence]], int, bool]] = host.__dict__.setdefault("_sweeps", {})
    if key in cache:
        return cache[key]
    fast = _sweep_with_find(host, paths)
    if fast is not None:
        cache[key] = fast
        return fast
    found: dict[str, list[Evidence]] = {c: [] for c in SWEEP_CONDITIONS}
    users, groups = set(host.users), set(host.groups)
    count, truncated = 0, False
    special = stat.S_ISUID | stat.S_ISGID
    for top in [b for b in paths if not host.is_symlink(b) and host.is_dir(b)]:
        for _folder, dirs, others in host.fs.walk(top, max_entries=limit - count):
            for entry in dirs + others:
                st = entry.st
                count += 1
                mode, fmt = st.st_mode, stat.S_IFMT(st.st_mode)
                if fmt == stat.S_IFLNK:
                    continue
                if mode & stat.S_IWOTH and not (fmt == stat.S_IFDIR and mode & stat.S_ISVTX):
                    found["world_writable"].append(Evidence(file=entry.path, value=f"mode {stat.S_IMODE(mode):04o}"))
                if (users and st.st_uid not in users) or (groups and st.st_gid not in groups):
                    found["unowned"].append(Evidence(file=entry.path,
                                                     value=f"uid {st.st_uid} gid {st.st_gid} not in passwd/group"))
                if fmt == stat.S_IFREG and mode & special and not any(
                        a in host.package_files for a in usr_aliases(entry.path)):
                    found["suid_unpackaged"].append(
                        Evidence(file=entry.path, value=f"mode {stat.S_IMODE(mode):04o}, not owned by any package"))
        if count >= limit:
            truncated = True
            break
    cache[key] = (found, count, truncated)
    return cache[key]


def _sweep_with_find(host: Host, paths: list[str]) -> tuple[dict[str, list[Evidence]], int, bool] | None:
    """The same sweep by GNU find (C speed): it prints only candidates, Python judges those few.

    Owners are compared with the *root's* passwd/group ids (`-uid N` lists), not this machine's
    name service, so a mounted disk is judged by its own accounts. None when find is unusable.
    """
    find = shutil.which("find")
    # find gets the real folder each path resolves to inside the root (no symlink left in it), so
    # it cannot be walked out of the root; below it, find never follows links (-P).
    local = [host.fs.local(b) for b in paths if not host.is_symlink(b) and host.is_dir(b)]
    tops = sorted({str(p) for p in local if p is not None})
    if not find or not tops or len(host.users) > 500 or len(host.groups) > 500:
        return None
    def any_of(flag: str, ids: set[int]) -> list[str]:
        out: list[str] = []
        for i in sorted(ids):
            out += [*(["-o"] if out else []), flag, str(i)]
        return ["!", "(", *out, ")"] if out else []
    cand = ["-perm", "-0002", "-o", "-perm", "/6000"]
    if host.users:
        cand += ["-o", *any_of("-uid", set(host.users))]
    if host.groups:
        cand += ["-o", *any_of("-gid", set(host.groups))]
    cmd = [find, *tops, "!", "-type", "l", "(", *cand, ")", "-printf", "%m %U %G %y %p\\0"]
    try:
        res = subprocess.run(cmd, capture_output=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode not in (0, 1) or (res.returncode == 1 and not res.stdout and b"invalid" in res.stderr.lower()):
        return None
    found: dict[str, list[Evidence]] = {c: [] for c in SWEEP_CONDITIONS}
    root_len = len(str(host.root).rstrip("/"))
    for rec in res.stdout.split(b"\0"):
        if not rec:
            continue
        mode_s, uid_s, gid_s, kind, path_b = rec.decode("utf-8", "surrogateescape").split(" ", 4)
        mode, uid, gid, path = int(mode_s, 8), int(uid_s), int(gid_s), path_b[root_len:]
        if mode & stat.S_IWOTH and not (kind == "d" and mode & stat.S_ISVTX):
            found["world_writable"].append(Evidence(file=path, value=f"mode {mode:04o}"))
        if (host.users and uid not in host.users) or (host.groups and gid not in host.groups):
            found["unowned"].append(Evidence(file=path, value=f"uid {uid} gid {gid} not in passwd/group"))
        if kind == "f" and mode & (stat.S_ISUID | stat.S_ISGID) and not any(a in host.package_files for a in usr_aliases(path)):
            found["suid_unpackaged"].append(Evidence(file=path, value=f"mode {mode:04o}, not owned by any package"))
    return found, -1, False


def file_scan(host: Host, spec: dict[str, Any]) -> Outcome:
    """Sweep system folders for `world_writable`, `unowned` or `suid_unpackaged` files."""
    cond = spec["condition"]
    if cond not in SWEEP_CONDITIONS:
        raise ValueError(f"unknown sweep condition {cond!r}")
    paths = spec.get("paths", SWEEP_DEFAULT)
    if not any(host.is_dir(p) for p in paths):
        return Outcome(NA, [Evidence(file=", ".join(paths), note="absent")],
                       f"cannot assess: none of {', '.join(paths)} exists under this root", missing=list(paths))
    if cond == "unowned" and not host.ownership_preserved:
        return Outcome(NA, [Evidence(note=host.ownership_note)], f"cannot assess owners: {host.ownership_note}")
    found, count, truncated = sweep(host, paths, int(spec.get("max_files", 500_000)))
    offending = list(found[cond])
    if truncated:
        offending.append(Evidence(note=f"stopped after {count} entries"))
    if found[cond]:
        return Outcome(FAIL, offending[:50], f"{len(found[cond])} file(s) {cond.replace('_', ' ')}")
    checked = f"{count} entries" if count >= 0 else "every entry"
    return Outcome(PASS, [Evidence(note=f"{checked} checked under {', '.join(paths)}")])


def command(host: Host, spec: dict[str, Any]) -> Outcome:
    """Run a command (live host only) and match its output like `file_regex` matches lines."""
    if not host.live:
        return Outcome(NA, [], "command checks run on the live host only")
    argv = spec["argv"] if isinstance(spec["argv"], list) else shlex.split(spec["argv"])
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=float(spec.get("timeout", 10)))
    except FileNotFoundError:
        return Outcome(NA, [Evidence(value=argv[0], note="command not found")], f"{argv[0]} not found")
    except subprocess.TimeoutExpired:
        return Outcome(FAIL, [Evidence(value=" ".join(argv), note="timed out")], "command timed out")
    out = res.stdout + res.stderr
    hits = [line for line in out.splitlines() if re.search(spec["pattern"], line)]
    ev = [Evidence(value=h[:200], note=" ".join(argv)) for h in hits[:10]] or [Evidence(value=out[:200], note=" ".join(argv))]
    want = spec.get("expect", "match")
    ok = bool(hits) if want == "match" else not hits
    return Outcome(PASS if ok else FAIL, ev, "" if ok else f"output {'lacks' if want == 'match' else 'has'} {spec['pattern']!r}")
