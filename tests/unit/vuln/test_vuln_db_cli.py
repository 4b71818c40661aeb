"""Advisory database import (JSON, YAML, folders, all.zip), status freshness, update over HTTP, KEV."""

import functools
import http.server
import json
import threading
import zipfile

import pytest
import yaml
from typer.testing import CliRunner
from vuln_helpers import CRITICAL, now_iso, osv_record, write_records

from hostwarden.commands.vulndb import app
from hostwarden.scan.vuln.db import AdvisoryDB
from hostwarden.scan.vuln.loader import iter_records

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_import_json_yaml_folder_and_zip(tmp_path):
    folder = write_records(tmp_path / "json", [osv_record("PYSEC-1", "PyPI", "a", [{"introduced": "0"}])])
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(osv_record("GHSA-2", "npm", "b", [{"introduced": "0"}])))
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as zf:
        zf.writestr("GO-3.json", json.dumps(osv_record("GO-3", "Go", "c", [{"introduced": "0"}])))
        zf.writestr("DSA-4.json", json.dumps(osv_record("DSA-4", "Debian:12", "d", [{"introduced": "0"}])))
    result = invoke("import", folder, tmp_path / "one.yaml", tmp_path / "all.zip", "--data-dir", tmp_path / "d",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["imported"] == 4 and doc["errors"] == []
    with AdvisoryDB.in_data_dir(tmp_path / "d") as db:
        status = db.status()
    assert status["ecosystems"] == {"PyPI": 1, "npm": 1, "Go": 1, "Debian": 1}


def test_malformed_files_are_reported_and_the_rest_imports(tmp_path):
    folder = write_records(tmp_path / "adv", [osv_record("PYSEC-1", "PyPI", "a", [{"introduced": "0"}])])
    (folder / "broken.json").write_text("{not json")
    (folder / "noid.json").write_text(json.dumps({"affected": []}))
    (folder / "bad.yaml").write_text("a: [unclosed")
    (tmp_path / "bad.zip").write_bytes(b"PK not really a zip")
    result = invoke("import", folder, tmp_path / "bad.zip", "--data-dir", tmp_path / "d", "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["imported"] == 1
    assert sorted(e["code"] for e in doc["errors"]) == ["SCAN-9011"] * 4


def test_missing_path_is_a_clear_error(tmp_path):
    result = invoke("import", tmp_path / "nope", "--data-dir", tmp_path / "d")
    assert result.exit_code == 2
    assert "SCAN-9011" in result.output


def test_older_record_never_overwrites_newer(tmp_path):
    new = osv_record("PYSEC-1", "PyPI", "a", [{"introduced": "0"}, {"fixed": "2.0"}], modified="2024-05-01T00:00:00Z")
    old = osv_record("PYSEC-1", "PyPI", "a", [{"introduced": "0"}, {"fixed": "1.0"}], modified="2023-01-01T00:00:00Z")
    with AdvisoryDB(tmp_path / "x.sqlite") as db:
        db.import_records([new])
        stats = db.import_records([old])
        assert stats.skipped_older == 1
        assert db.advisory("PYSEC-1")["affected"][0]["ranges"][0]["events"][1] == {"fixed": "2.0"}
        rows = list(db.affected_for([("pypi", "a")]))
    assert len(rows) == 1  # replaced, never duplicated


def test_status_fresh_and_stale_with_configurable_age(tmp_path):
    write_records(tmp_path / "adv", [osv_record("PYSEC-1", "PyPI", "a", [{"introduced": "0"}],
                                                modified=now_iso(days_ago=3))])
    assert invoke("import", tmp_path / "adv", "--data-dir", tmp_path / "d").exit_code == 0
    stale = invoke("status", "--data-dir", tmp_path / "d", "--format", "json")
    assert stale.exit_code == 1
    doc = json.loads(stale.output)
    assert doc["freshness"]["stale"] is True and doc["freshness"]["code"] == "SCAN-9010"
    assert 2.9 < doc["freshness"]["age_days"] < 3.1
    fresh = invoke("status", "--data-dir", tmp_path / "d", "--max-age-days", "7", "--format", "json")
    assert fresh.exit_code == 0 and json.loads(fresh.output)["freshness"]["stale"] is False
    table = invoke("status", "--data-dir", tmp_path / "d")
    assert "PyPI" in table.output and "SCAN-9010" in table.output


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the CLI's stdout (captured by CliRunner) clean
        pass


@pytest.fixture
def http_root(tmp_path):
    served = tmp_path / "served"
    (served / "PyPI").mkdir(parents=True)
    with zipfile.ZipFile(served / "PyPI" / "all.zip", "w") as zf:
        for i in range(3):
            rec = osv_record(f"PYSEC-{i}", "PyPI", f"pkg{i}", [{"introduced": "0"}, {"fixed": "1.0"}])
            zf.writestr(f"PYSEC-{i}.json", json.dumps(rec))
    (served / "garbage.zip").write_bytes(b"not a zip")
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_update_downloads_zip_from_local_http_server(tmp_path, http_root):
    result = invoke("update", "--source", http_root, "--ecosystem", "PyPI", "--data-dir", tmp_path / "d",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["imported"] == 3
    direct = invoke("update", "--source", f"{http_root}/PyPI/all.zip", "--data-dir", tmp_path / "e")
    assert direct.exit_code == 0 and "imported 3" in direct.output


def test_update_failures_leave_database_unchanged(tmp_path, http_root):
    missing = invoke("update", "--source", http_root, "--ecosystem", "Nope", "--data-dir", tmp_path / "d")
    assert missing.exit_code == 2 and "SCAN-9012" in missing.output
    garbage = invoke("update", "--source", f"{http_root}/garbage.zip", "--data-dir", tmp_path / "d")
    assert garbage.exit_code == 2 and "SCAN-9011" in garbage.output
    with AdvisoryDB.in_data_dir(tmp_path / "d") as db:
        assert db.status()["advisories"] == 0


def test_import_kev_and_kev_raises_priority(tmp_path):
    kev = {"catalogVersion": "2025.01.01", "vulnerabilities": [
        {"cveID": "CVE-2021-44228", "dateAdded": "2021-12-10", "dueDate": "2021-12-24",
         "knownRansomwareCampaignUse": "Known", "vulnerabilityName": "Log4Shell"}]}
    (tmp_path / "kev.json").write_text(json.dumps(kev))
    result = invoke("import-kev", tmp_path / "kev.json", "--data-dir", tmp_path / "d", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.output)["kev_entries"] == 1
    (tmp_path / "bad.json").write_text("[]")
    assert invoke("import-kev", tmp_path / "bad.json", "--data-dir", tmp_path / "d").exit_code == 2
    with AdvisoryDB.in_data_dir(tmp_path / "d") as db:
        assert db.kev(["CVE-2021-44228", "CVE-0"])["CVE-2021-44228"]["ransomware"] == "Known"


def test_iter_records_reads_list_documents(tmp_path):
    (tmp_path / "many.json").write_text(json.dumps([osv_record("A-1", "PyPI", "a", [{"introduced": "0"}],
                                                               severity=CRITICAL),
                                                    osv_record("A-2", "PyPI", "b", [{"introduced": "0"}])]))
    errors = []
    assert [r["id"] for r in iter_records([tmp_path / "many.json"], errors)] == ["A-1", "A-2"]
    assert errors == []


def test_scan_finds_the_advisory_database_of_the_configured_data_dir(tmp_path):
    """`scan --config` with a data_dir and no --data-dir must use that dir's advisories."""
    from hostwarden.cli import app as main_app

    data = tmp_path / "configured"
    records = [osv_record("PYSEC-CFG-1", "PyPI", "django", [{"introduced": "0"}, {"fixed": "4.2.1"}], severity=CRITICAL)]
    assert invoke("import", write_records(tmp_path / "adv", records), "--data-dir", data).exit_code == 0
    (tmp_path / "hw.toml").write_text(f'data_dir = "{data}"\n', encoding="utf-8")
    root = tmp_path / "root"
    (root / "srv").mkdir(parents=True)
    (root / "srv" / "requirements.txt").write_text("django==4.2.0\n", encoding="utf-8")
    result = runner.invoke(main_app, ["scan", "--root", str(root), "--only", "vuln", "--format", "json",
                                      "--config", str(tmp_path / "hw.toml")])
    assert result.exit_code == 0, result.output
    ids = {f.get("vulnerability.id") for f in json.loads(result.stdout)["findings"]}
    assert "PYSEC-CFG-1" in ids
