"""The CLI as a user runs it: real subprocesses, real files, one store."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-host"


def hw(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "hostwarden.cli", *args], capture_output=True, text=True,
                          input=stdin, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_scan_json_is_one_document_with_host_and_ecs_findings(tmp_path):
    out = hw("scan", "--root", str(DEMO), "--format", "json", "--data-dir", str(tmp_path))
    doc = json.loads(out.stdout)  # exactly one JSON document on stdout
    assert doc["host"]["name"] == "demo-web01" and doc["host"]["os.id"] == "debian"
    assert isinstance(doc["findings"], list)
    alerts = {(f["message"].split(" (")[0], f.get("source.ip")): f for f in doc["findings"] if f["event.module"] == "detect"}
    # The demo's story: a spray from .77, a brute force from .66 that then logs in as root (L1).
    assert alerts[("SSH login success after brute force", "192.0.2.66")]["hostwarden.grade"] == "L1"
    assert ("SSH password spray or user enumeration", "203.0.113.77") in alerts
    assert not any(ip in ("198.51.100.20", "198.51.100.31") for _, ip in alerts)  # benign users
    assert doc["findings"][0]["hostwarden.grade"] == "L1"  # most urgent first
    for f in doc["findings"]:
        assert f["event.kind"] in ("finding", "alert") and f["hostwarden.grade"] in ("L1", "L2", "L3")
    logs = doc["summary"]["sections"]["logs"]
    # 56 audit records → 8 events (SYSCALL, EXECVE, CWD, 2 PATH, PROCTITLE, EOE make one exec event)
    assert logs["files"] == 4 and logs["lines"] == 120 and logs["events"] == 72


def test_scan_sarif_and_html_reports(tmp_path):
    sarif = tmp_path / "r.sarif"
    hw("scan", "--root", str(DEMO), "--format", "sarif", "--output", str(sarif), "--data-dir", str(tmp_path / "d1"))
    doc = json.loads(sarif.read_text())
    assert doc["version"] == "2.1.0" and doc["runs"][0]["tool"]["driver"]["name"] == "hostwarden"
    assert all(r["level"] in ("error", "warning", "note") for r in doc["runs"][0]["results"])
    html = hw("scan", "--root", str(DEMO), "--format", "html", "--data-dir", str(tmp_path / "d2")).stdout
    assert html.startswith("<!doctype html>") and "demo-web01" in html and "<script" not in html


def test_scan_fail_on_sets_the_exit_code(tmp_path):
    proc = hw("scan", "--root", str(DEMO), "--only", "logs,detect", "--fail-on", "L1", "--format", "json",
              "--data-dir", str(tmp_path), check=False)
    assert proc.returncode == 1  # 1: the gate; 3 would mean the scan itself was incomplete
    proc = hw("scan", "--root", str(DEMO), "--only", "logs", "--fail-on", "L3", "--format", "json",
              "--data-dir", str(tmp_path / "b"), check=False)
    assert proc.returncode == 0  # the log scanner alone reports no finding


def test_scan_of_a_missing_root_is_a_clear_error(tmp_path):
    proc = hw("scan", "--root", str(tmp_path / "nope"), check=False)
    assert proc.returncode == 2 and "SCAN-9001" in proc.stderr and "Traceback" not in proc.stderr


def test_ingest_search_status_round_trip(tmp_path):
    data = str(tmp_path / "data")
    first = json.loads(hw("ingest", str(DEMO / "var" / "log"), "--data-dir", data, "--format", "json").stdout)
    assert first["lines"] == 120 and first["events"] == first["stored"] == 72
    assert first["alerts"] >= 10  # detection ran over what was ingested
    again = json.loads(hw("ingest", str(DEMO / "var" / "log"), "--data-dir", data, "--format", "json").stdout)
    assert again["stored"] == 0
    piped = hw("ingest", "-", "--data-dir", data, "--format", "json", "--no-detect",
               stdin="Nov 28 10:00:00 h sshd[1]: Invalid user z from 198.51.100.99\n")
    assert json.loads(piped.stdout)["stored"] == 1
    rows = json.loads(hw("search", "source.ip=203.0.113.0/24 AND event.dataset=sshd", "--data-dir", data,
                         "--format", "json", "--fields", "source.ip,user.name").stdout)
    assert {r["source.ip"] for r in rows} == {"203.0.113.77", "203.0.113.150"}
    count = json.loads(hw("search", "process.name=mariadbd", "--data-dir", data, "--count", "--format", "json").stdout)
    assert count == [{"count": 1}]
    top = json.loads(hw("search", "event.outcome=failure", "--data-dir", data, "--top", "source.ip", "--format", "json").stdout)
    assert top[0]["source.ip"] == "203.0.113.77"
    csv_out = hw("search", "user.name=deploy", "--data-dir", data, "--format", "csv", "--fields", "user.name").stdout
    assert csv_out.splitlines()[0] == "user.name" and "deploy" in csv_out
    status = hw("status", "--data-dir", data, "--format", "json", check=False)
    report = json.loads(status.stdout)
    incidents = json.loads(hw("search", "event.kind=incident", "--data-dir", data, "--count", "--format", "json").stdout)
    assert 0 < incidents[0]["count"] < first["alerts"]  # alerts joined into fewer incidents
    # 72 + 1 piped line, the stored alerts, and the incidents they joined
    assert report["facts"]["events"] == 73 + first["alerts"] + incidents[0]["count"]
    assert (status.returncode == 0) == report["healthy"]


def test_bad_search_and_bad_config_are_clear_errors(tmp_path):
    proc = hw("search", "user.name=(", "--data-dir", str(tmp_path), check=False)
    assert proc.returncode == 2 and "LOG-400" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[ingest]\nchunk_mb = 'lots'\n")
    proc = hw("status", "--config", str(bad), check=False)
    assert proc.returncode == 2 and "CSA-5002" in proc.stderr


def test_status_is_unhealthy_when_most_lines_are_not_understood(tmp_path):
    junk = tmp_path / "junk.log"
    junk.write_text("\n".join(f"%%% garbage {i} %%%" for i in range(50)) + "\n")
    data = str(tmp_path / "data")
    hw("ingest", str(junk), "--data-dir", data)
    proc = hw("status", "--data-dir", data, "--format", "json", check=False)
    assert proc.returncode == 1
    parsing = [c for c in json.loads(proc.stdout)["components"] if c["name"] == "parsing"][0]
    assert parsing["healthy"] is False
