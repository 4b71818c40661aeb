"""The direct `all.zip` member reader gives what `zipfile` gives, and damage stays per record."""

from __future__ import annotations

import json
import zipfile

from hostwarden.scan.vuln.loader import LoadError, iter_records, iter_zip_bytes


def record(i: int) -> dict:
    return {"id": f"PYSEC-{i}", "summary": "é " * i, "affected": [{"package": {"ecosystem": "PyPI", "name": f"p{i}"}}]}


def test_stored_deflated_and_fallback_members_read_like_zipfile(tmp_path):
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.json", json.dumps(record(1)), compress_type=zipfile.ZIP_STORED)
        zf.writestr("b.json", json.dumps(record(2)) * 1, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("c.json", json.dumps(record(3)), compress_type=zipfile.ZIP_BZIP2)  # through zipfile
        zf.writestr("dir/", "")
        zf.writestr("notes.txt", "ignored")
    errors: list[LoadError] = []
    got = list(iter_records([path], errors))
    assert got == [record(1), record(2), record(3)]
    assert errors == []
    assert list(iter_zip_bytes(path.read_bytes(), "mem", errors)) == got


def test_a_corrupted_member_is_one_error_and_the_rest_load(tmp_path):
    path = tmp_path / "all.zip"
    payload = json.dumps(record(7)).encode()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("good.json", json.dumps(record(1)), compress_type=zipfile.ZIP_STORED)
        zf.writestr("bad.json", payload, compress_type=zipfile.ZIP_STORED)
        zf.writestr("also-good.json", json.dumps(record(2)), compress_type=zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    at = data.index(payload)
    data[at + 5] ^= 0x20  # flip one bit inside the stored member: CRC no longer matches
    path.write_bytes(bytes(data))
    errors: list[LoadError] = []
    got = list(iter_records([path], errors))
    assert [r["id"] for r in got] == ["PYSEC-1", "PYSEC-2"]
    assert len(errors) == 1 and errors[0].source.endswith("!bad.json")
    assert errors[0].to_dict()["code"] == "SCAN-9011" and "CRC" in errors[0].reason
