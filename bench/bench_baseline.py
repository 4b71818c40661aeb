"""Built-in baseline vs `lynis audit system` (and OpenSCAP when a matching SSG profile exists) on this host.

Why: the issue's target is the full built-in baseline in under 2 s on this machine, side by side
with the tools people use for the same job: runtime, number of checks, and which important
findings each one reports. Writes bench/results/baseline.md.

    python bench/bench_baseline.py [--repeat 5] [--no-lynis] [--no-oscap]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402
from hostwarden.scan.base import ScanContext  # noqa: E402
from hostwarden.scan.baseline.engine import run_policy, score  # noqa: E402
from hostwarden.scan.baseline.loader import builtin_policy_files, load_policy  # noqa: E402

RESULT = peers.BENCH / "results" / "baseline.md"
SSG = Path("/usr/share/xml/scap/ssg/content")

# topic → (hostwarden check-id prefixes, lynis test ids)
TOPICS: list[tuple[str, list[str], list[str]]] = [
    ("sshd hardening (root login, passwords, ciphers…)", ["HW-SSH-"], ["SSH-7408"]),
    ("password aging and quality", ["HW-PWD-00"], ["AUTH-9286", "AUTH-9262", "AUTH-9230"]),
    ("lockout after failed logins", ["HW-PWD-010", "HW-PWD-011", "HW-PWD-012"], []),
    ("session timeout (TMOUT)", ["HW-PWD-013"], ["SHLL-6220"]),
    ("UID 0 / empty passwords / shadowing", ["HW-ACC-001", "HW-ACC-002", "HW-ACC-005"], ["AUTH-9204", "AUTH-9283"]),
    ("umask", ["HW-ACC-009"], ["AUTH-9328"]),
    ("sudo (NOPASSWD, use_pty, log)", ["HW-ACC-006", "HW-ACC-007", "HW-ACC-008"], ["AUTH-9250"]),
    ("permissions of account/config files", ["HW-PERM-"], ["FILE-7524", "SCHD-7704"]),
    ("sysctl kernel and network hardening", ["HW-SYS-"], ["KRNL-6000"]),
    ("auditd installed/enabled/rules", ["HW-AUD-00"], ["ACCT-9628", "ACCT-9630"]),
    ("log retention ≥ 180 days", ["HW-LOG-001"], []),
    ("syslog daemon", ["HW-AUD-007"], ["LOGG-2130", "LOGG-2138"]),
    ("time synchronisation", ["HW-TIME-"], ["TIME-3104"]),
    ("firewall present, default deny, at boot", ["HW-FW-"], ["FIRE-4512", "FIRE-4590"]),
    ("risky services/packages/ports", ["HW-SVC-00"], ["INSE-8000", "INSE-8100", "NETW-3200"]),
    ("/tmp and /dev/shm mount options", ["HW-MNT-"], ["FILE-6310", "FILE-6374"]),
    ("core dumps", ["HW-CORE-", "HW-SYS-015"], ["KRNL-5820"]),
    ("AppArmor / SELinux", ["HW-MAC-"], ["MACF-6204", "MACF-6232"]),
    ("file integrity tool", ["HW-INT-"], ["FINT-4350"]),
    ("malware scanner", ["HW-MAL-001"], ["HRDN-7230"]),
    ("login banners", ["HW-SSH-015", "HW-SVC-009"], ["BANN-7126", "BANN-7130"]),
    ("world-writable / unowned / unpackaged SUID sweep", ["HW-FS-00"], ["FILE-6362"]),
    ("boot loader password", ["HW-BOOT-"], ["BOOT-5122"]),
]


def run_hostwarden(repeat: int) -> dict:
    """In-process: policy load + evaluation on the live root, median of `repeat` runs (fresh caches)."""
    walls, results = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        policy = load_policy(builtin_policy_files()[0])
        results = run_policy(policy, ScanContext(root=Path("/"), live=True))
        walls.append(time.perf_counter() - t0)
    cli = peers.hostwarden_cmd()[0]
    cli_wall = None
    if cli:
        with tempfile.TemporaryDirectory() as work:
            m = peers.measure([*cli, "baseline", "run", "--root", "/", "--format", "json"], Path(work) / "out.json")
            cli_wall = m.wall_s if m.returncode in (0, 1) else None
    failed = {r.check.id for r in results if r.status == "fail"}
    return {"wall": statistics.median(walls), "cli_wall": cli_wall, "checks": len(results),
            "score": score(results)["total"], "failed": failed, "ids": {r.check.id for r in results},
            "na": {r.check.id for r in results if r.status == "not_applicable"}}


def run_sca(path: Path) -> dict:
    """A Wazuh SCA policy (e.g. wazuh/wazuh ruleset/sca/debian/cis_debian12.yml) through our loader."""
    t0 = time.perf_counter()
    results = run_policy(load_policy(path), ScanContext(root=Path("/"), live=True))
    return {"wall": time.perf_counter() - t0, "checks": len(results), "score": score(results)["total"]}


def run_lynis(work: Path) -> dict | None:
    exe = shutil.which("lynis") or ("/usr/sbin/lynis" if Path("/usr/sbin/lynis").exists() else None)
    if not exe:
        return None
    report, log = work / "lynis-report.dat", work / "lynis.log"
    m = peers.measure([exe, "audit", "system", "--quick", "--no-colors", "--logfile", str(log), "--report-file", str(report)],
                      work / "lynis.out")
    text = report.read_text(errors="replace") if report.exists() else ""
    executed = set()
    flagged: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("tests_executed="):
            executed = {t for t in line.split("=", 1)[1].split("|") if t}
        m2 = re.match(r"^(warning|suggestion)\[\]=([A-Z]+-\d+)\|", line)
        if m2:
            flagged[m2.group(2)] = flagged.get(m2.group(2), 0) + 1
    version = re.search(r"^lynis_version=(.*)$", text, re.MULTILINE)
    return {"wall": m.wall_s, "checks": len(executed), "executed": executed, "flagged": flagged,
            "version": version.group(1) if version else "?", "findings": sum(flagged.values())}


def run_oscap(work: Path) -> dict | None:
    exe = shutil.which("oscap")
    if not exe or not SSG.is_dir():
        return None
    os_id = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    want = f"ssg-debian{os_id.get('VERSION_ID', '').strip(chr(34))}-ds.xml"
    content = SSG / want
    note = ""
    if not content.exists():
        have = sorted(SSG.glob("ssg-debian*-ds.xml"))
        if not have:
            return None
        content = have[-1]
        note = f"no {want} in this ssg-debian; ran {content.name} (its CPE does not match this OS)"
    results = work / "oscap-results.xml"
    m = peers.measure([exe, "xccdf", "eval", "--profile", "xccdf_org.ssgproject.content_profile_standard",
                       "--results", str(results), str(content)], work / "oscap.out")
    counts: dict[str, int] = {}
    if results.exists():
        for el in ET.parse(results).getroot().iter():
            if el.tag.endswith("}result"):
                counts[el.text or "?"] = counts.get(el.text or "?", 0) + 1
    return {"wall": m.wall_s, "checks": sum(counts.values()), "counts": counts, "content": content.name, "note": note}


def topic_rows(hw: dict, lyn: dict | None) -> list[list[str]]:
    rows = []
    for topic, prefixes, lynis_ids in TOPICS:
        ids = {i for i in hw["ids"] if any(i.startswith(p) for p in prefixes)}
        bad = sorted(ids & hw["failed"])
        na = ids & hw["na"]
        hw_cell = f"**fail** ({len(bad)}/{len(ids)})" if bad else ("n/a" if na == ids else f"pass ({len(ids)})")
        if lyn is None:
            ly_cell = "not run"
        else:
            ran = [t for t in lynis_ids if t in lyn["executed"]]
            hits = [t for t in ran if t in lyn["flagged"]]
            ly_cell = ("**reported** " + ", ".join(hits)) if hits else ("no finding" if ran else "not checked")
        rows.append([topic, hw_cell, ly_cell])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-lynis", action="store_true")
    ap.add_argument("--no-oscap", action="store_true")
    ap.add_argument("--sca", type=Path, help="also run this Wazuh SCA policy file through hostwarden's SCA loader")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hw-bench-baseline-") as tmp:
        work = Path(tmp)
        print("== hostwarden", file=sys.stderr)
        hw = run_hostwarden(args.repeat)
        print(f"  {hw['wall']:.2f} s, {hw['checks']} checks", file=sys.stderr)
        lyn = None if args.no_lynis else run_lynis(work)
        if lyn:
            print(f"  lynis: {lyn['wall']:.1f} s, {lyn['checks']} tests", file=sys.stderr)
        osc = None if args.no_oscap else run_oscap(work)
    sca = run_sca(args.sca) if args.sca else None
    rows = [["hostwarden baseline (built-in policy, in-process)", f"{hw['wall']:.2f}", str(hw["checks"]),
             f"{len(hw['failed'])} failed, {hw['score']['pass']} passed, {hw['score']['not_applicable']} n/a", "1.0×"]]
    if hw["cli_wall"]:
        rows.append(["`hostwarden baseline run --root / --format json` (CLI, incl. start-up)", f"{hw['cli_wall']:.2f}",
                     str(hw["checks"]), "same", f"{hw['cli_wall'] / hw['wall']:.1f}×"])
    if sca:
        rows.append([f"hostwarden with Wazuh SCA `{args.sca.name}` (in-process)", f"{sca['wall']:.2f}", str(sca["checks"]),
                     f"{sca['score']['fail']} failed, {sca['score']['pass']} passed, {sca['score']['not_applicable']} n/a",
                     f"{sca['wall'] / hw['wall']:.1f}×"])
    if lyn:
        rows.append([f"`lynis audit system --quick` {lyn['version']}", f"{lyn['wall']:.2f}", str(lyn["checks"]),
                     f"{lyn['findings']} warnings+suggestions", f"{lyn['wall'] / hw['wall']:.0f}×"])
    if osc:
        rows.append([f"`oscap xccdf eval` {osc['content']} standard", f"{osc['wall']:.2f}", str(osc["checks"]),
                     ", ".join(f"{v} {k}" for k, v in sorted(osc["counts"].items())), f"{osc['wall'] / hw['wall']:.1f}×"])
    lines = [
        "## Baseline: hostwarden vs lynis (and OpenSCAP)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {peers.machine()}, live root `/`"
        f" (a container: no sshd, no systemd running), load average {load_before:.1f} when it started (the machine is"
        f" shared). hostwarden: median of {args.repeat} runs; peers: one run each.",
        "",
        peers.markdown_table(["tool", "wall s", "checks", "result", "time vs hostwarden"], rows, numeric=(1, 2)),
        "",
    ]
    if osc and osc["note"]:
        lines += [f"OpenSCAP: {osc['note']}, so every rule is `notapplicable`.", ""]
    if osc is None and not args.no_oscap:
        lines += ["OpenSCAP: `oscap` or `ssg-debian` content not installed; not run.", ""]
    lines += [
        "Which important findings each reports on this host (hostwarden: failing checks of the topic; lynis: the test ids"
        " listed that raised a warning or suggestion; *not checked*: lynis did not run those tests here):",
        "",
        peers.markdown_table(["topic", "hostwarden", "lynis"], topic_rows(hw, lyn)),
        "",
    ]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text("\n".join(lines))
    print(json.dumps({"hostwarden_s": hw["wall"], "lynis_s": lyn and lyn["wall"]}), file=sys.stderr)


if __name__ == "__main__":
    main()
