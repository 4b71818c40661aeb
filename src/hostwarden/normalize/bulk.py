"""Columnar parsing: the same framings and patterns as the per-line parsers, run inside DuckDB.

Python regex per line tops out near 100k lines/s; DuckDB runs RE2 over Arrow columns on every
core. The plan for a chunk of lines:

  raw(off, original, line_tags)
    → framing: a CASE picks the first framing whose regex matches (cheap DFA test), then a
      CASE on it extracts that framing's groups into one struct (string functions for the
      common RFC 3164 header, RE2 for the rest)
    → program family → first matching pattern index `k` (same order as PatternSet.match);
      all of this is one statement, materialised once as `hw_stage`
    → one branch per pattern extracts its groups → one projection into the event schema.

Literals travel as bound parameters; regexes and group names are inlined (see _extract). tests/unit/normalize/test_bulk_agrees.py
checks this path against the per-line parsers event by event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from hostwarden.core.schema import FIELD_BY_NAME, FIELDS
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.bulk_sessions import GUESSED, guess_attempts
from hostwarden.normalize.bulk_sessions import carry as carry_sessions
from hostwarden.normalize.localtime import LocalToUtc, utc_sql
from hostwarden.normalize.patterns import (
    Pattern,
    group_to_field,
    required_literal,
    sql_cast,
    sql_string,
    table_kind,
)
from hostwarden.normalize.sessions import FAILED_ACTION, SAME_ATTEMPT, SESSION_DATASETS
from hostwarden.normalize.state import ParseState
from hostwarden.normalize.syslog import (
    FAST_3164,
    FAST_3164_UNSAFE,
    FRAMINGS,
    GENERIC_PATTERNS,
    IP_SHAPE,
    PROGRAM_PATTERNS,
)

_MONTHS = "['Jan','Feb','Mar','Apr','May','Jun','Jul','Aug','Sep','Oct','Nov','Dec']"
_FIRST_US, _LAST_US = -62_135_596_800_000_000, 253_402_300_799_999_999  # 0001-01-01 .. 9999-12-31T23:59:59.999999Z


@dataclass
class _Sql:
    """Accumulates SQL text and its positional parameters together."""

    params: list[Any] = field(default_factory=list)

    def p(self, value: Any) -> str:
        # Numbered, so one placeholder may appear several times in the text.
        self.params.append(value)
        return f"${len(self.params)}"


def _names(regex: str) -> list[str]:
    import re

    index = re.compile(regex).groupindex
    return sorted(index, key=index.__getitem__)


def _extract(column: str, regex: str) -> str:
    # DuckDB needs the pattern and group names as constants at bind time, so rule data (never
    # user input) is inlined as escaped literals here.
    names = _names(regex)
    name_list = "[" + ", ".join(sql_string(n) for n in names) + "]"
    return f"regexp_extract({column}, {sql_string(regex)}, {name_list})"


def _with_header_group(regex: str) -> str:
    assert regex.startswith("^")
    return "^(?P<hdr>" + regex[1:] + ")"


@dataclass(frozen=True)
class _Numbered:
    k: int
    dataset: str
    pattern: Pattern


def _pattern_table(numbered: list[_Numbered]) -> pa.Table:
    def constants_map(p: Pattern) -> list[tuple[str, str]]:
        unsupported = set(p.constants) & (set(FIELD_BY_NAME) - {"user.name"})
        if unsupported:
            raise ValueError(f"{p.action}: constant schema fields other than user.name: {unsupported}")
        return [(k, v) for k, v in p.constants.items() if k != "user.name"]

    return pa.table(
        {
            "k": pa.array([n.k for n in numbered], pa.int32()),
            "p_dataset": [n.dataset for n in numbered],
            "p_action": [n.pattern.action for n in numbered],
            "p_outcome": [n.pattern.outcome for n in numbered],
            "p_category": pa.array([list(n.pattern.category) or None for n in numbered], pa.list_(pa.string())),
            "p_type": pa.array([list(n.pattern.type) or None for n in numbered], pa.list_(pa.string())),
            "p_labels": pa.array([constants_map(n.pattern) or None for n in numbered], pa.map_(pa.string(), pa.string())),
            "p_user": [n.pattern.constants.get("user.name") for n in numbered],
        }
    )


def _case_pattern(q: _Sql, numbered: list[_Numbered], family_of: dict[int, str]) -> str:
    """The first matching pattern index, as PatternSet.match picks it.

    Nested by program family: a line only tries its own family's patterns (then the generic
    ones), instead of walking every WHEN of every family.
    """

    def when(n: _Numbered) -> str:
        prefix, literal = n.pattern.prefix, required_literal(n.pattern.regex)
        conds = [f"starts_with(msg, {q.p(prefix)})"] if prefix else []
        if literal and literal not in prefix:  # a substring test fails far cheaper than the regex
            conds.append(f"contains(msg, {q.p(literal)})")
        conds.append(f"regexp_matches(msg, {sql_string(n.pattern.regex)})")
        return f"WHEN {' AND '.join(conds)} THEN {n.k}"

    families: dict[str, list[_Numbered]] = {}
    generic: list[_Numbered] = []
    for n in numbered:
        fam = family_of.get(n.k)
        (families.setdefault(fam, []) if fam is not None else generic).append(n)
    parts = []
    if families:
        inner = " ".join(
            f"WHEN {q.p(fam)} THEN CASE {' '.join(when(n) for n in members)} END"
            for fam, members in families.items()
        )
        parts.append(f"CASE fam {inner} END")
    if generic:
        parts.append(f"CASE {' '.join(when(n) for n in generic)} END")
    if not parts:
        return "NULL"
    return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"


class BulkSyslog:
    """Compiles the syslog family once; `parse` runs it on an Arrow table of lines."""

    def __init__(self) -> None:
        numbered: list[_Numbered] = []
        family_of: dict[int, str] = {}
        self.programs: dict[str, str] = {}
        seen: dict[int, str] = {}
        for program, pset in PROGRAM_PATTERNS.items():
            self.programs[program] = pset.dataset
            if id(pset) in seen:
                continue
            seen[id(pset)] = pset.dataset
            for p in pset.patterns:
                n = _Numbered(len(numbered) + 1, pset.dataset, p)
                numbered.append(n)
                family_of[n.k] = pset.dataset
        for pset in GENERIC_PATTERNS:
            for p in pset.patterns:
                numbered.append(_Numbered(len(numbered) + 1, pset.dataset, p))
        self.numbered = numbered
        self.family_of = family_of
        # patterns that capture a client address (what the plan's attempt guess reads)
        self.addressing = [n.k for n in numbered if {"source__ip", "source__domain"} & set(
            _names(n.pattern.regex) + (_names(n.pattern.fast) if n.pattern.fast else []))]
        self.pattern_table = _pattern_table(numbered)
        self.program_table = pa.table(
            {"program": list(self.programs), "fam": list(self.programs.values())}
        )

    def parse(self, con: duckdb.DuckDBPyConnection, raw: pa.Table, ctx: ParseContext, out: str = "hw_out",
              state: ParseState | None = None) -> str:
        """Parse `raw` (off, original, line_tags) into temp table `out` (ARROW_SCHEMA columns, no
        identity fields), then carry session facts from `state` (updated in place; None: this
        chunk stands alone). The result stays inside DuckDB: the store appends from it directly."""
        self.extract(con, raw, ctx, out)
        self.carry(con, out, state if state is not None else ParseState())
        return out

    def carry(self, con: duckdb.DuckDBPyConnection, out: str, state: ParseState) -> None:
        """What lines carry to later lines (normalize.bulk_sessions), over a parsed chunk in
        `out`. Separate from `extract` so that chunks of one source can be extracted side by
        side and carried strictly in order."""
        carry_sessions(con, out, state)

    def extract(self, con: duckdb.DuckDBPyConnection, raw: pa.Table, ctx: ParseContext, out: str = "hw_out") -> str:
        """Each line on its own: framing, time, program and pattern fields into table `out`."""
        con.register("hw_raw", raw)
        con.register("hw_patterns", self.pattern_table)
        con.register("hw_programs", self.program_table)
        try:
            q = _Sql()
            con.execute(self._dispatch_sql(q, ctx), q.params).fetchall()
            present, years = con.execute("SELECT list(DISTINCT k), list(DISTINCT year(local_ts)) FROM hw_stage").fetchall()[0]
            zone = utc_sql(ctx.tz, {y for y in years or () if y is not None})
            if zone.table is not None:
                con.register("hw_zone", zone.table)
            q = _Sql()
            con.register(GUESSED, guess_attempts(con.sql(self._failures_sql(q, zone), params=q.params).to_arrow_table()))
            q = _Sql()
            con.execute(f"CREATE OR REPLACE {table_kind(out)} {out} AS {self._extract_sql(q, set(present or ()), zone)}",
                        q.params).fetchall()
            return out
        finally:
            for name in ("hw_raw", "hw_patterns", "hw_programs", "hw_zone"):
                con.unregister(name)  # unregistering a name never registered is a no-op
            con.execute("DROP TABLE IF EXISTS hw_stage").fetchall()

    def _framing_sql(self) -> str:
        """Lines with the framing that matched first, its groups as columns (all VARCHAR; a
        group the framing lacks is NULL, one that took no part is '', as regexp_extract gives).

        The common `Mon DD HH:MM:SS host prog[pid]: ` header (fr = -1) is cut with string
        functions, which cost a fraction of RE2's group extraction: once FAST_3164 matched, its
        first ': ' ends the header (the time's colons are followed by digits, host and program
        hold none) and the rest splits on single spaces."""
        fast = (f"WHEN regexp_matches(original, {sql_string(FAST_3164)}) "
                f"AND NOT regexp_matches(original, {sql_string(FAST_3164_UNSAFE)}) THEN -1 ")
        whens = fast + " ".join(
            f"WHEN regexp_matches(original, {sql_string(f.regex)}) THEN {i}" for i, f in enumerate(FRAMINGS)
        )
        names = ["hdr", *dict.fromkeys(n for f in FRAMINGS for n in _names(f.regex))]
        struct_type = "STRUCT(" + ", ".join(f'"{n}" VARCHAR' for n in names) + ")"
        cut = {
            "hdr": "left(original, colon + 1)",
            "mon": "left(original, 3)",
            "day": "parts[1]",
            "hms": "parts[2]",
            "host": "parts[3]",
            "prog": "split_part(parts[4], '[', 1)",
            "pid": "rtrim(split_part(parts[4], '[', 2), ']')",
        }
        fast_struct = f"CAST(struct_pack({', '.join(f'{n} := {e}' for n, e in cut.items())}) AS {struct_type})"
        branches = " ".join(
            f"WHEN {i} THEN CAST({_extract('original', _with_header_group(f.regex))} AS {struct_type})"
            for i, f in enumerate(FRAMINGS)
        )
        split = "string_split(ltrim(substr(original, 4, colon - 4)), ' ')"
        return (
            f"SELECT off, original, line_tags, fr, g.* FROM (SELECT off, original, line_tags, fr, "
            f"CASE fr WHEN -1 THEN {fast_struct} {branches} END AS g FROM (SELECT *, "
            f"CASE WHEN fr = -1 THEN {split} END AS parts FROM (SELECT *, "
            f"CASE WHEN fr = -1 THEN strpos(original, ': ') END AS colon FROM (SELECT off, original, line_tags, "
            f"CASE {whens} END AS fr FROM hw_raw))))"
        )

    def _dispatch_sql(self, q: _Sql, ctx: ParseContext) -> str:
        ref_local = ctx.reference_time.astimezone(ctx.tz).replace(tzinfo=None)
        year_expr = "COALESCE(TRY_CAST(NULLIF(y1,'') AS INTEGER), TRY_CAST(NULLIF(y2,'') AS INTEGER))"
        frac = "COALESCE(TRY_CAST(rpad(left(NULLIF(frac,''), 6), 6, '0') AS DOUBLE) / 1e6, 0)"
        # Over hms_p, mon_n and year_x, which the innermost subquery below computes once per line.
        local = (
            "TRY(make_timestamp({y}, mon_n, TRY_CAST(day AS INTEGER), "
            f"TRY_CAST(hms_p[1] AS INTEGER), TRY_CAST(hms_p[2] AS INTEGER), TRY_CAST(hms_p[3] AS INTEGER) + {frac}))"
        )
        ref = q.p(ref_local)
        local_prev_year = local.format(y=q.p(ref_local.year - 1))
        local_explicit = local.format(y="year_x")
        ts3164 = (
            f"CASE WHEN year_x IS NOT NULL THEN {local_explicit} "
            f"WHEN local_ref > CAST({ref} AS TIMESTAMP) + INTERVAL 1 DAY THEN {local_prev_year} "
            "ELSE local_ref END"
        )
        times = (
            f"SELECT *, {local.format(y=q.p(ref_local.year))} AS local_ref FROM (SELECT *, "
            f"string_split(hms, ':') AS hms_p, list_position({_MONTHS}, mon) AS mon_n, {year_expr} AS year_x "
            f"FROM ({self._framing_sql()}))"
        )
        # A time that names its zone is absolute; the others are wall-clock times, made UTC in
        # `_extract_sql` once the chunk's years are known (normalize.localtime).
        zoned = "NULLIF(iso, '') IS NOT NULL AND regexp_matches(iso, '(Z|[+-]\\d\\d:?\\d\\d)$')"
        zoned_ts = (f"CASE WHEN {zoned} AND epoch_us(TRY_CAST(iso AS TIMESTAMPTZ)) BETWEEN {_FIRST_US} AND {_LAST_US} "
                    "THEN TRY_CAST(iso AS TIMESTAMPTZ) END")  # Python's datetime holds years 1..9999 only
        local_ts = (
            f"CASE WHEN {zoned} THEN NULL WHEN NULLIF(iso, '') IS NOT NULL THEN TRY_CAST(iso AS TIMESTAMP) "
            f"WHEN NULLIF(mon, '') IS NOT NULL THEN {ts3164} END"
        )
        inferred = "NULLIF(mon, '') IS NOT NULL AND year_x IS NULL"
        prog_key = ("lower(CASE WHEN contains(prog, '(') THEN regexp_replace(NULLIF(NULLIF(prog, ''), '-'), "
                    "'\\(.*\\)$', '') ELSE NULLIF(NULLIF(prog, ''), '-') END)")
        return (
            "CREATE OR REPLACE TEMP TABLE hw_stage AS SELECT f.*, hw_programs.fam AS fam, "
            f"{_case_pattern(q, self.numbered, self.family_of)} AS k FROM ("
            "SELECT off, original, line_tags, fr, "
            "CASE WHEN fr IS NOT NULL THEN substr(original, length(hdr) + 1) END AS msg, "
            f"{zoned_ts} AS zoned_ts, {local_ts} AS local_ts, {inferred} AS year_inferred, "
            "TRY_CAST(NULLIF(pri, '') AS INTEGER) AS pri_n, NULLIF(NULLIF(host, ''), '-') AS host_s, "
            "NULLIF(NULLIF(prog, ''), '-') AS prog_s, "
            "CASE WHEN regexp_matches(pid, '^\\d{1,18}$') THEN TRY_CAST(pid AS BIGINT) END AS pid_n, "
            f"{prog_key} AS prog_key FROM ({times})) f "
            "LEFT JOIN hw_programs ON hw_programs.program = f.prog_key"
        )

    def _failures_sql(self, q: _Sql, zone: LocalToUtc) -> str:
        """The chunk's sshd failure lines (off, host, pid, t µs, failed_line, addressed: does
        the line's pattern capture an address), on which the attempt rule is guessed as if the
        chunk stood alone (normalize.bulk_sessions): a narrow projection, so the lines
        repeating an attempt are tagged as their tags are made, not updated after."""
        datasets = ", ".join(q.p(d) for d in SESSION_DATASETS)
        return (
            f"SELECT off, host_s AS host, pid_n AS pid, epoch_us(COALESCE(zoned_ts, {zone.utc_sql('local_ts', q.p)})) AS t, "
            f"COALESCE(p_action = {q.p(FAILED_ACTION)}, FALSE) AS failed_line, "
            f"list_contains({q.p(self.addressing)}, k) AS addressed "
            "FROM hw_stage s LEFT JOIN hw_patterns USING (k)"
            + (" ASOF LEFT JOIN hw_zone ON s.local_ts >= hw_zone.start" if zone.needs_join else "")
            + f" WHERE fr IS NOT NULL AND prog_s IS NOT NULL AND pid_n IS NOT NULL AND p_outcome = 'failure' "
            f"AND COALESCE(fam, p_dataset, 'syslog') IN ({datasets})"
        )

    def _labels_sql(self, q: _Sql, present: set[int | None]) -> str:
        """The pattern's constant labels plus its non-empty extra groups. Patterns that share a
        set of extra groups share one branch, so a line tests only its own pattern's groups."""
        constant = "p_labels"
        by_groups: dict[tuple[str, ...], list[int]] = {}
        for n in self.numbered:
            groups = _extra_groups(n.pattern)
            if n.k in present and groups:
                by_groups.setdefault(groups, []).append(n.k)
        whens = []
        for groups, ks in by_groups.items():
            entries = ", ".join(
                f"struct_pack(key := {q.p(group_to_field(g))}, value := NULLIF(u.\"{g}\", ''))" for g in groups
            )
            any_set = " OR ".join(f"NULLIF(u.\"{g}\", '') IS NOT NULL" for g in groups)
            whens.append(
                f"WHEN k IN ({', '.join(map(str, ks))}) AND ({any_set}) THEN map_from_entries(list_concat("
                f"list_filter([{entries}], lambda e: e.value IS NOT NULL), COALESCE(map_entries({constant}), [])))"
            )
        return f"CASE {' '.join(whens)} ELSE {constant} END" if whens else constant

    def _extract_sql(self, q: _Sql, present: set[int | None], zone: LocalToUtc) -> str:
        group_fields: dict[str, str] = {}
        whens: list[tuple[int, str | None, str]] = []  # (k, guard regex, extracting regex)
        for n in self.numbered:
            names = _names(n.pattern.regex)
            if n.k not in present or not names:
                continue
            for g in names + (_names(n.pattern.fast) if n.pattern.fast else []):
                group_fields[g] = group_to_field(g)
            if n.pattern.fast:
                whens.append((n.k, n.pattern.fast, n.pattern.fast))
            whens.append((n.k, None, n.pattern.regex))
        # One pass: each line runs exactly the one regex its pattern index picked, and every
        # pattern's groups are cast by name into one struct (groups a pattern lacks are NULL).
        if whens:
            struct_type = "STRUCT(" + ", ".join(f'"{g}" VARCHAR' for g in group_fields) + ")"
            cases = " ".join(
                f"WHEN k = {k}{f' AND regexp_matches(msg, {sql_string(guard)})' if guard else ''} "
                f"THEN CAST({_extract('msg', regex)} AS {struct_type})"
                for k, guard, regex in whens
            )
            union = f"(SELECT * EXCLUDE (x), x.* FROM (SELECT *, CASE {cases} END AS x FROM hw_stage))"
        else:
            union = "hw_stage"

        def grp(field_name: str) -> str | None:
            gs = [g for g, f in group_fields.items() if f == field_name]
            if not gs:
                return None
            return "COALESCE(" + ", ".join(sql_cast(field_name, f'u."{g}"') for g in gs) + ")" if len(gs) > 1 else sql_cast(field_name, f'u."{gs[0]}"')

        ip_raw = grp("source.ip") or "NULL"
        ip_ok = f"regexp_matches({ip_raw}, {sql_string(IP_SHAPE)})"
        labels_expr = self._labels_sql(q, present)
        constant_user = "p_user"
        columns: dict[str, str] = {
            "@timestamp": f"COALESCE(zoned_ts, {zone.utc_sql('local_ts', q.p)})",
            "event.kind": "'event'",
            "event.category": "p_category",
            "event.type": "p_type",
            "event.action": "p_action",
            "event.outcome": "p_outcome",
            "event.dataset": "CASE WHEN fr IS NULL THEN 'syslog' ELSE COALESCE(fam, p_dataset, 'syslog') END",
            "event.original": "original",
            "message": "COALESCE(msg, original)",
            "log.offset": "off",
            "log.syslog.priority": "CASE WHEN pri_n < 192 THEN pri_n END",
            "log.syslog.facility.code": "CASE WHEN pri_n < 192 THEN pri_n // 8 END",
            "log.syslog.severity.code": "CASE WHEN pri_n < 192 THEN pri_n % 8 END",
            "host.name": "host_s",
            "process.name": "prog_s",
            "process.pid": "CASE WHEN prog_s IS NOT NULL THEN pid_n END",
        }
        for spec in FIELDS:
            if spec.name in columns or spec.name == "labels":
                continue
            expr = grp(spec.name)
            if expr is not None:
                columns[spec.name] = expr
        columns["error.code"] = f"COALESCE({grp('error.code') or 'NULL'}, CASE WHEN fr IS NULL THEN 'LOG-4101' END)"
        columns["source.ip"] = f"CASE WHEN {ip_ok} THEN {ip_raw} END"
        domain = grp("source.domain") or "NULL"
        columns["source.domain"] = f"COALESCE({domain}, CASE WHEN NOT {ip_ok} THEN {ip_raw} END)"
        if "user.name" in columns:
            columns["user.name"] = f"COALESCE({columns['user.name']}, {constant_user})"
        else:
            columns["user.name"] = constant_user
        # a line repeating an attempt (normalize.sessions) is tagged as its tags are made: a CASE
        # over constant lists costs next to nothing, where updating the rows after would not
        same = q.p(SAME_ATTEMPT)
        own_tags = (f"CASE WHEN fr IS NULL THEN ['parse_failure'] WHEN a_same AND year_inferred THEN [{same}, 'year_inferred'] "
                    f"WHEN year_inferred THEN ['year_inferred'] WHEN a_same THEN [{same}] END")
        columns["tags"] = (
            f"CASE WHEN line_tags IS NULL THEN {own_tags} "
            f"ELSE list_sort(list_distinct(list_concat(line_tags, COALESCE({own_tags}, [])))) END"
        )
        columns["labels"] = labels_expr
        projected = ", ".join(f'{expr} AS "{name}"' for name, expr in columns.items())
        # Only the columns this plan can fill: the store inserts BY NAME, so the many fields a
        # syslog line never has are not materialised twice (wide NULL columns cost real time).
        for always in ("source.port", "user.name"):  # read by the session carry and the store
            columns.setdefault(always, "NULL")
        final_cols = [f'CAST({_quoted_or_null(f.name, columns)} AS {f.sql}) AS "{f.name}"' for f in FIELDS if f.name in columns]
        return (
            f"SELECT {', '.join(final_cols)} FROM "
            f"(SELECT {projected} FROM {union} u LEFT JOIN hw_patterns USING (k)"
            + (" ASOF LEFT JOIN hw_zone ON u.local_ts >= hw_zone.start" if zone.needs_join else "")
            # only the lines to tag: the join's table is the few repeats, not every failure line
            + f" LEFT JOIN (SELECT off AS a_off, TRUE AS a_same FROM {GUESSED} WHERE same) a ON a.a_off = u.off)"
        )




def _extra_groups(pattern: Pattern) -> tuple[str, ...]:
    """A pattern's groups without a schema field: they become `labels` entries."""
    names = _names(pattern.regex) + (_names(pattern.fast) if pattern.fast else [])
    return tuple(sorted({g for g in names if group_to_field(g) not in FIELD_BY_NAME}))


def _quoted_or_null(name: str, columns: dict[str, str]) -> str:
    return "NULL" if columns[name] == "NULL" else f'"{name}"'
