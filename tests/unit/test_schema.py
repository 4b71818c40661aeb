from pathlib import Path

import duckdb
import pyarrow as pa

from hostwarden.core.schema import ARROW_SCHEMA, FIELDS, event_id, event_id_sql, quote_ident, to_arrow

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def test_every_field_is_documented():
    text = DOCS.read_text(encoding="utf-8")
    missing = [f.name for f in FIELDS if f"| `{f.name}` |" not in text]
    assert missing == []


def test_python_and_sql_event_ids_agree():
    con = duckdb.connect()
    for source, offset, original in [("/var/log/auth.log", 0, "x"), ("-", 123456789, "héllo \ufffd wörld"), ("a", 7, "")]:
        sql = "SELECT " + event_id_sql("$1", "$2", "$3")
        assert con.execute(sql, [source, offset, original]).fetchall()[0][0] == event_id(source, offset, original)


def test_event_id_changes_with_each_part():
    base = event_id("a.log", 10, "line")
    assert len({base, event_id("b.log", 10, "line"), event_id("a.log", 11, "line"), event_id("a.log", 10, "line2")}) == 4


def test_to_arrow_keeps_unknown_keys_as_labels():
    table = to_arrow([{"event.id": "x", "source.port": 22, "a0": "1", "key": "exec", "event.category": ["process"]}])
    assert table.schema == ARROW_SCHEMA
    row = table.to_pylist()[0]
    assert dict(row["labels"]) == {"a0": "1", "key": "exec"}
    assert row["source.port"] == 22 and row["event.category"] == ["process"]


def test_quote_ident_refuses_unknown_names():
    assert quote_ident("source.ip") == '"source.ip"'
    for hostile in ['x" OR 1=1 --', "nope", ""]:
        try:
            quote_ident(hostile)
        except KeyError:
            continue
        raise AssertionError(f"accepted {hostile!r}")


def test_arrow_schema_matches_field_list():
    assert [f.name for f in ARROW_SCHEMA] == [f.name for f in FIELDS]
    assert isinstance(ARROW_SCHEMA, pa.Schema)
