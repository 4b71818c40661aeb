"""Run hostwarden and its peers (fail2ban-regex, grep, CrowdSec) as measured subprocesses.

Why a helper: every benchmark must time each tool the same way — wall clock, peak RSS of the
child (from ``os.wait4``, so no dependency on ``/usr/bin/time``), output to a real file (GNU grep
stops at the first match when its output is /dev/null) — and must report a missing tool as
missing instead of crashing. Notes on running the peers offline: ``../shared/peers/README.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEERS_DIR = REPO.parent / "shared" / "peers"
F2B_FILTERS = Path("/etc/fail2ban/filter.d")


@dataclass
class Measurement:
    """One timed run of one command."""

    wall_s: float
    maxrss_mb: float
    returncode: int


@dataclass
class Result:
    """All runs of one tool on one file, or why it could not run."""

    tool: str
    command: str
    lines: int
    runs: list[Measurement] = field(default_factory=list)
    missing: str | None = None      # why the tool did not run at all
    failed: str | None = None       # why a run failed (non-zero exit)
    startup_s: float = 0.0          # subtracted from wall time (CrowdSec)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.missing and not self.failed and bool(self.runs)

    @property
    def wall_s(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def work_s(self) -> float:
        return max(self.wall_s - self.startup_s, 1e-9)

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.work_s

    @property
    def maxrss_mb(self) -> float:
        return max(r.maxrss_mb for r in self.runs)

    def output(self, work: Path, run: int = 0) -> Path:
        """Where run ``run`` wrote its stdout (``.err`` beside it for stderr)."""
        return work / ("".join(c if c.isalnum() else "_" for c in self.tool) + f".{run}.out")


# The command runs as a grandchild of a small launcher, not as a child of this process: Linux
# keeps a process's peak RSS across fork and exec, so a child forked from a benchmark that holds
# a generated log in memory would report that size as its own peak (grep at 450 MB).
_LAUNCHER = """
import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(sys.argv[1], "w") as out:
    out.write(f"{wall} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def measure(cmd: Sequence[str], stdout: Path, stderr: Path | None = None, timeout_s: float = 3600,
            env: dict[str, str] | None = None) -> Measurement:
    """Run ``cmd`` with its output in real files; its wall time and peak RSS (its own, see _LAUNCHER)."""
    err_path = stderr or stdout.with_suffix(stdout.suffix + ".err")
    figures = stdout.with_suffix(stdout.suffix + ".measure")
    figures.unlink(missing_ok=True)
    with stdout.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(figures), *cmd], stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    try:
        wall, maxrss_kb, code = figures.read_text().split()
    except (OSError, ValueError):  # the launcher was killed: a timeout
        return Measurement(timeout_s, 0.0, -9)
    finally:
        figures.unlink(missing_ok=True)
    return Measurement(float(wall), int(maxrss_kb) / 1024, int(code))


