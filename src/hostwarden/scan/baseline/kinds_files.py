"""Check kinds that read files: content regex, key-value config, mode/owner, existence, listings.

Each kind is `fn(host, spec) -> Outcome`; `spec` is the check's `check:` mapping from the policy.
A check never grades content it did not read: a missing (or unreadable) input file makes it
not-applicable ("cannot assess: /etc/passwd missing"), because "no sshd_config" means "no sshd"
or "a partial root", not "insecure sshd". Only a check whose point is that the file must exist
(audit rules, say) declares `missing: fail` in the policy; then the absence itself is the finding.
"""

from __future__ import annotations

import fnmatch
import glob
import re
import stat
from typing import Any

from hostwarden.scan.baseline.compare import compare, describe
from hostwarden.scan.baseline.host import Host, config_values
from hostwarden.scan.baseline.model import FAIL, NA, PASS, Evidence, Outcome

MISSING_MODES = ("na", "fail", "pass")
INPUT_MODES = ("all", "any")


def _missing(spec: dict[str, Any], paths: list[str], why: str = "missing") -> Outcome:
    """The outcome when the input files are absent: see the module docstring."""
    what = ", ".join(paths)
    evidence = [Evidence(file=what, note="absent" if why == "missing" else why)]
    mode = spec.get("missing", "na")
    if mode == "fail":
        return Outcome(FAIL, evidence, f"required file {why}: {what}")
    if mode == "pass":
        return Outcome(PASS, evidence)
    return Outcome(NA, evidence, f"cannot assess: {what} {why}", missing=list(paths))


def _patterns(spec: dict[str, Any]) -> list[str]:
    return list(spec.get("files") or [spec["file"]])


