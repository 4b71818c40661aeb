"""The demo's advisory snapshot is for exactly the demo's packages, and loads cleanly.

Every record names a package the demo host has (a Debian source package from its dpkg status,
a PyPI project from the shop API's requirements), so nothing in examples/advisories is there
for a package the demo lacks; and every installed package it covers is matched by name.
"""

from __future__ import annotations

import re
from pathlib import Path

from hostwarden.scan.vuln.inventory.files import collect
from hostwarden.scan.vuln.loader import LoadError, iter_records

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "examples" / "demo-host"
SNAPSHOT = REPO / "examples" / "advisories"


def _pypi(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503 normalisation


def test_snapshot_loads_without_errors_and_names_only_demo_packages() -> None:
    errors: list[LoadError] = []
    records = list(iter_records([SNAPSHOT], errors))
    assert not errors and len(records) == len(list(SNAPSHOT.rglob("*.json")))
    inventory = collect(DEMO)
    have = {(p.ecosystem, _pypi(p.match_name) if p.ecosystem == "PyPI" else p.match_name) for p in inventory.packages}
    assert ("Debian:12", "glibc") in have and ("PyPI", "werkzeug") in have
    for record in records:
        for affected in record["affected"]:
            pkg = affected["package"]
            name = _pypi(pkg["name"]) if pkg["ecosystem"] == "PyPI" else pkg["name"]
            assert (pkg["ecosystem"], name) in have, (record["id"], pkg)


def test_no_record_copies_upstream_prose() -> None:
    for record in iter_records([SNAPSHOT], []):
        assert "details" not in record, record["id"]
        assert len(record["summary"]) <= 140, record["id"]  # one line of our own, not a description
        assert record["references"] and all(r["url"].startswith("https://") for r in record["references"])
