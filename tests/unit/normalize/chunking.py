"""Reading files the way ingest and watch do, for agreement tests: each file cut into chunks of
whole lines, the files' chunks read in turn, one normalizer (and so one `ParseState`) per file,
each chunk by the executor drawn for it."""

from __future__ import annotations

from typing import Any

import duckdb

from hostwarden.core.chunks import Chunk
from hostwarden.core.schema import FIELD_NAMES
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.source import SourceNormalizer


def cut(source: str, data: bytes, points: list[float]) -> list[Chunk]:
    """Chunks of whole lines, cut after the line at each point (a fraction of the data)."""
    ends = sorted({data.rfind(b"\n", 0, max(1, int(p * len(data)) + 1)) + 1 for p in points} - {0}) + [len(data)]
    chunks, start = [], 0
    for end in ends:
        if end > start:
            chunks.append(Chunk(source, start, data[start:end]))
            start = end
    return chunks


def read_in_turn(files: dict[str, bytes], parser: str, ctx: ParseContext, points: list[float],
                 columnar: list[bool]) -> dict[str, list[dict[str, Any]]]:
    """Each file's rows in file order (every schema field; labels as a dict)."""
    con = duckdb.connect()
    pieces = {source: cut(source, data, points) for source, data in files.items()}
    normalizers = {source: SourceNormalizer(source, parser, ctx) for source in files}
    rows: dict[str, list[dict[str, Any]]] = {source: [] for source in files}
    turn = 0
    for round_ in range(max(len(p) for p in pieces.values())):
        for source, chunks in pieces.items():
            if round_ < len(chunks):
                bulk = columnar[turn % len(columnar)]
                turn += 1
                name = normalizers[source].normalize_into(chunks[round_], con, "t", bulk_min_lines=0 if bulk else 10**9)
                rows[source] += [comparable(r) for r in con.sql(f'SELECT * FROM {name} ORDER BY "log.offset"')
                                 .to_arrow_table().to_pylist()]
    return rows


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    """Every schema field of a row (absent columns as None), labels as a dict."""
    return {f: (dict(row.get(f) or []) if f == "labels" else row.get(f)) for f in FIELD_NAMES}
