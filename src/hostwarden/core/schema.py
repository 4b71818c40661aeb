"""The one event shape: ECS field names, one Arrow schema, one store table.

Events travel as flat dicts keyed by dotted ECS names (`source.ip`), or as Arrow tables with
exactly these columns in bulk. The store table has the same columns, quoted, so a search field
name is a column name and nothing needs translating. Fields ECS lacks but a source needs
(auditd's `a0`, `key`, …) go into `labels`, a string map, so Sigma rules can still see them.
`docs/schema.md` documents each field; `tests/unit/test_schema.py` keeps the two in step.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = 4


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: pa.DataType
    sql: str
    doc: str


def _f(name: str, typ: pa.DataType, sql: str, doc: str) -> Field:
    return Field(name, typ, sql, doc)


_STR, _INT, _BIG = pa.string(), pa.int32(), pa.int64()
_TS = pa.timestamp("us", tz="UTC")
_LIST = pa.list_(pa.string())
_MAP = pa.map_(pa.string(), pa.string())
_FLOAT, _BOOL = pa.float64(), pa.bool_()

FIELDS: tuple[Field, ...] = (
    _f("@timestamp", _TS, "TIMESTAMPTZ", "When the event happened (UTC), from the source line; ingest time if the line has none."),
    _f("event.id", _STR, "VARCHAR", "Content hash (MD5, 128-bit hex) of source identity + byte offset + raw line; re-ingesting the same bytes never doubles a record."),
    _f("event.kind", _STR, "VARCHAR", "event (a log line), alert (a detection), finding (a scanner result), incident (alerts joined and graded), state (inventory)."),
    _f("event.category", _LIST, "VARCHAR[]", "ECS categories: authentication, process, web, iam, network, file, session, configuration, …"),
    _f("event.type", _LIST, "VARCHAR[]", "ECS types: start, end, info, creation, deletion, change, access, denied, …"),
    _f("event.action", _STR, "VARCHAR", "What happened, in snake_case: ssh_login_failed, sudo_command, user_created, http_request, …"),
    _f("event.outcome", _STR, "VARCHAR", "success, failure or unknown."),
    _f("event.dataset", _STR, "VARCHAR", "Source format: sshd, sudo, su, accounts, cron, logind, pam, syslog, nginx.access, apache.access, nginx.error, apache.error, auditd, json, unknown."),
    _f("event.module", _STR, "VARCHAR", "Producer family: system, web, auditd, json, or a scanner/detector name."),
    _f("event.severity", _INT, "INTEGER", "Numeric severity: 1 (L1, urgent) … 3 (L3, routine); syslog severity code for log lines when known."),
    _f("event.original", _STR, "VARCHAR", "The raw input line(s), exactly as read (decoded as UTF-8 with replacement). Never empty for log events."),
    _f("event.ingested", _TS, "TIMESTAMPTZ", "When hostwarden stored the event."),
    _f("event.created", _TS, "TIMESTAMPTZ", "When the producer (agent, scanner, detector) created the record."),
    _f("message", _STR, "VARCHAR", "The human-readable message: the syslog MSG part, or the finding/alert title."),
    _f("tags", _LIST, "VARCHAR[]", "Markers such as parse_failure, invalid_utf8, truncated, year_inferred, same_attempt (a line of an "
       "SSH attempt another line already counts: the PAM line beside sshd's, a connection's closing lines)."),
    _f("labels", _MAP, "MAP(VARCHAR, VARCHAR)", "Source-native fields without an ECS home (auditd `type`, `a0`, `key`, `syscall`, …)."),
    _f("organization.id", _STR, "VARCHAR", "Tenant. Every query is filtered by it; `default` for single-tenant use."),
    _f("log.file.path", _STR, "VARCHAR", "File the line came from (or `-` for stdin, `journald`)."),
    _f("log.offset", _BIG, "BIGINT", "Byte offset of the line's first byte in its source."),
    _f("log.syslog.priority", _INT, "INTEGER", "Syslog PRI when the line carried one."),
    _f("log.syslog.facility.code", _INT, "INTEGER", "Syslog facility (PRI / 8)."),
    _f("log.syslog.severity.code", _INT, "INTEGER", "Syslog severity (PRI % 8)."),
    _f("log.level", _STR, "VARCHAR", "Level named by the source (error, warn, notice, …), e.g. in web server error logs."),
    _f("host.name", _STR, "VARCHAR", "Host the event is about: the syslog HOSTNAME, or the scanned host."),
    _f("host.id", _STR, "VARCHAR", "Stable host identifier (machine-id) when known."),
    _f("source.ip", _STR, "VARCHAR", "Remote address of the client/attacker (IPv4 or IPv6 text)."),
    _f("source.port", _INT, "INTEGER", "Remote port."),
    _f("source.domain", _STR, "VARCHAR", "Remote host name when the source gave a name instead of an address."),
    _f("destination.ip", _STR, "VARCHAR", "Local/destination address."),
    _f("destination.port", _INT, "INTEGER", "Local/destination port."),
    _f("network.transport", _STR, "VARCHAR", "tcp, udp, icmp …"),
    _f("user.name", _STR, "VARCHAR", "The account acting or authenticating (sshd user, sudo caller, auditd auid name)."),
    _f("user.id", _STR, "VARCHAR", "Numeric uid of user.name when known (auditd uid)."),
    _f("user.effective.name", _STR, "VARCHAR", "Effective user (sudo run-as, su target, auditd euid name)."),
    _f("user.effective.id", _STR, "VARCHAR", "Effective uid (auditd euid)."),
    _f("user.target.name", _STR, "VARCHAR", "Account acted upon (useradd/userdel/passwd target)."),
    _f("group.name", _STR, "VARCHAR", "Group acted upon (groupadd, usermod -G)."),
    _f("process.name", _STR, "VARCHAR", "Program name: the syslog APP-NAME/tag (sshd, sudo, mysqld), or auditd comm."),
    _f("process.pid", _BIG, "BIGINT", "Process id."),
    _f("process.parent.pid", _BIG, "BIGINT", "Parent process id (auditd ppid)."),
    _f("process.executable", _STR, "VARCHAR", "Full path of the executable (auditd exe)."),
    _f("process.command_line", _STR, "VARCHAR", "Full command line: sudo COMMAND, auditd EXECVE arguments joined, cron CMD."),
    _f("process.args", _LIST, "VARCHAR[]", "Command arguments, argv order."),
    _f("process.working_directory", _STR, "VARCHAR", "Working directory (sudo PWD, auditd CWD)."),
    _f("process.tty", _STR, "VARCHAR", "Terminal (sudo TTY, auditd tty)."),
    _f("url.original", _STR, "VARCHAR", "Request target as sent (path and query)."),
    _f("url.path", _STR, "VARCHAR", "Path part of the request target."),
    _f("url.query", _STR, "VARCHAR", "Query string without the `?`."),
    _f("url.domain", _STR, "VARCHAR", "Virtual host (vhost_combined) when logged."),
    _f("http.request.method", _STR, "VARCHAR", "HTTP method (GET, POST, …)."),
    _f("http.request.referrer", _STR, "VARCHAR", "Referer header."),
    _f("http.version", _STR, "VARCHAR", "HTTP version (1.1, 2.0)."),
    _f("http.response.status_code", _INT, "INTEGER", "HTTP status code."),
    _f("http.response.body.bytes", _BIG, "BIGINT", "Response body size in bytes."),
    _f("user_agent.original", _STR, "VARCHAR", "User-Agent header."),
    _f("file.path", _STR, "VARCHAR", "File concerned (auditd PATH name, FIM and scanner findings)."),
    _f("file.hash.sha256", _STR, "VARCHAR", "SHA-256 of file.path when computed."),
    _f("error.code", _STR, "VARCHAR", "Error code named by the source (mysqld 1213) or a hostwarden code (LOG-4101)."),
    _f("error.message", _STR, "VARCHAR", "Error text."),
    _f("rule.id", _STR, "VARCHAR", "Detection rule or policy check id (alerts, findings)."),
    _f("rule.name", _STR, "VARCHAR", "Rule or check title."),
    _f("rule.author", _STR, "VARCHAR", "Rule author (shown as the Detection Rule License asks)."),
    _f("threat.technique.id", _LIST, "VARCHAR[]", "MITRE ATT&CK technique ids (alerts)."),
    _f("threat.tactic.name", _LIST, "VARCHAR[]", "MITRE ATT&CK tactic names (alerts)."),
    _f("related.ip", _LIST, "VARCHAR[]", "Every address seen in the event."),
    _f("related.user", _LIST, "VARCHAR[]", "Every account seen in the event."),
    _f("hostwarden.detail", _STR, "VARCHAR", "Alerts: JSON working document (count, first/last, evidence excerpts, follow-up)."),
    # --- results (alerts and findings): grade, evidence, fix, scan identity (schema v3) -------------
    _f("hostwarden.grade", _STR, "VARCHAR", "L1 (urgent), L2 (important) or L3 (routine), for alerts and findings."),
    _f("hostwarden.fix", _STR, "VARCHAR", "What to do about it: a command or a configuration change."),
    _f("hostwarden.evidence", _STR, "VARCHAR", "Findings: JSON evidence (`items`: file, line, value, event ids, advisory; plus scanner details)."),
    _f("hostwarden.scan.id", _STR, "VARCHAR", "The scan a finding came from (one id per `hostwarden scan` run)."),
    _f("hostwarden.scan.target", _STR, "VARCHAR", "What that scan looked at: the root folder or the image."),
    _f("hostwarden.finding.fingerprint", _STR, "VARCHAR", "Same scanner, rule and subject = same fingerprint across scans of a host."),
    _f("hostwarden.finding.status", _STR, "VARCHAR", "Against the previous scan of the same target: new, open (still there) or fixed."),
    _f("hostwarden.priority_reason", _STR, "VARCHAR", "Why a finding got its grade (CVSS, KEV, exposure …)."),
    _f("hostwarden.incident.kind", _STR, "VARCHAR", "Incidents: intrusion (alerts sharing entities) or campaign (one kind of alert from many sources)."),
    _f("hostwarden.incident.status", _STR, "VARCHAR", "Incidents: open, or merged into another incident."),
    _f("hostwarden.incident.priority", _STR, "VARCHAR", "Incidents: P0 (15 min) … P3 (4 h), the service level of its grade."),
    _f("hostwarden.incident.deadline", _TS, "TIMESTAMPTZ", "Incidents: when the service level runs out (opened or raised + the level's time)."),
    _f("hostwarden.incident.alerts", _BIG, "BIGINT", "Incidents: how many alerts joined it."),
    _f("hostwarden.incident.reason", _STR, "VARCHAR", "Incidents: why it has its grade (grading rule, alert, threshold)."),
    _f("hostwarden.mlps", _LIST, "VARCHAR[]", "China MLPS 2.0 (GB/T 22239) clauses a baseline check maps to."),
    _f("hostwarden.cis", _LIST, "VARCHAR[]", "CIS benchmark items a baseline check maps to."),
    _f("rule.ruleset", _STR, "VARCHAR", "Policy or rule pack the rule belongs to."),
    _f("rule.reference", _STR, "VARCHAR", "Reference for the rule (benchmark item, advisory URL)."),
    _f("package.name", _STR, "VARCHAR", "Package name (OS package, library, or the package a log line installed)."),
    _f("package.version", _STR, "VARCHAR", "Package version as the package manager writes it."),
    _f("package.type", _STR, "VARCHAR", "Ecosystem: deb, rpm, apk, PyPI, npm, Go, Maven, …"),
    _f("package.path", _STR, "VARCHAR", "Where the package was found (database or lockfile path)."),
    _f("vulnerability.id", _STR, "VARCHAR", "Advisory id (CVE-…, GHSA-…, PYSEC-…, DSA-…)."),
    _f("vulnerability.enumeration", _STR, "VARCHAR", "The id's scheme: CVE, GHSA, PYSEC, …"),
    _f("vulnerability.description", _STR, "VARCHAR", "Advisory summary."),
    _f("vulnerability.reference", _STR, "VARCHAR", "First advisory reference URL."),
    _f("vulnerability.scanner.vendor", _STR, "VARCHAR", "Who found it: hostwarden."),
    _f("vulnerability.category", _LIST, "VARCHAR[]", "e.g. malicious, for a known-malicious package."),
    _f("vulnerability.classification", _STR, "VARCHAR", "Scoring system: CVSS."),
    _f("vulnerability.severity", _STR, "VARCHAR", "Published severity label: CRITICAL, HIGH, MEDIUM, LOW."),
    _f("vulnerability.score.base", _FLOAT, "DOUBLE", "CVSS base score."),
    _f("vulnerability.score.version", _STR, "VARCHAR", "CVSS version of the score."),
    _f("hostwarden.vuln.aliases", _LIST, "VARCHAR[]", "Other ids of the same advisory."),
    _f("hostwarden.vuln.cve", _LIST, "VARCHAR[]", "CVE ids among the advisory id and its aliases."),
    _f("hostwarden.vuln.fixed_version", _STR, "VARCHAR", "First version that fixes it, when one exists."),
    _f("hostwarden.vuln.status", _STR, "VARCHAR", "fixed (a fix exists), no_fix, will_not_fix, …"),
    _f("hostwarden.vuln.kev", _BOOL, "BOOLEAN", "Listed in CISA's Known Exploited Vulnerabilities catalog."),
    _f("hostwarden.vuln.malicious", _BOOL, "BOOLEAN", "The package itself is malicious (OSV MAL- advisories)."),
    _f("hostwarden.vuln.source_package", _STR, "VARCHAR", "Source package of an OS binary package (dpkg Source:)."),
    _f("hostwarden.vuln.source_version", _STR, "VARCHAR", "Source package version."),
    _f("hostwarden.vuln.cvss_vector", _STR, "VARCHAR", "CVSS vector string."),
    _f("hostwarden.vuln.severity_source", _STR, "VARCHAR", "Where the score came from (advisory, NVD, distribution)."),
)

FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
ARROW_SCHEMA: pa.Schema = pa.schema([pa.field(f.name, f.type) for f in FIELDS])

DEFAULT_TENANT = "default"


def quote_ident(name: str) -> str:
    """Quote a known column name for SQL. Unknown names are refused, never interpolated."""
    if name not in FIELD_BY_NAME:
        raise KeyError(name)
    return '"' + name + '"'


def event_id(source: str, offset: int, original: str) -> str:
    """The content hash that makes ingest idempotent: over the stored `event.original` text.

    Must equal `event_id_sql` below, which the store evaluates inside DuckDB.
    """
    text = f"{source}\x1f{offset}\x1f{original}"
    # MD5 here is an identity for deduplication, not a security control: a collision would need
    # the same source and byte offset, and it runs at twice SHA-256's speed at a million lines/s.
    return hashlib.md5(text.encode("utf-8", "replace"), usedforsecurity=False).hexdigest()


def event_id_sql(source: str, offset: str, original: str) -> str:
    """The same hash as an SQL expression over the three given SQL expressions."""
    return f"md5({source} || chr(31) || CAST({offset} AS VARCHAR) || chr(31) || {original})"


def now_utc() -> datetime:
    return datetime.now(UTC)


def to_arrow(events: list[dict[str, Any]]) -> pa.Table:
    """Build an Arrow table in ARROW_SCHEMA from flat event dicts; unknown keys go to `labels`."""
    columns: dict[str, list[Any]] = {name: [] for name in FIELD_NAMES}
    for ev in events:
        extra: dict[str, str] = {}
        for key, value in ev.items():
            if key not in FIELD_BY_NAME and value is not None:
                extra[key] = value if isinstance(value, str) else str(value)
        labels = ev.get("labels") or {}
        if extra:
            labels = {**extra, **labels}
        for name in FIELD_NAMES:
            if name == "labels":
                columns[name].append(list(labels.items()) if labels else None)
            else:
                columns[name].append(ev.get(name))
    arrays = []
    for field in FIELDS:
        values = columns[field.name]
        if field.type == _STR:
            values = [None if v is None else v if isinstance(v, str) else _as_text(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def _as_text(value: Any) -> str:
    """A non-text value bound for a text column: structures as JSON, the rest as str."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return str(value)
