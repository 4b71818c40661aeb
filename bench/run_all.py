"""Run every ``bench/bench_*.py`` with its default arguments, then assemble ``bench/RESULTS.md``.

Why: the project keeps its latest figures in one file (DESIGN.md, "Habits"); each benchmark
writes its own ``bench/results/<name>.md`` so they can run alone, and this gathers them under
one header saying when and on what machine they were measured.

    python bench/run_all.py [--only ingest] [--no-run]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

RESULTS_DIR = peers.BENCH / "results"


def run_benchmarks(only: list[str]) -> list[tuple[str, int, float]]:
    """Each benchmark as its own subprocess (a crash in one does not stop the others)."""
    done = []
    for script in sorted(peers.BENCH.glob("bench_*.py")):
        name = script.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        print(f"== {script.name}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script)], cwd=peers.REPO).returncode
        done.append((script.name, rc, time.perf_counter() - t0))
    return done


def assemble(runs: list[tuple[str, int, float]], dest: Path) -> str:
    """``bench/RESULTS.md``: header (date, machine), then every ``bench/results/*.md``."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = ["# hostwarden benchmark results", "",
             f"Assembled {now} by `bench/run_all.py` on {peers.machine()}. Each section comes from "
             "`bench/results/<name>.md`, written by `bench/bench_<name>.py`; peers run on the same "
             "files in the same run, so compare the ratios rather than the absolute figures "
             "(the machine may be shared).", ""]
    failed = [f"`{name}` (exit {rc})" for name, rc, _ in runs if rc != 0]
    if failed:
        parts += [f"**Failed in this run:** {', '.join(failed)}; their sections below may be stale.", ""]
    sections = sorted(RESULTS_DIR.glob("*.md"))
    if not sections:
        parts.append("_No results yet: run the benchmarks._")
    for md in sections:
        parts += [md.read_text(encoding="utf-8").strip(), ""]
    text = "\n".join(parts)
    dest.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", default=[], help="run only bench_<NAME>.py (repeatable)")
    ap.add_argument("--no-run", action="store_true", help="only reassemble RESULTS.md from bench/results/")
    args = ap.parse_args(argv)
    runs = [] if args.no_run else run_benchmarks(args.only)
    for name, rc, secs in runs:
        print(f"{name}: exit {rc} in {secs:.0f} s", file=sys.stderr)
    assemble(runs, peers.BENCH / "RESULTS.md")
    print(f"wrote {peers.BENCH / 'RESULTS.md'}", file=sys.stderr)
    return 1 if any(rc for _, rc, _ in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
