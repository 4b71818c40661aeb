"""The local advisory database: one SQLite file in the data dir, indexed by ecosystem and package.

Why SQLite and not the DuckDB hot store: matching is thousands of point look-ups by
(ecosystem, package) followed by Python version logic, which is SQLite's strength; the file is
a single portable artefact an air-gapped host can receive. `:memory:` gives the same database
for `scan --advisories PATH` without touching the stored one.

Tables: `advisories` (one row per OSV id: the few fields a finding shows; kept small so
look-ups stay in few pages), `records` (the whole record as compact JSON), `affected` (one row per affected package, clustered by normalised ecosystem +
package so one package's entries sit together on disk, each entry *compiled* at import:
events sorted, versions turned into order-preserving key texts, status words and CVSS score
worked out, so matching neither parses advisory versions nor decodes records), `aliases` (alias -> id, to borrow a CVE's severity for
a distro record that has none), `kev` (CISA known-exploited CVEs) and `meta` (schema version,
import times). A schema-1 database (entries stored raw) is rebuilt from its stored records
when first opened; a newer schema is SCAN-9016.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from hostwarden.core.errors import SCAN_ADVISORY_DB_VERSION, HostwardenError
from hostwarden.scan.vuln import severity
from hostwarden.scan.vuln.osv import compile_entry, ecosystem_key, package_key, timestamp

DB_NAME = "advisories.sqlite"
SCHEMA_VERSION = "2"
_MIGRATABLE = ("1",)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS advisories (
  id TEXT PRIMARY KEY, modified TEXT, published TEXT, withdrawn TEXT, summary TEXT,
  aliases TEXT, severity TEXT, brief TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS advisories_modified ON advisories (modified);
CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS affected (
  eco_key TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, advisory_id TEXT NOT NULL,
  ecosystem TEXT NOT NULL, idx INTEGER NOT NULL, withdrawn INTEGER NOT NULL, malicious INTEGER NOT NULL,
  compiled TEXT, PRIMARY KEY (eco_key, name, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS affected_adv ON affected (advisory_id);
CREATE INDEX IF NOT EXISTS affected_eco ON affected (ecosystem, advisory_id);
CREATE TABLE IF NOT EXISTS aliases (
  alias TEXT NOT NULL, advisory_id TEXT NOT NULL, PRIMARY KEY (alias, advisory_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS aliases_adv ON aliases (advisory_id);
CREATE TABLE IF NOT EXISTS kev (
  cve TEXT PRIMARY KEY, date_added TEXT, due_date TEXT, ransomware TEXT, name TEXT);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
_SECONDARY = ("advisories_modified", "affected_adv", "affected_eco", "aliases_adv")
_WANTED = ("CREATE TEMP TABLE IF NOT EXISTS wanted (eco_key TEXT, name TEXT)", "DELETE FROM wanted",
           "INSERT INTO wanted VALUES (?, ?)")
_WANTED_IDS = ("CREATE TEMP TABLE IF NOT EXISTS wanted_ids (id TEXT PRIMARY KEY)", "DELETE FROM wanted_ids",
               "INSERT OR IGNORE INTO wanted_ids VALUES (?)")


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


class Candidate(NamedTuple):
    """One affected entry for a wanted package, as matching reads it (`compiled` still JSON).

    A named tuple rather than a dataclass: 20,000 of them are made straight from SQLite rows.
    """

    advisory_id: str
    ecosystem: str
    name: str
    idx: int
    malicious: int
    compiled: str | None


class Brief(NamedTuple):
    """What a finding shows of its advisory (see `record_fields`)."""

    aliases: list[str]
    summary: str
    refs: list[str]
    upstream: list[str]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat().replace("+00:00", "Z")


# `json.loads` minus its wrapper and two whitespace regex calls: ~30% off for the 30,000 small
# documents a large scan decodes. Only for text this module wrote (no surrounding whitespace).
_raw_decode = json.JSONDecoder().raw_decode


def decode_json(text: str) -> Any:
    return _raw_decode(text)[0]


_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))  # built once, not per record


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def record_fields(record: dict[str, Any]) -> tuple[str, list[str], list[str], list[str]]:
    """Summary, aliases, reference URLs and upstream ids of a record, as findings show them."""
    summary = str(record.get("summary") or record.get("details") or "")[:500]
    aliases = [str(a) for a in record.get("aliases") or []]
    refs = [str(r.get("url")) for r in record.get("references") or [] if isinstance(r, dict) and r.get("url")]
    upstream = [str(u) for u in record.get("upstream") or []]
    return summary, aliases, refs[:5], upstream


def entry_facts(record: dict[str, Any], entry: dict[str, Any], ecosystem: str) -> str | None:
    """The compiled entry stored in `affected.compiled`, or None to evaluate the raw entry.

    `[scheme, ranges, versions, version keys, status words, score, bare]`: the first four are
    `osv.compile_entry`; status words are the `status` of `ecosystem_specific` and
    `database_specific` (mapped at match time); score is `severity.record_score` as a list;
    bare says the entry has neither ranges nor versions (a `MAL-` record then covers all).
    """
    compiled = compile_entry(entry, ecosystem)
    if compiled is None:
        return None
    try:
        words = [str(bag.get("status") or "").strip().lower()
                 for bag in (entry.get("ecosystem_specific"), entry.get("database_specific"))
                 if isinstance(bag, dict)]
        score = severity.record_score(record, entry)
    except (AttributeError, TypeError, ValueError):
        return None
    bare = not entry.get("ranges") and not entry.get("versions")
    score_row = None if score is None else [score.base, score.version, score.vector, score.label, score.source]
    return _dumps([*compiled, words, score_row, bare])


class AdvisoryDB:
    """An open advisory database; use as a context manager or call `close()`."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA cache_size=-32768")  # 32 MB: a scan reads a few thousand scattered pages
        self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        found = self._schema_found()
        if found not in (None, SCHEMA_VERSION):
            if found not in _MIGRATABLE:
                self.conn.close()
                raise HostwardenError(SCAN_ADVISORY_DB_VERSION, (
                    f"{self.path}: advisory database schema {found!r}, this hostwarden reads {SCHEMA_VERSION!r};"
                    " upgrade hostwarden, or move the file aside and re-import (`hostwarden vulndb import`)"))
            self._migrate()
        self.conn.executescript(_SCHEMA)
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        self.conn.commit()

    def _schema_found(self) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "advisories_v1" in tables:  # a migration that was interrupted
            return "1"
        if row is None:
            return "1" if "advisories" in tables else None
        return str(row[0])

    def _migrate(self) -> None:
        """Rebuild a schema-1 database from the records it stores (they are kept whole).

        Resumable: the old table is renamed first and dropped last, so an interrupted run starts
        over on the next open. 200,000 records take about as long as importing them.
        """
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "advisories_v1" not in tables:
            self.conn.execute("ALTER TABLE advisories RENAME TO advisories_v1")
        self.conn.execute("DELETE FROM meta WHERE key = 'affected_seq'")
        for table in ("advisories", "records", "affected", "aliases"):
            self.conn.execute(f"DROP TABLE IF EXISTS {table}")
        self.conn.commit()
        self.conn.executescript(_SCHEMA)
        last, stats = 0, ImportStats()
        while rows := self.conn.execute(
            "SELECT rowid, record FROM advisories_v1 WHERE rowid > ? ORDER BY rowid LIMIT 5000", (last,)
        ).fetchall():
            last = rows[-1][0]
            self._write([json.loads(text) for _, text in rows], stats)
        with self.conn:
            self.conn.execute("DROP TABLE advisories_v1")
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))

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
        """Upsert OSV records; an older `modified` never overwrites a newer stored one.

        Durability is relaxed while importing (`synchronous=OFF`): an import interrupted by a
        power cut is simply run again, and it is several times faster.
        """
        stats = ImportStats()
        pending: list[dict[str, Any]] = []
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA cache_size=-262144")  # 256 MB: index pages stay hot while growing
        if self.conn.execute("SELECT 1 FROM advisories LIMIT 1").fetchone() is None:
            # into an empty database, secondary indexes are built once at the end (a sort)
            # instead of growing by 200,000 random inserts each
            for name in _SECONDARY:
                self.conn.execute(f"DROP INDEX IF EXISTS {name}")
        try:
            for record in records:
                pending.append(record)
                if len(pending) >= batch:
                    self._write(pending, stats)
                    pending = []
            if pending:
                self._write(pending, stats)
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('imported_at', ?)", (_now(),))
            self.conn.commit()
        finally:
            self.conn.executescript(_SCHEMA)  # (re)creates any index dropped above
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA cache_size=-32768")
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
        adv_rows, rec_rows, aff_rows, alias_rows, replaced = [], [], [], [], []
        # `seq` numbers entries in import order, the order matches are reported in
        seq_row = self.conn.execute("SELECT value FROM meta WHERE key = 'affected_seq'").fetchone()
        seq = int(seq_row[0]) if seq_row else 0
        for rid, record in latest.items():
            modified = timestamp(record.get("modified"))
            if rid in stored:
                if (stored[rid] or "") > (modified or ""):
                    stats.skipped_older += 1
                    continue
                replaced.append(rid)
            summary, aliases, refs, upstream = record_fields(record)
            adv_rows.append((
                rid, modified, timestamp(record.get("published")), timestamp(record.get("withdrawn")),
                summary, json.dumps(aliases), json.dumps(record.get("severity") or []),
                json.dumps([aliases, refs, upstream]),
            ))
            rec_rows.append((rid, _dumps(record)))
            alias_rows.extend((a, rid) for a in {*aliases, *upstream})
            withdrawn = int(adv_rows[-1][3] is not None)
            malicious = int(str(rid).startswith("MAL-") or any(a.startswith("MAL-") for a in aliases))
            for idx, entry in enumerate(record.get("affected") or []):
                pkg = entry.get("package") if isinstance(entry, dict) else None
                if not isinstance(pkg, dict) or not pkg.get("ecosystem") or not pkg.get("name"):
                    continue
                eco, name = str(pkg["ecosystem"]), str(pkg["name"])
                seq += 1
                aff_rows.append((ecosystem_key(eco), package_key(eco, name), seq, rid, eco, idx, withdrawn, malicious,
                                 entry_facts(record, entry, eco)))
                base = eco.split(":", 1)[0]
                stats.ecosystems[base] = stats.ecosystems.get(base, 0) + 1
            stats.records += 1
        if replaced:
            self.conn.executescript(_SCHEMA)  # the deletes below need any dropped index back
        with self.conn:
            if replaced:
                self.conn.execute("DELETE FROM batch_ids")
                self.conn.executemany("INSERT INTO batch_ids VALUES (?)", [(i,) for i in replaced])
                self.conn.execute("DELETE FROM affected WHERE advisory_id IN (SELECT id FROM batch_ids)")
                self.conn.execute("DELETE FROM aliases WHERE advisory_id IN (SELECT id FROM batch_ids)")
            self.conn.executemany("INSERT OR REPLACE INTO advisories VALUES (?,?,?,?,?,?,?,?)", adv_rows)
            self.conn.executemany("INSERT OR REPLACE INTO records VALUES (?,?)", rec_rows)
            self.conn.executemany("INSERT INTO affected VALUES (?,?,?,?,?,?,?,?,?)", aff_rows)
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('affected_seq', ?)", (str(seq),))
            self.conn.executemany("INSERT OR IGNORE INTO aliases VALUES (?,?)", alias_rows)
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
    def _fill(self, statements: tuple[str, str, str], rows: Iterable[tuple[Any, ...]]) -> None:
        """Load look-up keys into a temp table, so a look-up of many is one indexed join."""
        create, clear, insert = statements
        self.conn.execute(create)
        self.conn.execute(clear)
        self.conn.executemany(insert, rows)

    # CROSS JOIN pins the loop order (SQLite never reorders it): one range read of the clustered
    # `affected` table per wanted package. Rows come in import order (`seq`), the order matches
    # have always been reported in.
    _CANDIDATES = (
        "FROM wanted w CROSS JOIN affected a ON a.eco_key = w.eco_key AND a.name = w.name "
        "WHERE a.withdrawn = 0 ORDER BY a.seq"
    )

    def candidates(self, keys: Iterable[tuple[str, str]]) -> list[Candidate]:
        """Every affected entry of a not-withdrawn advisory for (ecosystem_key, package_key) pairs."""
        self._fill(_WANTED, sorted(set(keys)))
        return list(map(Candidate._make, self.conn.execute(
            "SELECT a.advisory_id, a.ecosystem, a.name, a.idx, a.malicious, a.compiled " + self._CANDIDATES)))

    def briefs(self, ids: Iterable[str]) -> dict[str, Brief]:
        """Aliases, summary, references and upstream ids of many advisories, in one join."""
        self._fill(_WANTED_IDS, [(i,) for i in ids])
        out: dict[str, Brief] = {}
        for rid, summary, brief in self.conn.execute(
            "SELECT d.id, d.summary, d.brief FROM wanted_ids w CROSS JOIN advisories d ON d.id = w.id"
        ):
            aliases, refs, upstream = decode_json(brief)
            out[rid] = Brief(aliases, summary, refs, upstream)
        return out

    def affected_for(self, keys: Iterable[tuple[str, str]]) -> Iterator[AffectedRow]:
        """Affected entries (raw, from the stored records) for (ecosystem_key, package_key) pairs."""
        self._fill(_WANTED, sorted(set(keys)))
        rows = self.conn.execute(
            "SELECT a.advisory_id, a.ecosystem, a.name, a.idx, r.record, d.aliases " + self._CANDIDATES.replace(
                " WHERE", " CROSS JOIN advisories d ON d.id = a.advisory_id CROSS JOIN records r ON r.id = a.advisory_id"
                " WHERE")).fetchall()
        for rid, eco, name, idx, record, aliases in rows:
            yield AffectedRow(rid, eco, name, json.loads(record)["affected"][idx], tuple(json.loads(aliases)))

    def records(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Full records for many ids in one indexed join."""
        self._fill(_WANTED_IDS, [(i,) for i in ids])
        return {rid: json.loads(rec) for rid, rec in self.conn.execute(
            "SELECT r.id, r.record FROM wanted_ids w JOIN records r ON r.id = w.id")}

    def advisory(self, advisory_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT record FROM records WHERE id = ?", (advisory_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def related_severity(self, aliases: Iterable[str]) -> tuple[str, list[dict[str, Any]]] | None:
        """Severity from another record sharing an alias (e.g. the CVE behind a distro record)."""
        return self.related_severities([tuple(aliases)])[tuple(aliases)]

    def related_severities(
        self, groups: Iterable[tuple[str, ...]]
    ) -> dict[tuple[str, ...], tuple[str, list[dict[str, Any]]] | None]:
        """`related_severity` for many alias tuples with two queries.

        For each alias in order, the record with that id and then the records listing it as
        an alias (by id) are tried; the first with a non-empty `severity` answers.
        """
        groups = list(dict.fromkeys(groups))
        wanted = {a for group in groups for a in group}
        self._fill(_WANTED_IDS, [(a,) for a in wanted])
        direct = dict(self.conn.execute(
            "SELECT d.id, d.severity FROM wanted_ids w CROSS JOIN advisories d ON d.id = w.id "
            "WHERE d.severity IS NOT NULL AND d.severity NOT IN ('', '[]')"))
        via: dict[str, tuple[str, str]] = {}
        for alias, rid, sev in self.conn.execute(
            "SELECT al.alias, al.advisory_id, d.severity FROM wanted_ids w CROSS JOIN aliases al ON al.alias = w.id "
            "CROSS JOIN advisories d ON d.id = al.advisory_id WHERE d.severity IS NOT NULL AND d.severity NOT IN ('', '[]') "
            "ORDER BY al.alias, al.advisory_id"
        ):
            via.setdefault(alias, (rid, sev))
        out: dict[tuple[str, ...], tuple[str, list[dict[str, Any]]] | None] = {}
        for group in groups:
            out[group] = None
            for alias in group:
                found = (alias, direct[alias]) if alias in direct else via.get(alias)
                if found:
                    out[group] = (found[0], json.loads(found[1]))
                    break
        return out

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
