"""Lower bounds under ``hostwarden ingest`` on this machine: DuckDB doing a fraction of the work.

Why: issue 2's ingest targets (≥ 20× fail2ban-regex, within 30× of ``grep -c``) leave about
3 s for a 1M-line auth.log on 2 cores. These steps run in plain DuckDB on every core, with
none of hostwarden's code, and each does strictly less than an ingest must do. When a step
already misses a target, no ingest built on DuckDB can meet it; ``bench_ingest.py`` puts them
in its table beside the real figures.

    python bench/floor.py read|store|parse FILE OUT.parquet

- ``read``: read the lines and count them (no parse, nothing stored).
- ``store``: every raw line with a content id (md5 of path and line) to one
  zstd Parquet file: storage alone, no parsing.
- ``parse``: ``store`` plus the syslog header cut with string functions, its timestamp, and
  one sshd regex with five groups — where an ingest runs 32 patterns, year inference, time
  zones, sessions, labels and deduplication.
"""

from __future__ import annotations

import sys

import duckdb

STEPS = ("read", "store", "parse")


# The file's path is the variable `path` (SET VARIABLE): COPY takes no bound parameters.
# One VARCHAR column per line: no delimiter, quote or escape the data could contain.
LINES = ("SELECT line FROM read_csv(getvariable('path'), columns={'line': 'VARCHAR'}, "
         "delim=chr(1), quote='', escape='', header=false, auto_detect=false)")
# The id hashes path and line only: numbering the lines (row_number) would run on one core.
IDENT = "md5(getvariable('path') || chr(31) || line)"
# Composed of the constants above only; the path and output travel as variables.
SQL = {
    "read": f"SELECT count(*) FROM ({LINES})",  # noqa: S608
    "store": f"SELECT {IDENT} AS id, line AS original FROM ({LINES})",  # noqa: S608
    "parse": f"""
        SELECT id, try_strptime('2026 ' || left(line, 15), '%Y %b %d %H:%M:%S') AS ts,
          split_part(rest, ' ', 1) AS host, h.prog AS prog, TRY_CAST(h.pid AS INTEGER) AS pid, h.msg AS message,
          regexp_extract(h.msg, '^(Failed|Accepted) (\\S+) for (?:invalid user )?(\\S*) from (\\S+) port (\\d+)',
                         ['outcome', 'method', 'user', 'ip', 'port']) AS sshd,
          line AS original
        FROM (SELECT *, regexp_extract(rest, '^\\S+ ([^\\[:]+)(?:\\[(\\d+)\\])?: (.*)$', ['prog', 'pid', 'msg']) AS h
              FROM (SELECT {IDENT} AS id, line, substr(line, 17) AS rest FROM ({LINES})))""",  # noqa: S608
}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in STEPS:
        print(__doc__.split("\n\n")[2], file=sys.stderr)
        return 2
    step, path, out = argv
    con = duckdb.connect()
    con.execute("SET VARIABLE path = ?", [path])
    con.execute("SET VARIABLE out = ?", [out])
    if step == "read":
        print(con.execute(SQL[step]).fetchall()[0][0])
    else:
        written = con.execute(f"COPY ({SQL[step]}) TO (getvariable('out')) (FORMAT parquet, COMPRESSION zstd)")
        print(written.fetchall()[0][0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
