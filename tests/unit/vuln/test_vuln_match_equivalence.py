"""The indexed matcher answers exactly what the straightforward OSV evaluation answers.

`match_packages` evaluates entries compiled at import (sorted events, stored key texts, scores
worked out). `reference_match` below is the plain algorithm it replaced: each raw entry through
`osv.evaluate_affected`, each record decoded, severity and status read from the record. Both run
on one seeded advisory set that covers every shape the compiler treats specially, and must
produce the same matches, in the same order, field for field.
"""

from __future__ import annotations

import random
import sqlite3
from typing import Any

import pytest

from hostwarden.core.errors import HostwardenError
from hostwarden.scan.vuln import osv, severity
from hostwarden.scan.vuln.db import SCHEMA_VERSION, AdvisoryDB
from hostwarden.scan.vuln.inventory.model import Package
from hostwarden.scan.vuln.match import Match, lookup_key, match_packages, status_of

V3 = ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"]
V2 = "AV:N/AC:L/Au:N/C:P/I:P/A:P"
V4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
ECOSYSTEMS = ["Debian:12", "Debian:11", "Ubuntu:22.04:LTS", "PyPI", "npm", "Go", "Alpine:v3.18", "crates.io"]
NAMES = ["alpha", "beta", "Gamma_pkg", "delta", "openssl"]


def version(rng: random.Random, eco: str) -> str:
    """A version in the ecosystem's syntax, sometimes with the awkward parts (epochs, ~, pre-releases)."""
    a, b, c = rng.randint(0, 2), rng.randint(0, 3), rng.randint(0, 3)
    base = eco.split(":")[0]
    if base in ("Debian", "Ubuntu"):
        epoch = rng.choice(["", "", "", "1:"])
        tilde = rng.choice(["", "", "~rc1", "~~", "+dfsg"])
        rev = rng.choice(["", "-1", "-2", "-1+deb12u1", "-0ubuntu1.2"])
        return f"{epoch}{a}.{b}{tilde}.{c}{rev}" if rng.random() < 0.5 else f"{epoch}{a}.{b}{tilde}{rev}"
    if base == "PyPI":
        return rng.choice([f"{a}.{b}", f"{a}.{b}.{c}", f"{a}.{b}.0", f"{a}.{b}rc{c}", f"{a}.{b}.post{c}",
                           f"{a}.{b}.dev{c}", f"{a}!{b}.{c}", f"{a}.{b}+local.{c}", f"{a}.{b}.{c}a1"])
    if base == "Alpine":
        return rng.choice([f"{a}.{b}.{c}-r{c}", f"{a}.{b}_rc{c}-r0", f"{a}.{b}.{c}a-r1"])
    return rng.choice([f"{a}.{b}.{c}", f"v{a}.{b}.{c}", f"{a}.{b}", f"{a}.{b}.{c}-beta.{c}", f"{a}.{b}.{c}-rc.1"])


def events(rng: random.Random, eco: str) -> list[dict[str, str]]:
    """1-3 introduced/fixed/last_affected pairs, sometimes a limit, shuffled or duplicated."""
    out: list[dict[str, str]] = []
    for _ in range(rng.randint(1, 3)):
        out.append({"introduced": "0" if rng.random() < 0.25 else version(rng, eco)})
        kind = rng.choice(["fixed", "fixed", "last_affected", None])
        if kind:
            out.append({kind: version(rng, eco)})
    if rng.random() < 0.15:
        out.append({"limit": rng.choice(["*", version(rng, eco)])})
    if rng.random() < 0.05:
        out.append({"fixed": "not a version!"})  # cannot be compiled: evaluated raw
    if rng.random() < 0.03:
        out.append({"fixed": "1." + "9" * 200})  # valid, but too long a number to store as a key
    if rng.random() < 0.3:
        rng.shuffle(out)
    return out