def run_repeated(result: Result, cmd: Sequence[str], work: Path, repeat: int,
                 before_each: Callable[[], None] | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``cmd`` ``repeat`` times (``before_each`` resets state); stop at the first failure."""
    if result.missing:
        return result
    for i in range(repeat):
        if before_each:
            before_each()
        out = result.output(work, i)
        m = measure(cmd, out, env=env)
        if m.returncode != 0:
            tail = (out.with_suffix(".out.err").read_text(errors="replace") or out.read_text(errors="replace"))
            result.failed = f"exit {m.returncode}: {tail.strip().splitlines()[-1][:200] if tail.strip() else ''}"
            return result
        result.runs.append(m)
        print(f"  {result.tool}: {m.wall_s:.2f} s, {m.maxrss_mb:.0f} MB", file=sys.stderr)
    return result


def hostwarden_cmd() -> tuple[list[str] | None, str | None]:
    """The ``hostwarden`` executable beside this Python (the venv), or on PATH; else why not."""
    exe = Path(sys.executable).parent / "hostwarden"
    path = str(exe) if exe.exists() else shutil.which("hostwarden")
    if not path:
        return None, "hostwarden executable not found (run `make install`)"
    probe = subprocess.run([path, "ingest", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        return None, "`hostwarden ingest` is not available yet"
    return [path], None


def fail2ban_cmd(file: Path, filter_name: str) -> tuple[list[str] | None, str | None]:
    exe = shutil.which("fail2ban-regex")
    flt = F2B_FILTERS / f"{filter_name}.conf"
    if not exe:
        return None, "fail2ban-regex not installed (Debian package fail2ban)"
    if not flt.exists():
        return None, f"{flt} missing"
    return [exe, "--print-no-missed", str(file), str(flt)], None


def grep_cmd(file: Path, pattern: str) -> tuple[list[str] | None, str | None]:
    exe = shutil.which("grep")
    return ([exe, "-c", pattern, str(file)], None) if exe else (None, "grep not found")


class CrowdSec:
    """Replays a file through Debian's CrowdSec in a private state folder (system install untouched).

    Follows ``../shared/peers/README.md``: ``setup_state.sh`` prepares the folder and config,
    each run starts from the pristine sqlite DB, and the fixed start-up cost (measured on a
    20-line file) is subtracted when rates are quoted.
    """

    def __init__(self, state: Path) -> None:
        self.state = state
        self.exe = shutil.which("crowdsec")
        self.setup = PEERS_DIR / "crowdsec" / "setup_state.sh"

    def unavailable(self) -> str | None:
        if not self.exe:
            return "crowdsec not installed (see ../shared/peers/README.md for the offline install)"
        if not self.setup.exists():
            return f"{self.setup} not found"
        return None

    def prepare(self) -> None:
        with socket.socket() as s:  # a free loopback port for its in-process local API
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        subprocess.run(["bash", str(self.setup), str(self.state), str(port), "fix"], check=True)

    def reset(self) -> None:
        db = self.state / "crowdsec.db"
        for extra in (db, db.with_suffix(".db-wal"), db.with_suffix(".db-shm")):
            extra.unlink(missing_ok=True)
        shutil.copyfile(self.state / "crowdsec.db.pristine", db)

    def cmd(self, file: Path, log_type: str) -> list[str]:
        return [str(self.exe), "-c", str(self.state / "config.yaml"), "-dsn", f"file://{file.resolve()}",
                "-type", log_type, "-no-capi"]


def machine() -> str:
    """``nproc`` and CPU model, for result headers."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model}, Python {platform.python_version()}"


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """A GitHub Markdown table; the ``numeric`` columns right-aligned."""
    align = ["---:" if i in numeric else "---" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


RESULT_HEADER = ("tool", "command", "wall s (median)", "lines/s", "peak RSS MB", "note")
RESULT_NUMERIC = (2, 3, 4)


def result_rows(results: Sequence[Result]) -> list[list[str]]:
    """One table row per tool: wall, lines/s, peak RSS, or why it did not run."""
    rows = []
    for r in results:
        if r.ok:
            note = r.note + (f"; {r.startup_s:.1f} s start-up subtracted" if r.startup_s else "")
            rows.append([r.tool, f"`{r.command}`", f"{r.wall_s:.2f}", fmt_rate(r.lines_per_s),
                         f"{r.maxrss_mb:.0f}", note.strip("; ")])
        else:
            rows.append([r.tool, f"`{r.command}`", "—", "—", "—", r.missing or r.failed or "no run"])
    return rows


def file_bench_args(ap: argparse.ArgumentParser, results_name: str, repeat: int) -> None:
    """The options every benchmark over the generated auth/access logs takes."""
    ap.add_argument("--kind", choices=("auth", "access", "both"), default="both")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=repeat, help="runs per tool; the median is reported")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=BENCH / "out", help="generated data folder")
    ap.add_argument("--results", type=Path, default=BENCH / "results" / results_name)


def checked_file_bench_args(ap: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = ap.parse_args(argv)
    if args.lines < 1 or args.repeat < 1:
        ap.error("--lines and --repeat must be positive")
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def write_results(path: Path, text: str) -> None:
    """Every benchmark saves its markdown section for run_all.py and echoes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(text)
