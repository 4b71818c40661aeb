"""The real CISA KEV catalog imports and marks known-exploited advisories L1."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hostwarden.commands.vulndb import app
from hostwarden.scan.vuln.db import AdvisoryDB
from hostwarden.scan.vuln.inventory.model import Package
from hostwarden.scan.vuln.match import match_packages

KEV = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "kev" / "known_exploited_vulnerabilities.json"

pytestmark = pytest.mark.skipif(not KEV.is_file(), reason="../shared/corpora not present")


def test_kev_catalog_imports_and_raises_priority(tmp_path):
    catalog = json.loads(KEV.read_text(encoding="utf-8"))
    result = CliRunner().invoke(app, ["import-kev", str(KEV), "--data-dir", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["kev_entries"] == len(catalog["vulnerabilities"])
    cve = catalog["vulnerabilities"][0]["cveID"]
    record = {"id": "GHSA-test", "modified": "2025-01-01T00:00:00Z", "aliases": [cve],
              "affected": [{"package": {"ecosystem": "npm", "name": "p"},
                            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}]}]}
    with AdvisoryDB.in_data_dir(tmp_path) as db:
        db.import_records([record])
        matches = match_packages(db, [Package("p", "1.0.0", "npm")]).matches
    assert len(matches) == 1
    assert matches[0].kev["cve"] == cve and matches[0].priority.grade == "L1"