def record(rng: random.Random, i: int) -> dict[str, Any]:
    prefix = rng.choice(["GHSA", "PYSEC", "DSA", "USN", "MAL", "ALPINE", "RUSTSEC"])
    rid = f"{prefix}-{i}"
    affected = []
    for _ in range(rng.randint(1, 2)):
        eco = rng.choice(ECOSYSTEMS)
        entry: dict[str, Any] = {"package": {"ecosystem": eco, "name": rng.choice(NAMES)}, "ranges": []}
        for _ in range(rng.randint(0, 2)):
            rtype = rng.choice(["ECOSYSTEM", "ECOSYSTEM", "SEMVER", "GIT"])
            entry["ranges"].append({"type": rtype, "events": events(rng, eco)})
        if rng.random() < 0.3:
            entry["versions"] = [version(rng, eco) for _ in range(rng.randint(1, 6))]
            if rng.random() < 0.5:
                entry["ranges"] = []  # a versions-only entry (as GIT-only OSV records are)
        if rng.random() < 0.15:
            bag = rng.choice(["ecosystem_specific", "database_specific"])
            entry[bag] = {"status": rng.choice(["will_not_fix", "not-affected", "EOL", "deferred", "needed"])}
        if rng.random() < 0.1:
            entry["severity"] = [{"type": "CVSS_V4", "score": V4}]
        affected.append(entry)
    rec: dict[str, Any] = {"id": rid, "modified": f"2025-0{rng.randint(1, 9)}-01T00:00:00Z",
                           "aliases": [f"CVE-2025-{rng.randint(1, 40)}"] if rng.random() < 0.7 else [],
                           "affected": affected}
    if rng.random() < 0.05:
        rec["aliases"].append(f"MAL-2025-{i}")
    if rng.random() < 0.6:
        rec["summary"] = f"summary {i}"
    else:
        rec["details"] = f"details {i} " * rng.randint(1, 40)
    roll = rng.random()
    if roll < 0.3:
        rec["severity"] = [{"type": "CVSS_V3", "score": rng.choice(V3)}]
    elif roll < 0.4:
        rec["severity"] = [{"type": "CVSS_V2", "score": V2}, {"type": "CVSS_V3", "score": "CVSS:3.1/garbage"}]
    elif roll < 0.5:
        rec["database_specific"] = {"severity": rng.choice(["HIGH", "MODERATE", "LOW", "weird"])}
    if rng.random() < 0.1:
        rec["withdrawn"] = "2025-10-01T00:00:00Z"
    if rng.random() < 0.2:
        rec["upstream"] = [f"CVE-2025-{rng.randint(1, 40)}"]
    rec["references"] = [{"type": "WEB", "url": f"https://example.test/{i}/{n}"} for n in range(rng.randint(0, 7))]
    return rec


def advisories(seed: int, count: int = 400) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = [record(rng, i) for i in range(count)]
    out.append(record(rng, 5))  # a re-import of one id: replaces (or not) by `modified`
    return out


def inventory(seed: int) -> list[Package]:
    rng = random.Random(seed + 1)
    pkgs = []
    for eco in ECOSYSTEMS:
        for name in NAMES:
            for _ in range(rng.randint(1, 3)):
                ver = version(rng, eco) if rng.random() < 0.95 else "%%garbage%%"
                if eco.startswith("Debian") and rng.random() < 0.3:
                    pkgs.append(Package(f"lib{name}3", ver + "+b1", eco, "/var/lib/dpkg/status", name, ver))
                else:
                    pkgs.append(Package(name.lower() if rng.random() < 0.5 else name, ver, eco, f"/srv/{eco}"))
    pkgs.append(Package("alpha", "1." + "9" * 200, "PyPI", "/srv/huge"))  # keyless: evaluated raw
    return pkgs


