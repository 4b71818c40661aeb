"""Benchmark: a 3,000-package host matched against >= 200,000 synthetic OSV records.

What is timed, separately:
1. import: 200,000+ OSV records read from an `all.zip` into the SQLite advisory database;
2. match: the 3,000-package inventory matched after import (the acceptance target: < 1 s), in a
   fresh process ("cold": nothing cached, no page of the database read yet by SQLite; this is
   what a `hostwarden scan` pays) and then best of 3 in that process ("warm");
3. scan: the whole `vuln` scanner on a root folder holding the same 3,000 packages as a dpkg
   status file, a requirements.txt and a package-lock.json (inventory + match + findings), in a
   fresh process once, then best of 3.

The records are generated deterministically (seeded): three ecosystems (Debian:12, PyPI, npm),
10,000 package names each of which 1,000 are installed, ~6.7 records per name with 1-3 ranges,
`fixed` or `last_affected` ends and some `versions` lists, so about 1 in 10 advisories lands on
an installed package. Run: `.venv/bin/python bench/bench_vuln.py [--records N] [--out FILE]`.
The cold runs are this script re-run as `--child match|scan DIR`, which prints JSON timings.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from hostwarden.scan.base import ScanContext
from hostwarden.scan.vuln.db import AdvisoryDB
from hostwarden.scan.vuln.inventory.model import Package
from hostwarden.scan.vuln.loader import iter_records
from hostwarden.scan.vuln.match import match_packages
from hostwarden.scan.vuln.scanner import VulnScanner

ECOSYSTEMS = ("Debian:12", "PyPI", "npm")
NAMES_PER_ECO = 10_000
INSTALLED_PER_ECO = 1_000


def version(rng: random.Random, eco: str) -> str:
    major, minor, patch = rng.randint(0, 9), rng.randint(0, 20), rng.randint(0, 30)
    if eco.startswith("Debian"):
        epoch = "1:" if rng.random() < 0.05 else ""
        return f"{epoch}{major}.{minor}.{patch}-{rng.randint(1, 5)}" + ("+deb12u1" if rng.random() < 0.2 else "")
    return f"{major}.{minor}.{patch}"


def record(rng: random.Random, i: int, eco: str, name: str) -> dict:
    ranges = []
    for _ in range(rng.randint(1, 3)):
        a, b = sorted((version(rng, eco), version(rng, eco)), key=lambda v: v.split("-")[0])
        end = {"fixed": b} if rng.random() < 0.85 else {"last_affected": b}
        ranges.append({"type": "ECOSYSTEM" if eco != "npm" else "SEMVER",
                       "events": [{"introduced": "0" if rng.random() < 0.3 else a}, end]})
    affected = {"package": {"ecosystem": eco, "name": name}, "ranges": ranges}
    if rng.random() < 0.2:
        affected["versions"] = [version(rng, eco) for _ in range(rng.randint(1, 8))]
    rec = {"id": f"SYN-{i}", "modified": "2026-01-01T00:00:00Z", "summary": f"synthetic {i}",
           "aliases": [f"CVE-2026-{i}"], "affected": [affected]}
    if rng.random() < 0.5:
        rec["severity"] = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
    return rec


def write_zip(path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for i in range(count):
            eco = ECOSYSTEMS[i % len(ECOSYSTEMS)]
            name = f"pkg{rng.randrange(NAMES_PER_ECO)}"
            zf.writestr(f"SYN-{i}.json", json.dumps(record(rng, i, eco, name)))


def inventory(seed: int) -> list[Package]:
    rng = random.Random(seed + 1)
    out = []
    for eco in ECOSYSTEMS:
        for n in rng.sample(range(NAMES_PER_ECO), INSTALLED_PER_ECO):
            out.append(Package(f"pkg{n}", version(rng, eco), eco, "/bench"))
    return out


def write_root(root: Path, packages: list[Package]) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "srv").mkdir()
    deb = [p for p in packages if p.ecosystem.startswith("Debian")]
    (root / "var/lib/dpkg/status").write_text("".join(
        f"Package: {p.name}\nStatus: install ok installed\nVersion: {p.version}\n\n" for p in deb))
    (root / "srv/requirements.txt").write_text("".join(f"{p.name}=={p.version}\n" for p in packages
                                                       if p.ecosystem == "PyPI"))
    lock = {"lockfileVersion": 3, "packages": {"": {"name": "bench"}, **{
        f"node_modules/{p.name}": {"version": p.version} for p in packages if p.ecosystem == "npm"}}}
    (root / "srv/package-lock.json").write_text(json.dumps(lock))


def best_of(n: int, func) -> tuple[float, object]:
    times, result = [], None
    for _ in range(n):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


HOW = """\
How (since 2026-11-28). Before, on this workload: import 125.0 s, match 9.35 s cold and 6.75 s
best of 3 (recorded figures); the old code re-run beside the new one on 2026-11-28 under the same
load (other engineers' jobs on the 2 cores): import 72.3 s (43.0 s CPU), match 4.40 s cold
(3.06 s CPU), 3.18 s best of 3. Entries are now *compiled* at import (events sorted, every
version turned into an order-preserving key text, status words and CVSS score worked out), the
`affected` table is clustered by package, and matching is one joined range read per package,
one JSON decode and string comparisons per candidate entry, then one look-up of the shown fields
for the matched advisories only. Results are identical to the plain OSV evaluation
(`tests/unit/vuln/test_vuln_match_equivalence.py`; here: the same 12,454 matches, same order).

Where the cold match goes now (profile, 20,108 candidate entries): evaluating ~28% (of which
keying the 3,000 installed versions ~11%), SQLite reads and row objects ~25%, building the 12,454
findings ~18%, JSON decoding ~12%, the loop itself ~8%. The floor of this design is that
per-candidate Python (~25 us per entry); going much lower needs a range pre-filter in SQL (fewer
entries decoded) or a compiled extension. Import does more work than before (the compiling) but
took 38.5 s (35.7 s CPU) beside the old code's 72.3 s (43.0 s CPU): no fsync while importing,
secondary indexes built once at the end, zip members read directly. What is left: JSON encoding
and decoding ~30%, compiling ~30%, SQLite ~15%, the zip directory ~7%. orjson would cut the JSON
share but writes NaN as null where `json` keeps it, so it was not added. rpm, apk and univers
ecosystems have no key texts and are still evaluated from the stored record (old speed); this
benchmark does not cover them. The 2 cores are shared, so single figures move by +-30% between
runs (a warm run can read slower than the cold one); the CPU times are the steadier figure."""


def scan_root(work: Path) -> list:
    ctx = ScanContext(root=work / "root", data_dir=work / "data", options={"advisory_max_age_days": 1e6})
    return VulnScanner().scan(ctx)


def child(mode: str, work: Path, seed: int) -> None:
    """One fresh process: the first (cold) run, then best of 3; JSON on stdout."""
    if mode == "match":
        packages = inventory(seed)
        with AdvisoryDB.in_data_dir(work / "data") as db:
            t0, c0 = time.perf_counter(), time.process_time()
            result = match_packages(db, packages)
            cold, cpu = time.perf_counter() - t0, time.process_time() - c0
            warm, _ = best_of(3, lambda: match_packages(db, packages))
        count = len(result.matches)
    else:
        t0, c0 = time.perf_counter(), time.process_time()
        count = len(scan_root(work))
        cold, cpu = time.perf_counter() - t0, time.process_time() - c0
        warm, _ = best_of(3, lambda: scan_root(work))
    print(json.dumps({"cold": cold, "cpu": cpu, "warm": warm, "count": count}))


def run_child(mode: str, work: Path, seed: int) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(work), "--seed", str(seed)],
                         check=True, capture_output=True, text=True).stdout
    return {**json.loads(out.splitlines()[-1]), "process": time.perf_counter() - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "vuln.md")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.seed)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        write_zip(work / "all.zip", args.records, args.seed)
        gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        errors: list = []
        with AdvisoryDB.in_data_dir(work / "data") as db:
            stats = db.import_records(iter_records([work / "all.zip"], errors))
        import_s = time.perf_counter() - t0
        db_mb = (work / "data" / "advisories.sqlite").stat().st_size / 1e6
        packages = inventory(args.seed)
        match = run_child("match", work, args.seed)
        write_root(work / "root", packages)
        scan = run_child("scan", work, args.seed)
    cold_s = match["cold"]
    lines = [
        "# Vulnerability matching benchmark (`bench/bench_vuln.py`)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        "2 shared cores. Synthetic, seeded OSV records (see the script's docstring).",
        "",
        "| step | figure |",
        "| --- | --- |",
        f"| advisory records (generated zip, {gen:.1f} s to write) | {stats.records:,} ({stats.affected:,} affected entries, {len(errors)} errors) |",
        f"| import into SQLite (`vulndb import all.zip`) | {import_s:.1f} s ({stats.records / import_s:,.0f} records/s, DB {db_mb:.0f} MB) |",
        f"| inventory | {len(packages):,} packages (1,000 each Debian:12, PyPI, npm) |",
        f"| match after import, first run in a fresh process (cold) | {cold_s * 1000:.0f} ms ({match['cpu'] * 1000:.0f} ms CPU), {match['count']:,} matches |",
        f"| match after import, best of 3 in that process (warm) | {match['warm'] * 1000:.0f} ms |",
        f"| that whole process (Python start, imports, cold + 3 warm matches) | {match['process']:.1f} s |",
        f"| full `vuln` scanner on a root (read dpkg status + requirements + package-lock, match, build findings), fresh process | {scan['cold'] * 1000:.0f} ms ({scan['cpu'] * 1000:.0f} ms CPU), {scan['count']:,} findings |",
        f"| full `vuln` scanner, best of 3 | {scan['warm'] * 1000:.0f} ms |",
        "",
        "Target: < 1 s for the match after import: "
        + ("**met**" if cold_s < 1.0 else "**not met**") + f" (cold {cold_s:.2f} s).",
        "",
        *HOW.splitlines(),
        "",
        "Peers: none could run here. osv-scanner, Trivy and Grype ship as Go binaries and this",
        "workplace reaches only PyPI, Debian and npm registries (no Go toolchain or release downloads);",
        "pip-audit queries the online PyPI/OSV services and has no offline database mode. No",
        "published figure for the same workload (3,000 packages vs 200,000 records) was found to cite.",
        "The nearest published figures measure whole image scans, database already cached, on other",
        "hardware, so they are context, not a ratio: Trivy 0.50 scanning a 1.2 GB Node.js 20 image in",
        "4.2 s and Grype 0.70 ~31 % slower on the same image (a 2024 GitLab CI tutorial,",
        "https://dev.to/johalputt/tutorial-how-to-implement-security-scanning-in-gitlab-ci-168-with-trivy-050-and-grype-070-54dh);",
        "hostwarden's whole `vuln` scanner on the 3,000-package root above takes ~1.2 s.",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
