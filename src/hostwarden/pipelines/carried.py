"""A file's parse state from one `ingest` run to the next.

`ingest` of a file that grew since the last run reads on from its checkpoint; the lines there
may belong to an sshd session whose address, or a run of failed attempts, the last run saw
(normalize.state). The state a run ends with is kept in the store beside the checkpoint, under
the file's content identity and with the offset it belongs to, and the next run starts from it
only when it resumes at exactly that offset: after a crash between a chunk's checkpoint and the
end of the file, the saved state is older than the checkpoint and is not used (the run starts
fresh, as every run did before), so a reused pid can never take an address from a stale state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from hostwarden.core.chunks import Chunk
from hostwarden.normalize.state import ParseState

KEY_PREFIX = "ingest.parse_state:"


class CarriedState:
    """Wraps one file's chunks: `chunks` feeds ingest, `states` is what ingest parses with."""

    def __init__(self, store: Any, chunks: Iterable[Chunk]) -> None:
        self.store = store
        self.states: dict[str, ParseState] = {}
        self._source: str | None = None
        self._identity: str | None = None
        self._end: int | None = None
        self.chunks = self._resume(iter(chunks))

    def _resume(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        for chunk in chunks:
            if self._end is None:
                self._source, self._identity = chunk.source, chunk.identity
                if chunk.identity:
                    saved = self.store.get_state(KEY_PREFIX + chunk.identity)
                    if isinstance(saved, dict) and saved.get("offset") == chunk.base_offset:
                        self.states[chunk.source] = _loaded(saved.get("state"))
            self._end = chunk.end_offset
            yield chunk

    def save(self) -> None:
        """After every chunk was stored: the state at the end of what was read."""
        state = self.states.get(self._source or "")
        if self._identity and self._end is not None and state is not None:
            self.store.put_state(KEY_PREFIX + self._identity, {"offset": self._end, "state": state.to_json()})


def _loaded(saved: Any) -> ParseState:
    """The saved state, or a fresh one where it cannot be read (a damaged store must cost the
    carry, never the ingest)."""
    try:
        return ParseState.from_json(saved if isinstance(saved, dict) else {})
    except (TypeError, ValueError, KeyError):
        return ParseState()