# --- the reference: the matcher as it was before entries were compiled ----------------------
def reference_match(db: AdvisoryDB, packages: list[Package]) -> tuple[list[Match], list[dict[str, Any]]]:
    by_key: dict[tuple[str, str], list[Package]] = {}
    for pkg in packages:
        by_key.setdefault(lookup_key(pkg), []).append(pkg)
    kev_table, matches, unknown, seen = db.kev_all(), [], [], set()
    for row in db.affected_for(by_key):
        malicious = row.advisory_id.startswith("MAL-") or any(a.startswith("MAL-") for a in row.aliases)
        every = malicious and not row.entry.get("ranges") and not row.entry.get("versions")
        for pkg in by_key.get((osv.ecosystem_key(row.ecosystem), row.name), []):
            hit = (osv.Hit(osv.Verdict.AFFECTED, reason="malicious package: every version") if every
                   else osv.evaluate_affected(row.entry, row.ecosystem, pkg.match_version))
            if hit.verdict is osv.Verdict.UNKNOWN:
                unknown.append({"package": pkg.to_dict(), "advisory": row.advisory_id, "reason": hit.reason})
                continue
            status = status_of(row.entry, hit)
            dedupe = (pkg.name, pkg.version, pkg.location, row.advisory_id)
            if hit.verdict is not osv.Verdict.AFFECTED or status == "not-affected" or dedupe in seen:
                continue
            seen.add(dedupe)
            rec = db.advisory(row.advisory_id)
            aliases = [str(a) for a in rec.get("aliases") or []]
            score = severity.record_score(rec, row.entry)
            if score is None or score.base is None:
                found = db.related_severity([*aliases, *[str(u) for u in rec.get("upstream") or []]])
                score = (severity.best_score(found[1], found[0]) if found else None) or score
            upstream = [str(u) for u in rec.get("upstream") or []]
            kev = next((kev_table[i] for i in [rec["id"], *aliases, *upstream] if i in kev_table), None)
            aliases = list(dict.fromkeys([*aliases, *upstream]))  # a Debian record's CVE is its upstream
            refs = [str(r["url"]) for r in rec.get("references") or [] if isinstance(r, dict) and r.get("url")]
            matches.append(Match(
                package=pkg, advisory_id=rec["id"], aliases=aliases,
                summary=str(rec.get("summary") or rec.get("details") or "")[:300], status=status,
                fixed=hit.fixed, last_affected=hit.last_affected, malicious=malicious, score=score, kev=kev,
                priority=severity.priority(score, kev=kev is not None, malicious=malicious, status=status),
                fix=severity.fix_command(pkg.ecosystem, pkg.match_name, pkg.name if pkg.source_name else None,
                                         hit.fixed),
                reason=hit.reason, references=refs[:5]))
    return matches, unknown


def load(db: AdvisoryDB, seed: int) -> None:
    db.import_records(advisories(seed))
    db.import_kev({"vulnerabilities": [{"cveID": f"CVE-2025-{n}", "dateAdded": "2025-01-01"} for n in (3, 7)]})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_indexed_match_equals_reference(tmp_path, seed):
    packages = inventory(seed)
    with AdvisoryDB(tmp_path / "adv.sqlite") as db:
        load(db, seed)
        got = match_packages(db, packages)
        want, want_unknown = reference_match(db, packages)
        compiled, raw = db.conn.execute(
            "SELECT COUNT(compiled), COUNT(*) - COUNT(compiled) FROM affected").fetchone()
    assert got.matches == want
    assert got.unknown == want_unknown
    # the set exercises both paths and every outcome, or the comparison proves little
    assert compiled > 200 and raw > 20
    assert len(want) > 50 and want_unknown
    assert {m.status for m in want} >= {"fixed", "unfixed", "will-not-fix", "end-of-life"}
    assert any(m.malicious for m in want) and any(m.kev for m in want)
    assert any(m.last_affected for m in want) and any(m.reason == "listed in versions" for m in want)
    assert any(m.score and m.score.source != m.advisory_id for m in want)  # borrowed through an alias


