"""How long one block_ip takes: the kernel update alone and the whole `Responder.handle` path.

Not a test and not part of run_all (the end-to-end log-line-to-nft-set benchmark belongs to
`watch --respond`). Runs itself inside a network namespace it creates (root needed), so the
host's firewall is never touched and no `ip netns exec` wrapper is timed:

    python bench/respond_apply.py [--runs 200] [--backend nft|ipset]

Reports p50/p99/max in milliseconds for: `apply` (the one `nft -f -` transaction, or `ipset
add`, as the responder's worker runs it), `in kernel` (from `handle(alert)` until that apply has
returned: match the playbook, plan, allowlist check, state entry, worker pool, apply) and
`handle` (all of it, including the fsynced state update and audit record after the apply).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def inner(runs: int, backend: str) -> None:
    from hostwarden.respond.engine import Responder
    from hostwarden.respond.playbook import parse_playbook
    from hostwarden.respond.settings import respond_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = respond_settings({"builtin_playbooks": False, "firewall": {"backend": backend},
                                     "rate": {"blocks_per_minute": 100000, "actions_per_minute": 100000}},
                                    Path(tmp) / "data")
        book = parse_playbook({"id": "b", "trigger": {"grades": ["L2"]},
                               "actions": [{"block_ip": {"ttl": "1h"}}]}, "<bench>", settings)
        r = Responder(settings, [book], host_addresses=[])
        action = r.actions["block_ip"]
        applied_at: list[float] = []
        real_apply = action.apply

        def timed_apply(plan, ctx):  # type: ignore[no-untyped-def]
            undo = real_apply(plan, ctx)
            applied_at.append(time.perf_counter())
            return undo

        action.apply = timed_apply  # type: ignore[method-assign]
        r.handle({"hostwarden.grade": "L2", "source.ip": "198.18.255.255"}, wait=True)  # warm-up
        apply_ms, kernel_ms, handle_ms = [], [], []
        for i in range(runs):
            ip = f"198.18.{i // 250}.{i % 250 + 1}"
            t0 = time.perf_counter()
            (out,) = r.handle({"hostwarden.grade": "L2", "source.ip": ip}, wait=True)
            handle_ms.append((time.perf_counter() - t0) * 1000)
            kernel_ms.append((applied_at[-1] - t0) * 1000)
            assert out.status == "applied", out
            apply_ms.append((out.seconds or 0) * 1000)
        r.close()
    for name, values in (("apply (nft/ipset call)", apply_ms), ("in kernel (from handle)", kernel_ms),
                         ("handle (whole path)", handle_ms)):
        print(f"{backend:5s} {name:24s} p50 {statistics.median(values):6.2f} ms  p99 {_pct(values, 0.99):6.2f} ms  "
              f"max {max(values):6.2f} ms  ({len(values)} runs)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--backend", choices=["nft", "ipset"], action="append")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    backends = args.backend or ["nft", "ipset"]
    if args.inner:
        for b in backends:
            inner(args.runs, b)
        return
    if os.geteuid() != 0:
        sys.exit("needs root (it creates a network namespace)")
    ns = f"hwbench{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        cmd = ["ip", "netns", "exec", ns, sys.executable, __file__, "--inner", "--runs", str(args.runs)]
        for b in backends:
            cmd += ["--backend", b]
        subprocess.run(cmd, check=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
