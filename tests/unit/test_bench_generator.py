"""The benchmark generator writes the same bytes for the same seed, and its ground truth is true.

Why: detection issues score themselves against ``*.truth.json``; a label that disagrees with the
lines (a "brute forcer" under the threshold, a "benign" IP that would be banned) would make those
scores meaningless. These tests re-derive every label from the log text with plain ``re``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
LINES = 20_000


def _load(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up here
    spec.loader.exec_module(mod)
    return mod


gen = _load("generate")
SYSLOG = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) (?P<day>[ \d]\d) (?P<hms>\d\d:\d\d:\d\d) (?P<host>\S+) "
                    r"(?P<prog>[\w-]+)(?:\[(?P<pid>\d+)\])?: (?P<msg>.+)$")
FAILED = re.compile(r"^Failed password for (?P<inv>invalid user )?(?P<user>\S+) from (?P<ip>[\d.]+) port \d+ ssh2$")
ACCEPTED = re.compile(r"^Accepted (?:password|publickey) for (?P<user>\S+) from (?P<ip>[\d.]+) port \d+ ssh2")
COMBINED = re.compile(r'^(?P<ip>[\d.]+) - (?P<user>\S+) \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
                      r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.1" (?P<status>\d{3}) (?P<bytes>\d+) '
                      r'"(?P<ref>[^"]*)" "(?P<ua>[^"]*)"$')


def _epoch(stamp: str) -> int:
    return int(datetime.strptime(f"2026 {stamp}", "%Y %b %d %H:%M:%S").replace(tzinfo=UTC).timestamp())


def _iso_epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _max_in_window(times: list[int], window: int) -> int:
    """Most events inside any ``window``-second span (fail2ban's findtime)."""
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("gen")
    for kind in ("auth", "access"):
        gen.generate(kind, LINES, d, seed=7)
    return d


@pytest.fixture(scope="module")
def auth(out: Path) -> tuple[list[dict[str, str]], dict]:
    rows = []
    for line in (out / "auth.log").read_text(encoding="utf-8").splitlines():
        m = SYSLOG.match(line)
        assert m, line
        rows.append(m.groupdict() | {"t": _epoch(f"{m['mon']} {m['day'].strip()} {m['hms']}")})
    return rows, json.loads((out / "auth.log.truth.json").read_text())


@pytest.fixture(scope="module")
def failures(auth: tuple[list[dict], dict]) -> dict[str, list[tuple[int, str]]]:
    by_ip: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in auth[0]:
        if r["prog"] == "sshd" and (m := FAILED.match(r["msg"])):
            by_ip[m["ip"]].append((r["t"], m["user"]))
    return by_ip


@pytest.mark.parametrize("kind", ["auth", "access"])
def test_same_seed_same_bytes_other_seed_other_bytes(kind: str, out: Path, tmp_path: Path) -> None:
    again = gen.generate(kind, LINES, tmp_path / "a", seed=7)
    assert again.read_bytes() == (out / f"{kind}.log").read_bytes()
    assert (tmp_path / "a" / f"{kind}.log.truth.json").read_bytes() == (out / f"{kind}.log.truth.json").read_bytes()
    other = gen.generate(kind, LINES, tmp_path / "b", seed=8)
    assert other.read_bytes() != again.read_bytes()


@pytest.mark.parametrize("kind", ["auth", "access"])
def test_exact_line_count_and_time_order(kind: str, out: Path) -> None:
    lines = (out / f"{kind}.log").read_text(encoding="utf-8").splitlines()
    truth = json.loads((out / f"{kind}.log.truth.json").read_text())
    assert len(lines) == LINES == truth["counts"]["lines"]
    assert truth["seed"] == 7 and truth["kind"] == kind


def test_auth_lines_are_syslog_and_time_ordered(auth: tuple[list[dict], dict]) -> None:
    rows, truth = auth
    times = [r["t"] for r in rows]
    assert times == sorted(times)
    assert {r["host"] for r in rows} == {truth["host"]}
    progs = {r["prog"] for r in rows}
    assert {"sshd", "sudo", "su", "CRON", "systemd-logind", "useradd", "crontab"} <= progs
    assert all(r["pid"] for r in rows if r["prog"] in ("sshd", "CRON", "useradd"))
    assert truth["start"] <= datetime.fromtimestamp(times[0], UTC).isoformat().replace("+00:00", "Z")


def test_fast_brute_forcers_exceed_threshold(auth: tuple[list[dict], dict], failures: dict) -> None:
    _, truth = auth
    th = truth["thresholds"]
    fast = truth["classes"]["brute_force_fast"]
    assert len(fast) >= 3
    for bf in fast:
        times = [t for t, _ in failures[bf["ip"]]]
        assert len(times) == bf["failures"] >= 20
        assert _max_in_window(times, th["findtime_s"]) >= th["maxretry"]


def test_slow_brute_forcers_stay_under_threshold(auth: tuple[list[dict], dict], failures: dict) -> None:
    _, truth = auth
    th = truth["thresholds"]
    for bf in truth["classes"]["brute_force_slow"]:
        times = [t for t, _ in failures[bf["ip"]]]
        assert len(times) == bf["failures"] >= 10
        assert _max_in_window(times, th["findtime_s"]) < th["maxretry"]
        assert (max(times) - min(times)) > 3 * 3600  # spread over hours


def test_sprayers_try_many_users(auth: tuple[list[dict], dict], failures: dict) -> None:
    rows, truth = auth
    for sp in truth["classes"]["spray"]:
        users = [u for _, u in failures[sp["ip"]]]
        assert len(users) == sp["failures"]
        assert len(set(users)) == sp["distinct_users"] >= 20
        invalid = sum(1 for r in rows if r["msg"].startswith("Invalid user ") and f" from {sp['ip']} " in r["msg"])
        assert invalid >= len(users) // 2


def test_distributed_campaign_one_user_many_ips_each_under_threshold(auth: tuple[list[dict], dict],
                                                                     failures: dict) -> None:
    _, truth = auth
    th = truth["thresholds"]
    (camp,) = truth["classes"]["distributed_targets"]
    assert len(camp["ips"]) >= 20
    total = 0
    for ip in camp["ips"]:
        tries = failures[ip]
        assert {u for _, u in tries} == {camp["user"]}
        assert 1 <= len(tries) <= camp["max_failures_per_ip"] < th["maxretry"]
        assert _max_in_window([t for t, _ in tries], th["findtime_s"]) < th["maxretry"]
        total += len(tries)
    assert total == camp["failures"]


def test_compromise_success_after_failures_then_persistence(auth: tuple[list[dict], dict], failures: dict) -> None:
    rows, truth = auth
    (c,) = truth["classes"]["compromised_after_bruteforce"]
    fails = [t for t, u in failures[c["ip"]] if u == c["user"]]
    assert len(fails) == c["failures_before"] >= 20
    wins = [r["t"] for r in rows if (m := ACCEPTED.match(r["msg"])) and (m["ip"], m["user"]) == (c["ip"], c["user"])]
    assert wins == [_iso_epoch(c["success_time"])]
    assert wins[0] >= max(fails)
    after = [r for r in rows if r["t"] >= wins[0]]
    assert any(r["prog"] == "sudo" and f"{c['user']} : TTY=" in r["msg"] for r in after)
    assert any(r["prog"] == "useradd" and f"new user: name={c['new_user']}," in r["msg"] for r in after)
    assert any(r["prog"] == "crontab" and "REPLACE" in r["msg"] for r in after)
    assert not any(r["prog"] == "useradd" for r in rows if r["t"] < wins[0])


def test_benign_ips_never_reach_threshold_and_do_log_in(auth: tuple[list[dict], dict], failures: dict) -> None:
    rows, truth = auth
    th, benign = truth["thresholds"], truth["classes"]["benign"]
    accepted = {m["ip"] for r in rows if (m := ACCEPTED.match(r["msg"]))}
    for ip in benign["ips"]:
        times = [t for t, _ in failures.get(ip, [])]
        assert len(times) <= 2
        assert _max_in_window(times, th["findtime_s"]) < th["maxretry"]
    assert benign["typo_then_success"] >= 1
    for ip in benign["typo_ips"]:  # the look-alike: one mistake, then the right password
        assert ip in accepted and failures[ip]
    assert len(accepted & set(benign["ips"])) >= len(benign["ips"]) // 2


def test_classes_are_disjoint_and_scanners_never_guess_passwords(auth: tuple[list[dict], dict],
                                                                 failures: dict) -> None:
    _, truth = auth
    c = truth["classes"]
    groups = {"fast": {x["ip"] for x in c["brute_force_fast"]}, "slow": {x["ip"] for x in c["brute_force_slow"]},
              "spray": {x["ip"] for x in c["spray"]}, "distributed": set(c["distributed_targets"][0]["ips"]),
              "compromise": {x["ip"] for x in c["compromised_after_bruteforce"]}, "scanners": set(c["scanners"]),
              "benign": set(c["benign"]["ips"])}
    seen: set[str] = set()
    for ips in groups.values():
        assert not (ips & seen)
        seen |= ips
    assert not (groups["scanners"] & set(failures))
    assert set(failures) <= seen
    assert sum(len(v) for v in failures.values()) == truth["counts"]["failed_password_lines"]


@pytest.fixture(scope="module")
def access(out: Path) -> tuple[list[dict[str, str]], dict]:
    rows = []
    for line in (out / "access.log").read_text(encoding="utf-8").splitlines():
        m = COMBINED.match(line)
        assert m, line
        rows.append(m.groupdict())
    return rows, json.loads((out / "access.log.truth.json").read_text())


def test_access_attackers_match_truth(access: tuple[list[dict], dict]) -> None:
    rows, truth = access
    by_ip: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_ip[r["ip"]].append(r)
    attacker_ips = set()
    for kind, entries in truth["classes"]["web_attackers"].items():
        assert entries, kind
        signatures = {p for _, p, _ in gen.ATTACKS[kind]}
        for e in entries:
            reqs = by_ip[e["ip"]]
            assert len(reqs) == e["requests"] and all(r["path"] in signatures for r in reqs)
            attacker_ips.add(e["ip"])
    sqli = {e["ip"] for e in truth["classes"]["web_attackers"]["sqli"]}
    assert any("UNION%20SELECT" in r["path"] for ip in sqli for r in by_ip[ip])
    assert any("${jndi:" in r["ua"] or "${jndi:" in r["path"] for e in truth["classes"]["web_attackers"]["log4shell"]
               for r in by_ip[e["ip"]])
    scanners = truth["classes"]["web_attackers"]["scanner_ua"]
    assert all(re.search(r"sqlmap|Nikto|Nuclei|zgrab|masscan", by_ip[e["ip"]][0]["ua"]) for e in scanners)
    assert not attacker_ips & set(truth["classes"]["benign"]["ips"])


def test_webshell_upload_then_command(access: tuple[list[dict], dict]) -> None:
    rows, truth = access
    (ws,) = truth["classes"]["webshell"]
    mine = [r for r in rows if r["ip"] == ws["ip"]]
    upload = next(i for i, r in enumerate(mine) if r["method"] == "POST" and r["path"] == ws["upload"])
    cmd = next(i for i, r in enumerate(mine) if r["path"].startswith(ws["upload"] + "?cmd=id"))
    assert upload < cmd and mine[cmd]["status"] == "200" and mine[upload]["status"] in ("200", "201")


def test_benign_traffic_has_lookalikes_but_no_attacks(access: tuple[list[dict], dict]) -> None:
    rows, truth = access
    benign = set(truth["classes"]["benign"]["ips"])
    attack_paths = {p for sigs in gen.ATTACKS.values() for _, p, _ in sigs} - {"/", "/robots.txt"}
    mine = [r for r in rows if r["ip"] in benign]
    assert len(mine) >= LINES * 0.75
    assert not any(r["path"] in attack_paths or "jndi" in r["ua"] for r in mine)
    looks = sum(1 for r in mine if r["path"] in gen.LOOKALIKES)
    assert looks == truth["classes"]["benign"]["lookalike_requests"] > 0
    assert any(r["path"] == "/search?q=select+chair" for r in mine)


def test_cli_writes_requested_kind_and_rejects_bad_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--lines", "3000", "--out", str(tmp_path), "--kind", "auth", "--seed", "3"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auth.log", "auth.log.truth.json"]
    assert len((tmp_path / "auth.log").read_text().splitlines()) == 3000
    with pytest.raises(SystemExit) as exc:
        gen.main(["--lines", "0", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "--lines must be positive" in capsys.readouterr().err


def test_peer_helper_measures_a_real_child(tmp_path: Path) -> None:
    peers = _load("peers")
    m = peers.measure([sys.executable, "-c", "b = bytearray(64 << 20); print(len(b))"], tmp_path / "o.txt")
    assert m.returncode == 0 and (tmp_path / "o.txt").read_text().strip() == str(64 << 20)
    assert m.maxrss_mb >= 64 and m.wall_s > 0
    res = peers.Result("false", "false", 10)
    peers.run_repeated(res, ["false"], tmp_path, 2)
    assert not res.ok and res.failed.startswith("exit 1")
    table = peers.markdown_table(peers.RESULT_HEADER, peers.result_rows([res]), peers.RESULT_NUMERIC)
    assert table.splitlines()[1] == "| --- | --- | ---: | ---: | ---: | --- |" and "exit 1" in table


def _by_ip(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r["ip"]].append(r | {"t": _epoch_access(r["time"])})
    return out


def _epoch_access(stamp: str) -> int:
    return int(datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").timestamp())


def test_login_attackers_match_truth(access: tuple[list[dict], dict]) -> None:
    rows, truth = access
    by_ip, login = _by_ip(rows), truth["classes"]["login_attackers"]
    for wp in login["wordpress_bruteforce"]:
        fails = [r["t"] for r in by_ip[wp["ip"]] if (r["method"], r["path"], r["status"]) == ("POST", "/blog/wp-login.php", "200")]
        assert len(fails) == wp["attempts"] and _max_in_window(fails, 600) >= 5
        wins = [r for r in by_ip[wp["ip"]] if r["method"] == "POST" and r["status"] == "302"]
        assert len(wins) == ("success_time" in wp)
    assert sum("success_time" in wp for wp in login["wordpress_bruteforce"]) == 1
    for x in login["xmlrpc_bruteforce"]:
        calls = [r for r in by_ip[x["ip"]] if (r["method"], r["path"], r["status"]) == ("POST", "/blog/xmlrpc.php", "200")]
        assert len(calls) == x["attempts"] + 1 == len(by_ip[x["ip"]]) and all(int(r["bytes"]) < 10000 for r in calls)
    for x in login["xmlrpc_multicall"]:
        big = [r["t"] for r in by_ip[x["ip"]] if r["path"] == "/blog/xmlrpc.php" and int(r["bytes"]) >= 10000]
        assert len(big) == x["requests"] == len(by_ip[x["ip"]]) and _max_in_window(big, 600) >= 3
    for x in login["credential_stuffing"]:
        posts = [r for r in by_ip[x["ip"]] if r["method"] == "POST"]
        assert len(posts) == x["attempts"]
        success = "200" if x["via"] == "api" else "302"
        assert sum(r["status"] == success for r in posts) == x["hits"]
    (campaign,) = login["distributed_basic_auth"]
    assert len(campaign["ips"]) >= 10
    for ip in campaign["ips"]:
        assert {(r["user"], r["status"], r["path"]) for r in by_ip[ip]} == {(campaign["user"], "401", "/stats/")}
        assert len(by_ip[ip]) <= 3
    firsts = sorted(by_ip[ip][0]["t"] for ip in campaign["ips"])
    assert _max_in_window(firsts, 600) >= 5


def test_benign_logins_stay_under_every_login_threshold(access: tuple[list[dict], dict]) -> None:
    rows, truth = access
    by_ip, benign = _by_ip(rows), truth["classes"]["benign"]
    assert benign["login_typos"] > 0
    refused_login = ("/account/login", "/api/v1/auth/login")
    for ip in benign["ips"]:
        mine = by_ip.get(ip, [])
        wp_fails = [r["t"] for r in mine if (r["method"], r["path"], r["status"]) == ("POST", "/blog/wp-login.php", "200")]
        assert _max_in_window(wp_fails, 600) < 5
        refused = [r["t"] for r in mine if (r["method"] == "POST" and r["path"] in refused_login and r["status"] != "302")
                   or (r["status"] == "401" and r["user"] != "-")]
        assert _max_in_window(refused, 600) < 10
        xmlrpc = [r["t"] for r in mine if r["method"] == "POST" and r["path"] == "/blog/xmlrpc.php"]
        assert _max_in_window(xmlrpc, 300) < 6
        assert all(r["user"] in ("-", "ops") for r in mine)
    jetpack = [r for r in rows if r["path"].startswith("/blog/xmlrpc.php?")]
    assert jetpack and all("for=jetpack" in r["path"] for r in jetpack) and {r["ip"] for r in jetpack} <= set(benign["ips"])