def _files(host: Host, spec: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for pattern in _patterns(spec):
        found.extend(host.expand(pattern))
    return found


def file_regex(host: Host, spec: dict[str, Any]) -> Outcome:
    """`expect: match` — some line matches (and its group 1 passes `compare`); `no_match` — none does.

    Files named without a glob are all inputs: when one of them is missing, only what the others
    show is decided (a forbidden line found, a required one found); "none matches" and "required
    setting not found" would be claims about the unread file, so the check is not applicable then.
    `inputs: any` says the files are alternative sources of the same settings (a generated file
    and the fragments it is generated from): any one of them read is enough to decide.
    """
    present = _files(host, spec)
    files = [f for f in present if host.read(f) is not None]
    if not files:
        return _missing(spec, present, "unreadable") if present else _missing(spec, _patterns(spec))
    unread = [] if spec.get("inputs", "all") == "any" else [
        p for p in _patterns(spec) if not glob.has_magic(p) and p not in files]
    pattern = re.compile(spec["pattern"], re.IGNORECASE if spec.get("ignore_case") else 0)
    cmp = spec.get("compare")
    hits: list[Evidence] = []
    bad: list[Evidence] = []
    for file in files:
        for lineno, line in enumerate((host.read(file) or "").splitlines(), 1):
            if line.lstrip().startswith("#") and not spec.get("comments"):
                continue
            m = pattern.search(line)
            if not m:
                continue
            ev = Evidence(file=file, line=lineno, value=line.strip()[:200])
            if cmp and not compare(m.group(1) if m.groups() else m.group(0), cmp["op"], cmp["value"]):
                bad.append(ev)
            else:
                hits.append(ev)
    if spec.get("expect", "match") == "no_match":
        offending = hits + bad
        if offending:
            return Outcome(FAIL, offending[:20], f"{len(offending)} line(s) match {spec['pattern']!r}")
        if unread:
            return _missing({}, unread)
        return Outcome(PASS, [Evidence(file=", ".join(files), note=f"no line matches {spec['pattern']!r}")])
    if bad:
        return Outcome(FAIL, bad[:20], f"value must be {describe(cmp['op'], cmp['value'])}")
    if hits:
        return Outcome(PASS, hits[:5])
    if unread:
        return _missing({}, unread)
    return Outcome(FAIL, [Evidence(file=", ".join(files), note=f"no line matches {spec['pattern']!r}")],
                   "required setting not found")


def config(host: Host, spec: dict[str, Any]) -> Outcome:
    """A key in a key-value file (`Key value` or `key = value`), following `include` like sshd does."""
    file = spec["file"]
    if host.read(file) is None:
        return _missing(spec, [file], "missing" if host.lstat(file) is None else "unreadable")
    values = config_values(host, file, include=spec.get("include"), stop_at=spec.get("stop_at"))
    key = spec["key"].lower()
    seen = [v for v in values if v[0] == key]
    if seen:
        _, value, where, line = seen[0] if spec.get("wins", "first") == "first" else seen[-1]
        ev = Evidence(file=where, line=line, value=value)
    elif "default" in spec:
        value, ev = str(spec["default"]), Evidence(file=file, value=str(spec["default"]), note="not set; default applies")
    else:
        return Outcome(FAIL, [Evidence(file=file, note=f"{spec['key']} not set")], f"{spec['key']} not set")
    if compare(value, spec["op"], spec["value"]):
        return Outcome(PASS, [ev])
    return Outcome(FAIL, [ev], f"{spec['key']} is {value!r}; must be {describe(spec['op'], spec['value'])}")


def file_mode(host: Host, spec: dict[str, Any]) -> Outcome:
    """Permissions no looser than `max_mode`, owned by `owner`/`group` (names resolved in the root's passwd)."""
    file = spec["file"]
    st = host.lstat(file)
    if st is None:
        return _missing(spec, [file])
    mode = stat.S_IMODE(st.st_mode)
    owner = host.users.get(st.st_uid, "root" if st.st_uid == 0 else str(st.st_uid))
    group = host.groups.get(st.st_gid, "root" if st.st_gid == 0 else str(st.st_gid))
    problems = []
    if "max_mode" in spec and mode & ~int(str(spec["max_mode"]), 8):
        problems.append(f"mode {mode:04o} is looser than {spec['max_mode']}")
    wants_owner = "owner" in spec or "group" in spec
    if wants_owner and not host.ownership_preserved:
        # The owners of a copy name whoever copied it; only the mode can be judged here.
        ev = Evidence(file=file, value=f"mode {mode:04o}", note=host.ownership_note)
        if problems:
            return Outcome(FAIL, [ev], "; ".join(problems))
        return Outcome(NA, [ev], f"cannot assess the owner of {file}: {host.ownership_note}")
    ev = Evidence(file=file, value=f"mode {mode:04o} owner {owner}:{group}")
    if "owner" in spec and owner not in _names(spec["owner"]):
        problems.append(f"owner {owner} is not {spec['owner']}")
    if "group" in spec and group not in _names(spec["group"]):
        problems.append(f"group {group} is not {spec['group']}")
    return Outcome(FAIL, [ev], "; ".join(problems)) if problems else Outcome(PASS, [ev])


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def file_exists(host: Host, spec: dict[str, Any]) -> Outcome:
    """`expect: present|absent` for every path or glob listed in `files`/`file`."""
    patterns = spec.get("files") or [spec["file"]]
    present = [p for pat in patterns for p in host.expand(pat)]
    want = spec.get("expect", "present")
    if want == "absent":
        if present:
            return Outcome(FAIL, [Evidence(file=p, note="present") for p in present], "file must not exist")
        return Outcome(PASS, [Evidence(file=", ".join(patterns), note="absent")])
    if present:
        return Outcome(PASS, [Evidence(file=p, note="present") for p in present])
    return Outcome(FAIL, [Evidence(file=", ".join(patterns), note="absent")], f"required file missing: {', '.join(patterns)}")


def dir_list(host: Host, spec: dict[str, Any]) -> Outcome:
    """Entries of `dir` whose names match `names` (globs): `expect: present` needs one, `absent` none."""
    if not host.is_dir(spec["dir"]):
        return _missing(spec, [spec["dir"]])
    pats = spec.get("names", ["*"])
    entries = sorted(e.name for e in host.entries(spec["dir"]) if any(fnmatch.fnmatch(e.name, p) for p in pats))
    where = spec["dir"].rstrip("/")
    if spec.get("expect", "present") == "absent":
        if entries:
            return Outcome(FAIL, [Evidence(file=f"{where}/{e}", note="present") for e in entries[:20]],
                           f"{len(entries)} unexpected entr(y/ies)")
        return Outcome(PASS, [Evidence(file=where, note=f"no entry matches {pats}")])
    if entries:
        return Outcome(PASS, [Evidence(file=f"{where}/{e}") for e in entries[:5]])
    return Outcome(FAIL, [Evidence(file=where, note=f"no entry matches {pats}")], "required entries missing")


PERIOD_DAYS = {"daily": 1, "weekly": 7, "monthly": 30, "yearly": 365}


def logrotate(host: Host, spec: dict[str, Any]) -> Outcome:
    """Days of logs kept = rotations × period, for the global setting and every block that overrides it."""
    main = "/etc/logrotate.conf"
    files = [main, *host.expand("/etc/logrotate.d/*")]
    if host.read(main) is None:
        return _missing(spec, [main])
    g_period, g_rotate = 7, None
    short: list[Evidence] = []
    kept: list[Evidence] = []
    for file in files:
        period, rotate, block_line = g_period, g_rotate, 0
        in_block = False
        for lineno, raw in enumerate((host.read(file) or "").splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if line.endswith("{"):
                in_block, period, rotate, block_line = True, g_period, g_rotate, lineno
                continue
            if line == "}":
                in_block = False
                if rotate is not None:
                    (short if rotate * period < spec["min_days"] else kept).append(
                        Evidence(file=file, line=block_line, value=f"{rotate * period} days"))
                continue
            words = line.split()
            if not words:
                continue
            if words[0] in PERIOD_DAYS:
                if in_block:
                    period = PERIOD_DAYS[words[0]]
                else:
                    g_period = PERIOD_DAYS[words[0]]
            elif words[0] == "rotate" and len(words) > 1 and words[1].isdigit():
                if in_block:
                    rotate = int(words[1])
                else:
                    g_rotate = int(words[1])
    if g_rotate is None:
        return Outcome(FAIL, [Evidence(file=main, note="no global rotate")], "global rotate count not set")
    glob_ev = Evidence(file=main, value=f"{g_rotate * g_period} days")
    (short if g_rotate * g_period < spec["min_days"] else kept).insert(0, glob_ev)
    if short:
        return Outcome(FAIL, short[:20], f"logs kept fewer than {spec['min_days']} days")
    return Outcome(PASS, kept[:5])


def mount(host: Host, spec: dict[str, Any]) -> Outcome:
    """Mount point present with required options, from the root's proc/mounts (live) or etc/fstab."""
    source = "/proc/mounts" if host.read("/proc/mounts") else "/etc/fstab"
    text = host.read(source)
    if text is None:
        return _missing(spec, [source])
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) >= 4 and not parts[0].startswith("#") and parts[1] == spec["mountpoint"]:
            opts = set(parts[3].split(","))
            lacking = [o for o in spec.get("options", []) if o not in opts]
            ev = Evidence(file=source, line=lineno, value=parts[3])
            if lacking:
                return Outcome(FAIL, [ev], f"{spec['mountpoint']} lacks {','.join(lacking)}")
            return Outcome(PASS, [ev])
    return Outcome(FAIL, [Evidence(file=source, note=f"{spec['mountpoint']} not a separate mount")],
                   f"{spec['mountpoint']} is not mounted separately")
