"""The demo's advisory snapshot states only real facts: each PyPI record matches the PyPA database
field by field, no upstream prose was copied, and the KEV file marks exactly the snapshot's CVEs
that the real CISA catalog lists, with the catalog's dates.

Reads ../shared/corpora (pypa-advisories, kev); skips where it is absent.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / "examples" / "advisories"
KEV_FILE = REPO / "examples" / "kev" / "known_exploited_vulnerabilities.json"
PYPI_RECORDS = sorted((SNAPSHOT / "pypi").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _instant(value: Any) -> dt.datetime:
    """PyPA YAML dates come as datetimes or strings in two styles; compare them as instants."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _upstream(corpora: Path, record: dict[str, Any]) -> dict[str, Any]:
    name = record["affected"][0]["package"]["name"]
    path = corpora / "pypa-advisories" / "vulns" / name / f"{record['id']}.yaml"
    assert path.is_file(), f"{record['id']}: no such record in the PyPA snapshot ({path})"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_snapshot_has_pypi_records() -> None:
    assert len(PYPI_RECORDS) >= 9  # the nine that affect the demo, plus deliberate non-matches


@pytest.mark.parametrize("path", PYPI_RECORDS, ids=lambda p: p.stem)
def test_pypi_record_facts_match_the_pypa_database(path: Path, corpora: Path) -> None:
    ours = _load(path)
    theirs = _upstream(corpora, ours)
    assert ours["id"] == theirs["id"] == path.stem
    assert ours.get("aliases", []) == (theirs.get("aliases") or [])
    assert _instant(ours["modified"]) == _instant(theirs["modified"])
    assert ("published" in ours) == bool(theirs.get("published"))
    if "published" in ours:
        assert _instant(ours["published"]) == _instant(theirs["published"])
    assert ours.get("severity", []) == [{"type": s["type"], "score": s["score"]} for s in theirs.get("severity") or []]
    assert len(ours["affected"]) == len(theirs["affected"])
    for mine, upstream in zip(ours["affected"], theirs["affected"], strict=True):
        assert mine["package"] == {k: upstream["package"][k] for k in ("ecosystem", "name", "purl")}
        ecosystem_ranges = [r for r in upstream.get("ranges", []) if r["type"] == "ECOSYSTEM"]
        assert mine["ranges"] == [{"type": "ECOSYSTEM", "events": r["events"]} for r in ecosystem_ranges]
    # Facts only: no upstream prose came along (our one-line summary is ours, and not theirs).
    assert "details" not in ours
    assert ours["summary"] and ours["summary"] not in (theirs.get("details") or "")


def test_kev_file_marks_exactly_the_listed_cves(corpora: Path) -> None:
    catalog = json.loads((corpora / "kev" / "known_exploited_vulnerabilities.json").read_text(encoding="utf-8"))
    listed = {v["cveID"]: v for v in catalog["vulnerabilities"]}
    named: set[str] = set()
    for path in SNAPSHOT.rglob("*.json"):
        record = _load(path)
        named.update(c for c in record.get("aliases", []) + record.get("upstream", []) if c.startswith("CVE-"))
    ours = _load(KEV_FILE)
    marked = {v["cveID"]: v for v in ours["vulnerabilities"]}
    assert set(marked) == named & set(listed) == {"CVE-2023-4911"}
    assert ours["catalogVersion"] == catalog["catalogVersion"] and ours["count"] == len(marked)
    for cve, entry in marked.items():
        assert entry == {k: listed[cve][k] for k in entry}, cve  # every field we kept is the catalog's
        assert {"dateAdded", "dueDate", "vendorProject", "product"} <= set(entry)