# --- schema versions ------------------------------------------------------------------------
_V1 = """
CREATE TABLE advisories (id TEXT PRIMARY KEY, modified TEXT, published TEXT, withdrawn TEXT, summary TEXT,
  aliases TEXT, severity TEXT, record TEXT NOT NULL);
CREATE TABLE affected (advisory_id TEXT NOT NULL, eco_key TEXT NOT NULL, ecosystem TEXT NOT NULL,
  name TEXT NOT NULL, entry TEXT NOT NULL);
CREATE INDEX affected_pkg ON affected (eco_key, name);
CREATE TABLE aliases (alias TEXT NOT NULL, advisory_id TEXT NOT NULL);
CREATE TABLE kev (cve TEXT PRIMARY KEY, date_added TEXT, due_date TEXT, ransomware TEXT, name TEXT);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def write_v1(path, records: list[dict[str, Any]]) -> None:
    """A database as schema 1 wrote it (only `record` matters to the migration)."""
    import json

    con = sqlite3.connect(path)
    con.executescript(_V1)
    latest: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec["id"] not in latest or rec["modified"] >= latest[rec["id"]]["modified"]:
            latest[rec["id"]] = rec
    con.executemany("INSERT INTO advisories VALUES (?,?,?,?,?,?,?,?)", [
        (r["id"], r["modified"], None, r.get("withdrawn"), "", json.dumps(r.get("aliases", [])), "[]", json.dumps(r))
        for r in latest.values()])
    con.execute("INSERT INTO kev VALUES ('CVE-2025-3', '2025-01-01', NULL, NULL, NULL)")
    con.commit()
    con.close()


@pytest.mark.parametrize("interrupted", [False, True])
def test_schema_1_database_is_rebuilt_on_open(tmp_path, interrupted):
    write_v1(tmp_path / "old.sqlite", advisories(4))
    if interrupted:  # a migration that stopped after renaming the old table
        con = sqlite3.connect(tmp_path / "old.sqlite")
        con.execute("ALTER TABLE advisories RENAME TO advisories_v1")
        con.execute("CREATE TABLE advisories (id TEXT)")
        con.commit()
        con.close()
    packages = inventory(4)
    with AdvisoryDB(tmp_path / "old.sqlite") as db:
        version = db.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        tables = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        migrated = match_packages(db, packages)
        kev = db.kev_all()
    with AdvisoryDB(tmp_path / "fresh.sqlite") as db:
        db.import_records(advisories(4))
        db.import_kev({"vulnerabilities": [{"cveID": "CVE-2025-3", "dateAdded": "2025-01-01"}]})
        fresh = match_packages(db, packages)
    assert version == SCHEMA_VERSION and "advisories_v1" not in tables
    assert set(kev) == {"CVE-2025-3"}  # KEV and meta survive
    assert {(m.package, m.advisory_id) for m in migrated.matches} == {(m.package, m.advisory_id) for m in fresh.matches}
    assert [m.score for m in migrated.matches] != [] and len(migrated.matches) == len(fresh.matches)


def test_newer_schema_is_a_clear_error(tmp_path):
    con = sqlite3.connect(tmp_path / "new.sqlite")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    con.commit()
    con.close()
    with pytest.raises(HostwardenError) as err:
        AdvisoryDB(tmp_path / "new.sqlite")
    assert err.value.code.code == "SCAN-9016"
    assert "re-import" in str(err.value)


# --- stored key texts order exactly as the parsed versions ----------------------------------
@pytest.mark.parametrize("eco", ["Debian:12", "PyPI", "npm", "Go"])
def test_key_text_orders_like_parsed_versions(eco):
    from hostwarden.scan.vuln import versions

    scheme = versions.scheme_for(eco)
    rng = random.Random(eco)
    pool = {version(rng, eco) for _ in range(300)} | {
        "0", "0.0.0", "1", "10", "99999999999999999999.1", "1.0a", "1.0~~a", "0:1.0", "1.0-1~bpo11+1", "1.0~",
        "2:1.0.0+git20200101.abcdef-3", "1.0-0", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-0.3.7", "v1.2.3",
        "1.0.0+build.5", "1.0.post1.dev2", "1.0rc1+ubuntu.1", "1.0+ubuntu-1", "1!1.0", "1.0.0a0", "A.1"}
    parsed = {}
    for text in pool:
        try:
            parsed[text] = (versions.parse(scheme, text), versions.key_text(scheme, text))
        except ValueError:
            continue
    assert len(parsed) > 100
    for a, (pa, ka) in parsed.items():
        for b, (pb, kb) in parsed.items():
            assert ((pa > pb) - (pa < pb)) == ((ka > kb) - (ka < kb)), (a, b)
            assert (pa == pb) == (ka == kb), (a, b)


def test_bulk_import_rebuilds_indexes_and_replaces_across_batches(tmp_path):
    from hostwarden.scan.vuln.db import _SECONDARY

    records = advisories(5, count=30)
    newer = {**records[3], "modified": "2026-01-01T00:00:00Z", "summary": "replaced"}
    with AdvisoryDB(tmp_path / "adv.sqlite") as db:
        db.import_records([*records, newer], batch=7)  # the replacement lands in a later batch
        indexes = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        rows = db.conn.execute("SELECT COUNT(*) FROM affected WHERE advisory_id = ?", (newer["id"],)).fetchone()[0]
        summary = db.conn.execute("SELECT summary FROM advisories WHERE id = ?", (newer["id"],)).fetchone()[0]
        plan = " ".join(r[3] for r in db.conn.execute(
            "EXPLAIN QUERY PLAN SELECT 1 FROM affected WHERE advisory_id = 'x'"))
    assert set(_SECONDARY) <= indexes
    assert rows == len(newer["affected"]) and summary == "replaced"
    assert "affected_adv" in plan
