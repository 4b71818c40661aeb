"""JSON lines: ECS passthrough, typing, identity protection, and hostile records that never raise."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostwarden.core.chunks import Chunk
from hostwarden.core.schema import to_arrow
from hostwarden.normalize.base import ParseContext, RawLine
from hostwarden.normalize.jsonl import MAX_DEPTH, MAX_KEYS, JsonLinesParser, flatten, parse_time
from hostwarden.pipelines.ingest import ingest_chunks
from hostwarden.store.eventstore import EventStore

CTX = ParseContext(source="/var/log/app/events.jsonl")


def parse(text: str) -> dict:
    (ev,) = JsonLinesParser().parse_batch([RawLine(42, text)], CTX)
    assert ev["event.original"] == text and ev["log.offset"] == 42  # every record keeps its raw text
    return ev


def failed(ev: dict) -> bool:
    return "parse_failure" in (ev.get("tags") or [])


def test_nested_and_dotted_ecs_fields_pass_through():
    ev = parse(json.dumps({
        "@timestamp": "2026-11-28T10:00:00.123456789Z",
        "event": {"kind": "event", "dataset": "falco", "category": "process", "action": "spawned_shell"},
        "process.name": "bash", "process": {"pid": "4242", "args": ["bash", "-i"]},
        "source": {"ip": "203.0.113.9", "port": 4444},
        "labels": {"env": "prod", "n": 3},
        "rule": {"name": "Terminal shell in container"},
        "custom": {"deep": {"value": True}},
    }))
    assert ev["@timestamp"] == datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC)
    assert (ev["event.dataset"], ev["event.action"], ev["event.category"]) == ("falco", "spawned_shell", ["process"])
    assert (ev["process.name"], ev["process.pid"], ev["process.args"]) == ("bash", 4242, ["bash", "-i"])
    assert (ev["source.ip"], ev["source.port"], ev["rule.name"]) == ("203.0.113.9", 4444, "Terminal shell in container")
    assert ev["labels"] == {"env": "prod", "n": "3"} and ev["custom.deep.value"] == "true"
    labels = dict(to_arrow([ev]).column("labels")[0].as_py())
    assert labels["custom.deep.value"] == "true" and labels["env"] == "prod"


def test_defaults_and_other_time_keys():
    ev = parse('{"msg": "hello", "ts": 1795778020123}')
    assert (ev["event.dataset"], ev["event.kind"]) == ("json", "event")
    assert ev["@timestamp"] == datetime(2026, 11, 27, 11, 13, 40, 123000, tzinfo=UTC)
    assert parse('{"time": "2026-01-01T01:00:00+01:00"}')["@timestamp"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert "@timestamp" not in parse('{"@timestamp": "yesterday"}')
    assert parse('{"event": {"dataset": ""}}')["event.dataset"] == "json"


def test_identity_and_tenant_fields_cannot_be_forged():
    ev = parse(json.dumps({"event": {"id": "0" * 32, "original": "forged", "ingested": "2000-01-01T00:00:00Z"},
                           "organization": {"id": "other-tenant"}, "log": {"offset": 0, "file": {"path": "/etc/shadow"}},
                           "message": "x"}))
    assert not {"event.id", "organization.id", "log.file.path", "event.ingested"} & set(ev)
    assert ev["message"] == "x"


def test_values_of_the_wrong_type_are_dropped_not_fatal():
    ev = parse(json.dumps({"source": {"port": "ssh", "ip": ["1.2.3.4"]}, "process": {"pid": True},
                           "http": {"response": {"status_code": 1e300}}, "user": {"name": 7}}))
    assert not failed(ev)
    assert "source.port" not in ev and "process.pid" not in ev and "http.response.status_code" not in ev
    assert ev["source.ip"] == '["1.2.3.4"]' and ev["user.name"] == "7"


@pytest.mark.parametrize("hostile", [
    "[1, 2]", "null", '"just a string"', "42", "{", '{"a": }', "", "   ",
    '{"a":' * 5000 + "1" + "}" * 5000,  # past the decoder's recursion limit
    '{"n": ' + "9" * 10_000 + "}",  # past Python's int digit limit
    "\ufffd\ufffd{not json",
])
def test_bad_records_are_parse_failures_with_raw_text(hostile):
    ev = parse(hostile)
    assert failed(ev) and ev["error.code"] == "LOG-4101"


@pytest.mark.parametrize("record", [
    '{"a": NaN, "b": Infinity, "c": -Infinity, "source.port": NaN, "process.pid": Infinity}',
    '{"a": 1, "a": 2}',
    '{"s": "\\ud800 lone surrogate", "\\udfff": 1}',
    '{"big": 1e999, "event.severity": 99999999999999999999}',
    '{"nul": "a\\u0000b"}',
    '{"a":' * (MAX_DEPTH + 5) + '"deep"' + "}" * (MAX_DEPTH + 5),
])
def test_hostile_but_valid_records_are_kept(record):
    ev = parse(record)
    assert not failed(ev)
    to_arrow([ev])  # storable: no lone surrogates, integers in range


def test_duplicate_keys_last_wins_and_surrogates_are_replaced():
    assert parse('{"a": 1, "a": 2}')["a"] == "2"
    ev = parse('{"s": "\\ud800x", "\\udfff": 1}')
    assert ev["s"] == "\ufffdx" and ev["\ufffd"] == "1"


def test_depth_and_width_limits_keep_the_data_and_say_so():
    deep = parse('{"a":' * (MAX_DEPTH + 3) + '"deep"' + "}" * (MAX_DEPTH + 3))
    (key,) = [k for k in deep if k.startswith("a.")]
    assert "deep" in deep[key] and "json_truncated" in deep["tags"]
    wide = parse(json.dumps({f"k{i}": i for i in range(MAX_KEYS + 10)}))
    assert sum(1 for k in wide if k.startswith("k")) == MAX_KEYS and "json_truncated" in wide["tags"]


def test_one_megabyte_string_and_invalid_utf8_tag():
    big = "x" * 1_000_000
    assert parse(json.dumps({"message": big}))["message"] == big
    (ev,) = JsonLinesParser().parse_batch([RawLine(0, '{"message": "bad \ufffd byte"}', ("invalid_utf8",))], CTX)
    assert ev["message"] == "bad \ufffd byte" and ev["tags"] == ["invalid_utf8"]


def test_flatten_and_parse_time_helpers():
    assert flatten({"a": {"b": {"c": 1}}, "labels": {"x": "y"}}) == {"a.b.c": 1, "labels": {"x": "y"}}
    assert parse_time(1e30) is None and parse_time(True) is None and parse_time("x" * 1000) is None
    assert parse_time("2026-01-01") == datetime(2026, 1, 1, tzinfo=UTC)


def test_sniff():
    parser = JsonLinesParser()
    assert parser.sniff(['{"a": 1}', '{"b": 2}']) == 1.0
    assert parser.sniff(["Nov 28 10:00:00 h sshd[1]: x", '{"b": 2}']) == 0.5


def test_invalid_bytes_reach_the_store_as_events(tmp_path):
    data = b'{"message": "ok", "source.ip": "192.0.2.1"}\n{"message": "bad \xff\xfe"}\n[1]\n\xff\xff\n'
    with EventStore(tmp_path) as store:
        stats = ingest_chunks(store, [Chunk("/var/log/app/x.jsonl", 0, data)])
        assert (stats.lines, stats.stored) == (4, 4)
        rows = store.query('SELECT "event.original", "source.ip" FROM events ORDER BY "log.offset"')
    assert rows[0] == ('{"message": "ok", "source.ip": "192.0.2.1"}', "192.0.2.1")
    assert len(rows) == 4


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["source", "source.ip", "process.pid", "@timestamp", "labels", "event",
                                        "tags", "x", "http.response.status_code"]) | st.text(max_size=6),
                       JSON_VALUES, max_size=6))
def test_random_records_never_raise_and_always_store(record):
    text = json.dumps(record)
    ev = parse(text)
    assert not failed(ev)
    to_arrow([ev])


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_raises(text):
    text = text.replace("\n", " ")
    (ev,) = JsonLinesParser().parse_batch([RawLine(0, text)], CTX)
    assert ev["event.original"] == text
    to_arrow([ev])
