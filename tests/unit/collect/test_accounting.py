"""Property: whatever bytes a file holds, every input line is accounted for — stored (cut and tagged
`truncated` if over the limit) or counted as dropped with a reason — and no stored line starts
anywhere but at the start of an input line."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostwarden.collect.discover import classify
from hostwarden.collect.files import FileReader
from hostwarden.core.checkpoint import MemoryCheckpoints
from hostwarden.core.chunks import Chunk

LIMIT = 300  # small, so random lines cross it often
TEXTY = st.binary(max_size=3 * LIMIT).map(lambda b: bytes(c for c in b if c >= 0x20 or c == 9))
ANY = st.binary(max_size=3 * LIMIT).map(lambda b: b.replace(b"\n", b""))
# Random bytes are short as hypothesis draws them; lines around and over the limit are built.
LONG = st.builds(lambda unit, n: ((unit or b"x") * n)[:n], ANY, st.integers(min_value=LIMIT - 2, max_value=3 * LIMIT))
PIECE = st.one_of(
    TEXTY.map(lambda b: [b]),
    LONG.map(lambda b: [b]),
    ANY.map(lambda b: [b]),
    st.integers(min_value=1, max_value=400).map(lambda n: [b""] * n),  # a run of empty lines
    st.integers(min_value=1, max_value=200).map(lambda n: [b"\r"] * n),  # CRLF empty lines
)


def input_lines(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, bytes without the newline) of each line, the way the readers cut them."""
    out, pos = [], 0
    for raw in data.split(b"\n"):
        if pos < len(data):
            out.append((pos, raw))
        pos += len(raw) + 1
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(PIECE, max_size=40), final_newline=st.booleans(), gz=st.booleans(),
       chunk_bytes=st.sampled_from([4096, 9000]))
def test_every_line_is_stored_or_counted(pieces: list[list[bytes]], final_newline: bool, gz: bool,
                                         chunk_bytes: int) -> None:
    lines = [line for piece in pieces for line in piece]
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    with tempfile.TemporaryDirectory() as tmp:  # many examples in one test: no tmp_path
        path = Path(tmp) / ("x.gz" if gz else "x.log")
        path.write_bytes(gzip.compress(data) if gz else data)
        # Read as lines whatever the bytes are, so the accounting is checked on every example ...
        reader = FileReader(path, MemoryCheckpoints(), chunk_bytes=chunk_bytes, max_line_bytes=LIMIT,
                            skip_binary=False)
        chunks = list(reader.read_chunks())
        # ... and the binary test, as the default reader applies it, decides like classify().
        careful = FileReader(path, MemoryCheckpoints(), chunk_bytes=chunk_bytes, max_line_bytes=LIMIT)
        refused = classify(path) is not None
        if refused:  # skipped as a whole, with its reason, before anything is read
            assert list(careful.read_chunks()) == [] and [n["code"] for n in careful.notices] == ["LOG-4107"]
        else:
            assert [c.data for c in careful.read_chunks()] == [c.data for c in chunks]
    expected = {off: raw for off, raw in input_lines(data)}
    got = [ln for c in chunks for ln in c.lines()]
    assert len({ln.offset for ln in got}) == len(got)
    for ln in got:
        assert ln.offset in expected, f"a line was produced at {ln.offset}, inside an input line"
        raw = expected[ln.offset]
        want = Chunk("x", 0, raw[:LIMIT]).lines()[0].text if raw[:LIMIT] else ""
        assert ln.text == want
        assert ("truncated" in ln.tags) == (len(raw) > LIMIT)
    dropped = reader.dropped.get("empty_lines", 0)
    assert len(got) + dropped == len(expected)
    stored_offsets = {ln.offset for ln in got}
    assert all(expected[off].strip(b"\r") == b"" for off in expected if off not in stored_offsets)
