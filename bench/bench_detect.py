"""Bulk detection (parse + detect + store) side by side with fail2ban-regex and CrowdSec, and accuracy.

Why: issue 3's benchmark asks that `hostwarden ingest` with detection — the built-in pack plus
every SigmaHQ Linux and web rule — runs over a 1M-line auth.log at ≥ 20× the lines/s of
`fail2ban-regex` (stock sshd filter), over a 1M-line access.log at ≥ 10× `fail2ban-regex`
(nginx-botsearch), and at ≥ 50× CrowdSec's replay, on the same files in one run; and that on
the generator's labelled logs brute-force, spray and web-attack source IPs are found with
precision and recall ≥ 0.99, the login after a brute force being an L1 alert.

    python bench/bench_detect.py [--lines N] [--crowdsec-access-lines N] [--repeat 1] [--no-crowdsec]

Besides the end-to-end run, the detection step alone is timed again over the store that run
left (`matching_rows` + `run_engine`, nothing appended), with its peak RSS, so parse+store and
detection can be told apart. For quick iterations on detection alone over an existing store:

    python bench/bench_detect.py --inspect DATA_DIR CONFIG   # prints the figures as JSON
Writes ``bench/results/detect.md`` (``run_all.py`` gathers it into ``bench/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_ingest  # noqa: E402
import peers  # noqa: E402
import weblogin  # noqa: E402
from peers import Result  # noqa: E402

SIGMA = peers.REPO.parent / "shared" / "corpora" / "sigma" / "rules"
SIGMA_FOLDERS = (SIGMA / "linux", SIGMA / "web")
TARGETS = {"auth": 20.0, "access": 10.0, "crowdsec": 50.0, "accuracy": 0.99}
SSH_CLASSES = {"brute force": ("SSH brute force (fast)", "SSH brute force (slow)"),
               "spray": ("SSH password spray or user enumeration",)}
L1_RULE = "SSH login success after brute force"


def write_config(work: Path) -> Path:
    """A config whose `[detect]` section adds the SigmaHQ Linux and web folders to the pack."""
    cfg = work / "hostwarden.toml"
    folders = ", ".join(json.dumps(str(p)) for p in SIGMA_FOLDERS if p.is_dir())
    cfg.write_text(f"[detect]\nrules = [{folders}]\n", encoding="utf-8")
    return cfg


# ---------------------------------------------------------------------------------------------
# In-process helpers, run as a subprocess of this script (`--inspect STORE CONFIG`) so the timed
# detection gets a fresh interpreter and the DuckDB file is free again afterwards.
def inspect(data_dir: Path, config: Path) -> dict[str, Any]:
    from hostwarden.core.config import load_config
    from hostwarden.detect.batch import matching_rows, run_engine
    from hostwarden.detect.ruleset import load_rules
    from hostwarden.detect.settings import DetectSettings
    from hostwarden.store.eventstore import EventStore

    cfg = load_config(config, data_dir=data_dir)
    t0 = time.perf_counter()
    ruleset = DetectSettings.from_section(cfg.extra.get("detect")).load()
    load_s = time.perf_counter() - t0
    with EventStore(data_dir) as store:
        stored = store.query('SELECT "rule.name", "source.ip", "user.name", "event.severity", "rule.id" FROM events '
                             "WHERE \"event.kind\" = 'alert'")
        builtin = {r.id for r in load_rules().rules}
        before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        rows = matching_rows(store, ruleset)
        t1 = time.perf_counter()
        run_engine(ruleset, rows)
        t2 = time.perf_counter()
    return {"rules": len(ruleset.rules), "rule_errors": len(ruleset.errors), "load_s": load_s,
            "scan_s": t1 - t0, "engine_s": t2 - t1, "matches": len(rows), "rss_before_mb": before_mb,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "alerts": [[*a[:4], a[4] in builtin] for a in stored]}


# ---------------------------------------------------------------------------------------------
def bench_hostwarden(kind: str, file: Path, lines: int, work: Path, repeat: int, config: Path) -> tuple[
        Result, dict[str, Any]]:
    cmd, why = peers.hostwarden_cmd()
    data_dir = work / f"hw-{kind}"
    full = [*cmd, "ingest", "--config", str(config), "--data-dir", str(data_dir), "--format", "json", str(file)] \
        if cmd else None
    res = Result("hostwarden ingest (with detection)", bench_ingest.show(full, "hostwarden ingest"), lines, missing=why)
    if full:
        peers.run_repeated(res, full, work, repeat, before_each=lambda: shutil.rmtree(data_dir, ignore_errors=True))
    info: dict[str, Any] = {}
    if res.ok:
        try:
            report = json.loads(res.output(work).read_text())
            res.note = f"stored {report['stored']:,}, {report['alerts']:,} alerts"
        except (OSError, ValueError, KeyError, TypeError):
            res.note = "ingest report unreadable"
        proc = subprocess.run([sys.executable, __file__, "--inspect", str(data_dir), str(config)],
                              capture_output=True, text=True)
        if proc.returncode == 0:
            info = json.loads(proc.stdout)
        else:
            res.note += f"; inspection failed: {proc.stderr.strip().splitlines()[-1:]}"
    shutil.rmtree(data_dir, ignore_errors=True)
    return res, info


def _score(flagged: set[str], attackers: set[str], innocent: set[str]) -> tuple[float, float, int]:
    hit, wrong = flagged & attackers, flagged & innocent
    precision = len(hit) / max(len(hit) + len(wrong), 1)
    return precision, len(hit) / max(len(attackers), 1), len(wrong)


def accuracy(kind: str, truth: dict[str, Any], alerts: list[list[Any]]) -> list[tuple[str, float, float, int, int]]:
    """(class, precision, recall, attackers, false positives) of attacker IPs against the truth.

    SSH classes count IPs named by that class's rules; benign IPs are the innocents (an IP of
    another attack class flagged by a class's rule is not a false positive). Web attackers are
    IPs of any non-SSH alert, as in tests/unit/detect/test_generated_accuracy.py; each login
    attack class (weblogin.CLASS_RULES) is then scored on its own rules, and the campaign against
    one account by the account its alert names.
    """
    classes = truth["classes"]
    innocent = set(classes["benign"]["ips"])
    out = []
    if kind == "auth":
        wanted = {"brute force": {x["ip"] for n in ("brute_force_fast", "brute_force_slow",
                                                     "compromised_after_bruteforce") for x in classes[n]},
                  "spray": {x["ip"] for x in classes["spray"]}}
        for name, attackers in wanted.items():
            flagged = {ip for rule, ip, *_ in alerts if rule in SSH_CLASSES[name] and ip}
            p, r, fp = _score(flagged, attackers, innocent)
            out.append((name, p, r, len(attackers), fp))
    else:
        login = classes.get("login_attackers", {})
        attackers = {x["ip"] for v in classes["web_attackers"].values() for x in v} | {
            x["ip"] for x in classes["webshell"]} | {x["ip"] for name in weblogin.CLASS_RULES for x in login.get(name, ())}
        for name, only_builtin in (("web attack (built-in pack)", True), ("web attack (pack + SigmaHQ)", False)):
            flagged = {ip for rule, ip, _, _, own in alerts if ip and "SSH" not in rule and (own or not only_builtin)}
            p, r, fp = _score(flagged, attackers, innocent)
            out.append((name, p, r, len(attackers), fp))
        for name, rules in weblogin.CLASS_RULES.items():
            if name in login:
                flagged = {ip for rule, ip, *_ in alerts if rule in rules and ip}
                p, r, fp = _score(flagged, {x["ip"] for x in login[name]}, innocent)
                out.append((name.replace("_", " "), p, r, len(login[name]), fp))
        for campaign in login.get("distributed_basic_auth", ()):
            named = {user for rule, _, user, *_ in alerts if rule == weblogin.ACCOUNT_RULE}
            hit = campaign["user"] in named
            out.append((f"one account from many addresses ({campaign['user']})", 1.0 if named <= {campaign["user"]} else 0.0,
                        1.0 if hit else 0.0, 1, len(named - {campaign["user"]})))
    return out


def blame(truth: dict[str, Any], alerts: list[list[Any]]) -> list[str]:
    """Which rules flagged benign IPs (the false positives behind a low precision)."""
    innocent = set(truth["classes"]["benign"]["ips"])
    by_rule: dict[tuple[str, bool], set[str]] = {}
    for rule, ip, _, _, own in alerts:
        if ip in innocent:
            by_rule.setdefault((rule, own), set()).add(ip)
    return [f"benign IPs flagged by {'built-in' if own else 'SigmaHQ'} rule “{rule}”: {len(ips)}"
            for (rule, own), ips in sorted(by_rule.items(), key=lambda kv: -len(kv[1]))]


def l1_check(truth: dict[str, Any], alerts: list[list[Any]]) -> str:
    comp = truth["classes"]["compromised_after_bruteforce"][0]
    l1 = [(rule, ip, user) for rule, ip, user, sev, _ in alerts if sev == 1]
    ok = (L1_RULE, comp["ip"], comp["user"]) in l1
    return (f"login after brute force ({comp['user']} from {comp['ip']}) is an L1 alert: **{'yes' if ok else 'NO'}**"
            f" ({len(l1)} L1 alert(s) in all)")


def bench_kind(kind: str, args: argparse.Namespace, work: Path, config: Path) -> tuple[str, list[str]]:
    file = bench_ingest.ensure_data(kind, args.lines, args.seed, args.out)
    truth = json.loads(file.with_name(file.name + ".truth.json").read_text())
    print(f"{kind}.log: {args.lines:,} lines, {args.repeat} run(s) per tool", file=sys.stderr)
    hw, info = bench_hostwarden(kind, file, args.lines, work, args.repeat, config)
    f2b = bench_ingest.bench_fail2ban(kind, file, args.lines, work, args.repeat)
    results = [hw, f2b]
    cs = None
    if not args.no_crowdsec:
        cap = min(args.lines, args.crowdsec_auth_lines if kind == "auth" else args.crowdsec_access_lines)
        cs = bench_ingest.bench_crowdsec(kind, file, args.lines, work, args.repeat, cap)
        results.append(cs)
    title = f"### {args.lines:,}-line {'auth.log' if kind == 'auth' else 'nginx access.log'}"
    table = peers.markdown_table(peers.RESULT_HEADER, peers.result_rows(results), peers.RESULT_NUMERIC)
    lines = [title, "", table, ""]
    verdicts: list[str] = []
    if hw.ok and f2b.ok:
        r = hw.lines_per_s / f2b.lines_per_s
        met = r >= TARGETS[kind]
        lines.append(f"- hostwarden / fail2ban-regex: **{r:.2f}×** (target ≥ {TARGETS[kind]:.0f}×: "
                     f"{'met' if met else 'NOT met'})")
        verdicts.append(f"{kind} vs fail2ban-regex {r:.2f}× ({'met' if met else 'NOT met'})")
    if hw.ok and cs is not None and cs.ok:
        r = hw.lines_per_s / cs.lines_per_s
        met = r >= TARGETS["crowdsec"]
        lines.append(f"- hostwarden / CrowdSec: **{r:.1f}×** (target ≥ {TARGETS['crowdsec']:.0f}×: "
                     f"{'met' if met else 'NOT met'})")
        verdicts.append(f"{kind} vs CrowdSec {r:.1f}× ({'met' if met else 'NOT met'})")
    if info:
        total = info["scan_s"] + info["engine_s"]
        lines.append(f"- rules loaded: {info['rules']} ({info['rule_errors']} refused); loading took "
                     f"{info['load_s']:.1f} s")
        lines.append(f"- detection alone over the stored {args.lines:,} events (re-run on the store the timed "
                     f"run left): **{total:.1f} s** ({args.lines / max(total, 1e-9):,.0f} lines/s) — rule scan in DuckDB "
                     f"{info['scan_s']:.1f} s, correlation and alerts {info['engine_s']:.1f} s "
                     f"({info['matches']:,} rule matches; peak RSS of that process {info['rss_mb']:.0f} MB, "
                     f"{info['rss_before_mb']:.0f} MB of it before detection); parse + store is the rest "
                     f"(≈ {max(hw.wall_s - total, 0):.1f} s of {hw.wall_s:.1f} s)" if hw.ok else "")
        lines.append("")
        rows = []
        for name, p, r, n, fp in accuracy(kind, truth, info["alerts"]):
            met = p >= TARGETS["accuracy"] and r >= TARGETS["accuracy"]
            rows.append([name, str(n), f"{p:.4f}", f"{r:.4f}", str(fp), "met" if met else "NOT met"])
            verdicts.append(f"{name} P={p:.4f} R={r:.4f}")
        lines += ["Attacker IPs found (against `" + file.name + ".truth.json`):", "",
                  peers.markdown_table(("class", "attacker IPs", "precision", "recall", "benign IPs flagged",
                                        "target ≥ 0.99"), rows, (1, 2, 3, 4)), ""]
        if kind == "auth":
            lines.append("- " + l1_check(truth, info["alerts"]))
        lines += [f"- {line}" for line in blame(truth, info["alerts"])]
    lines.append(f"- peak RSS of hostwarden: {hw.maxrss_mb:.0f} MB" if hw.ok else "")
    return "\n".join(line for line in lines if line is not None) + "\n", verdicts


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--inspect":
        print(json.dumps(inspect(Path(sys.argv[2]), Path(sys.argv[3])), default=str))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    peers.file_bench_args(ap, "detect.md", repeat=1)
    ap.add_argument("--no-crowdsec", action="store_true", help="skip the (slow) CrowdSec replays")
    ap.add_argument("--crowdsec-auth-lines", type=int, default=1_000_000,
                    help="replay only the first N auth.log lines through CrowdSec")
    ap.add_argument("--crowdsec-access-lines", type=int, default=200_000,
                    help="replay only the first N access.log lines through CrowdSec (it manages ~500 lines/s)")
    args = peers.checked_file_bench_args(ap, argv)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = ["## Bulk detection (bench/bench_detect.py)", "",
             f"Measured {now} on {peers.machine()}; generator seed {args.seed}; median of {args.repeat} run(s) "
             "per tool. hostwarden runs `ingest` (parse + detect + store) with the built-in pack plus every "
             "SigmaHQ Linux and web rule (`[detect] rules` in its config); fail2ban-regex and CrowdSec read the "
             "same files; CrowdSec's start-up (a 20-line file) is subtracted.", ""]
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-detect-", dir=args.out) as tmp:
        config = write_config(Path(tmp))
        for kind in ("auth", "access") if args.kind == "both" else (args.kind,):
            text, verdicts = bench_kind(kind, args, Path(tmp), config)
            parts.append(text)
            summary += verdicts
    parts += ["Summary: " + "; ".join(summary) + ".", ""]
    text = "\n".join(parts)
    peers.write_results(args.results, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
