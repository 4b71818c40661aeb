"""The local advisory database: one SQLite file in the data dir, indexed by ecosystem and package.

Why SQLite and not the DuckDB hot store: matching is thousands of point look-ups by
(ecosystem, package) followed by Python version logic, which is SQLite's strength; the file is
a single portable artefact an air-gapped host can receive. `:memory:` gives the same database
for `scan --advisories PATH` without touching the stored one.

Tables: `advisories` (one row per OSV id, the record as compact JSON), `affected` (one row
per affected package, keyed by normalised ecosystem + package), `aliases` (alias -> id, to
borrow a CVE's severity for a distro record that has none), `kev` (CISA known-exploited CVEs)
and `meta` (import times).
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostwarden.scan.vuln.osv import ecosystem_key, package_key, presort, timestamp

DB_NAME = "advisories.sqlite"
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS advisories (
  id TEXT PRIMARY KEY, modified TEXT, published TEXT, withdrawn TEXT, summary TEXT,
  aliases TEXT, severity TEXT, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS affected (
  advisory_id TEXT NOT NULL, eco_key TEXT NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL,
  entry TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS affected_pkg ON affected (eco_key, name);
CREATE INDEX IF NOT EXISTS affected_adv ON affected (advisory_id);
CREATE TABLE IF NOT EXISTS aliases (alias TEXT NOT NULL, advisory_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS aliases_alias ON aliases (alias);
CREATE INDEX IF NOT EXISTS aliases_adv ON aliases (advisory_id);
CREATE TABLE IF NOT EXISTS kev (
  cve TEXT PRIMARY KEY, date_added TEXT, due_date TEXT, ransomware TEXT, name TEXT);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass
class ImportStats:
    records: int = 0
    affected: int = 0
    skipped_older: int = 0
    ecosystems: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AffectedRow:
    advisory_id: str
    ecosystem: str
    name: str
    entry: dict[str, Any]
    aliases: tuple[str, ...] = ()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat().replace("+00:00", "Z")


class AdvisoryDB:
    """An open advisory database; use as a context manager or call `close()`."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        self.conn.commit()

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> AdvisoryDB:
        return cls(Path(data_dir) / DB_NAME)

    def __enter__(self) -> AdvisoryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    # --- writing --------------------------------------------------------------------------
    def import_records(self, records: Iterable[dict[str, Any]], batch: int = 5000) -> ImportStats:
        """Upsert OSV records; an older `modified` never overwrites a newer stored one."""
        stats = ImportStats()
        pending: list[dict[str, Any]] = []
        for record in records:
            pending.append(record)
            if len(pending) >= batch:
                self._write(pending, stats)
                pending = []
        if pending:
            self._write(pending, stats)
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('imported_at', ?)", (_now(),))
        self.conn.commit()
        return stats

    def _write(self, records: list[dict[str, Any]], stats: ImportStats) -> None:
        latest: dict[str, dict[str, Any]] = {}
        for record in records:
            rid = record["id"]
            prior = latest.get(rid)
            if prior is None or (timestamp(record.get("modified")) or "") >= (timestamp(prior.get("modified")) or ""):
                latest[rid] = record
        ids = list(latest)
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS batch_ids (id TEXT PRIMARY KEY)")
        self.conn.execute("DELETE FROM batch_ids")
        self.conn.executemany("INSERT INTO batch_ids VALUES (?)", [(i,) for i in ids])
        stored: dict[str, str] = dict(
            self.conn.execute("SELECT a.id, a.modified FROM advisories a JOIN batch_ids b ON a.id = b.id")
        )
        adv_rows, aff_rows, alias_rows, replaced = [], [], [], []
        for rid, record in latest.items():
            modified = timestamp(record.get("modified"))
            if rid in stored:
                if (stored[rid] or "") > (modified or ""):
                    stats.skipped_older += 1
                    continue
                replaced.append(rid)
            aliases = [str(a) for a in record.get("aliases") or []]
            adv_rows.append((
                rid, modified, timestamp(record.get("published")), timestamp(record.get("withdrawn")),
                str(record.get("summary") or record.get("details") or "")[:500], json.dumps(aliases),
                json.dumps(record.get("severity") or []), json.dumps(record, default=str, separators=(",", ":")),
            ))
            alias_rows.extend((a, rid) for a in {*aliases, *[str(u) for u in record.get("upstream") or []]})
            for entry in record.get("affected") or []:
                pkg = entry.get("package") if isinstance(entry, dict) else None
                if not isinstance(pkg, dict) or not pkg.get("ecosystem") or not pkg.get("name"):
                    continue
                eco, name = str(pkg["ecosystem"]), str(pkg["name"])
                presort(entry, eco)
                aff_rows.append((rid, ecosystem_key(eco), eco, package_key(eco, name),
                                 json.dumps(entry, default=str, separators=(",", ":"))))
                base = eco.split(":", 1)[0]
                stats.ecosystems[base] = stats.ecosystems.get(base, 0) + 1
            stats.records += 1
        with self.conn:
            if replaced:
                self.conn.execute("DELETE FROM batch_ids")
                self.conn.executemany("INSERT INTO batch_ids VALUES (?)", [(i,) for i in replaced])
                self.conn.execute("DELETE FROM affected WHERE advisory_id IN (SELECT id FROM batch_ids)")
                self.conn.execute("DELETE FROM aliases WHERE advisory_id IN (SELECT id FROM batch_ids)")
            self.conn.executemany("INSERT OR REPLACE INTO advisories VALUES (?,?,?,?,?,?,?,?)", adv_rows)
            self.conn.executemany("INSERT INTO affected VALUES (?,?,?,?,?)", aff_rows)
            self.conn.executemany("INSERT INTO aliases VALUES (?,?)", alias_rows)
        stats.affected += len(aff_rows)

    def import_kev(self, catalog: dict[str, Any]) -> int:
        rows = [
            (str(v["cveID"]), v.get("dateAdded"), v.get("dueDate"), v.get("knownRansomwareCampaignUse"),
             v.get("vulnerabilityName"))
            for v in catalog.get("vulnerabilities", [])
            if isinstance(v, dict) and v.get("cveID")
        ]
        with self.conn:
            self.conn.execute("DELETE FROM kev")
            self.conn.executemany("INSERT OR REPLACE INTO kev VALUES (?,?,?,?,?)", rows)
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('kev_version', ?)",
                              (str(catalog.get("catalogVersion", "")),))
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('kev_imported_at', ?)", (_now(),))
        return len(rows)

    # --- reading --------------------------------------------------------------------------
    def affected_for(self, keys: Iterable[tuple[str, str]]) -> Iterator[AffectedRow]:
        """Affected entries for (ecosystem_key, package_key) pairs, via one indexed join."""
        pairs = sorted(set(keys))
        if not pairs:
            return
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (eco_key TEXT, name TEXT)")
        self.conn.execute("DELETE FROM wanted")
        self.conn.executemany("INSERT INTO wanted VALUES (?, ?)", pairs)
        cursor = self.conn.execute(
            "SELECT a.advisory_id, a.ecosystem, a.name, a.entry, d.aliases FROM wanted w "
            "JOIN affected a ON a.eco_key = w.eco_key AND a.name = w.name "
            "JOIN advisories d ON d.id = a.advisory_id WHERE d.withdrawn IS NULL"
        )
        for rid, eco, name, entry, aliases in cursor:
            yield AffectedRow(rid, eco, name, json.loads(entry), tuple(json.loads(aliases)) if aliases != "[]" else ())

    def records(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Full records for many ids in one indexed join."""
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted_ids (id TEXT PRIMARY KEY)")
        self.conn.execute("DELETE FROM wanted_ids")
        self.conn.executemany("INSERT OR IGNORE INTO wanted_ids VALUES (?)", [(i,) for i in ids])
        return {rid: json.loads(rec) for rid, rec in self.conn.execute(
            "SELECT d.id, d.record FROM wanted_ids w JOIN advisories d ON d.id = w.id")}

    def advisory(self, advisory_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT record FROM advisories WHERE id = ?", (advisory_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def related_severity(self, aliases: Iterable[str]) -> tuple[str, list[dict[str, Any]]] | None:
        """Severity from another record sharing an alias (e.g. the CVE behind a distro record)."""
        for alias in aliases:
            ids = [alias, *(r[0] for r in self.conn.execute(
                "SELECT advisory_id FROM aliases WHERE alias = ? ORDER BY advisory_id", (alias,)))]
            for rid in ids:
                row = self.conn.execute("SELECT severity FROM advisories WHERE id = ?", (rid,)).fetchone()
                if row and row[0] and row[0] != "[]":
                    return rid, json.loads(row[0])
        return None

    def kev_all(self) -> dict[str, dict[str, Any]]:
        """The whole KEV table (about 1,500 rows): one query instead of one per finding."""
        return {
            row[0]: {"cve": row[0], "date_added": row[1], "due_date": row[2], "ransomware": row[3], "name": row[4]}
            for row in self.conn.execute("SELECT cve, date_added, due_date, ransomware, name FROM kev")
        }

    def kev(self, cves: Iterable[str]) -> dict[str, dict[str, Any]]:
        table = self.kev_all()
        return {c: table[c] for c in cves if c in table}

    def status(self) -> dict[str, Any]:
        per_eco: dict[str, int] = {}
        for eco, count in self.conn.execute(
            "SELECT ecosystem, COUNT(DISTINCT advisory_id) FROM affected GROUP BY ecosystem"
        ):
            base = eco.split(":", 1)[0]
            per_eco[base] = per_eco.get(base, 0) + count
        total = self.conn.execute("SELECT COUNT(*), MAX(modified) FROM advisories").fetchone()
        meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        kev = self.conn.execute("SELECT COUNT(*) FROM kev").fetchone()[0]
        return {"path": self.path, "advisories": total[0], "newest_modified": total[1], "ecosystems": per_eco,
                "imported_at": meta.get("imported_at"), "kev_entries": kev, "kev_version": meta.get("kev_version")}
