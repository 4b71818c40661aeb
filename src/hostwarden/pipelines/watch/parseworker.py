"""Parsing for `watch` in a second process, so detection has its core to itself.

On a 2-core host, watch's thread parsed a line (~25 µs) and then ran it through the rules
(~40 µs) one after the other, under one GIL: about 10,000 lines/s at most, with no room left
for bursts. Here a child process parses chunk k+1 while the detecting thread feeds chunk k,
and also runs the stateless part of the rules (dispatch and compiled matchers) on it; what
crosses back is the parsed events and the ids of the base rules each matched, pickled (a few
µs a line each way). The detecting thread is left with correlations and alerts.

The child keeps one parser and `ParseState` per followed file, as `watch` did, so what lines
carry to later lines (sshd's address and attempts per session) is the same. Chunks are parsed
in the order they were sent and answered in that order. If the child dies or cannot start,
`watch` goes on parsing in its own thread (`LocalParser`): slower, same events.
"""

from __future__ import annotations

import contextlib
import pickle
import queue
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from hostwarden.core.chunks import Chunk
from hostwarden.core.schema import event_id
from hostwarden.detect.dispatch import Dispatch
from hostwarden.detect.ir import Rule
from hostwarden.detect.ruleset import RuleSet
from hostwarden.normalize.base import ParseContext
from hostwarden.normalize.registry import available_parsers, reparse_failures
from hostwarden.normalize.state import ParseState

Events = list[dict[str, Any]]
# The base rules each event matched, by id, and the generation of the rule set that found them
# (watch runs the rules itself for a chunk matched under rules it has since reloaded).
Matched = tuple[int, list[tuple[str, ...]]]
READY_SECONDS = 30.0
MAX_IN_FLIGHT = 3  # chunks sent and not yet answered: enough to overlap, few enough to bound memory


class SourceParser:
    """One followed file's parser and the `ParseState` it carries from chunk to chunk."""

    def __init__(self, path: str, parser_name: str, ctx: ParseContext) -> None:
        self.path, self.parser_name, self.ctx = path, parser_name, ctx
        self.parser = available_parsers()[parser_name]()
        self.state = ParseState()

    def parse(self, chunk: Chunk) -> Events:
        lines = chunk.lines()
        events = self.parser.parse_batch(lines, self.ctx, self.state)
        if any("parse_failure" in (ev.get("tags") or []) for ev in events):
            events = reparse_failures(events, {ln.offset: ln for ln in lines}, self.ctx, self.parser_name)
        source = chunk.id_source  # the file's content identity: the same ids under any name
        for ev in events:  # the ids the store would give them, so alert evidence names stored events
            ev["log.file.path"] = self.path
            ev["event.id"] = event_id(source, ev.get("log.offset") or 0, ev.get("event.original") or "")
        return events


def _source_for(sources: dict[str, SourceParser], path: str, parser_name: str, ctx: ParseContext) -> SourceParser:
    """The file's parser, made on its first chunk and kept for the next ones."""
    source = sources.get(path)
    if source is None:
        source = sources[path] = SourceParser(path, parser_name, ctx)
    return source


class LocalParser:
    """Parses on the calling thread: the fallback, and the reference the worker must equal."""

    def __init__(self) -> None:
        self._sources: dict[str, SourceParser] = {}
        self._done: deque[tuple[Chunk, Events]] = deque()

    def submit(self, chunk: Chunk, parser_name: str, ctx: ParseContext) -> None:
        self._done.append((chunk, _source_for(self._sources, chunk.source, parser_name, ctx).parse(chunk)))

    def set_rules(self, generation: int, rules: list[Rule]) -> None:
        """Nothing to do: on this thread the engine runs the rules itself."""

    @property
    def pending(self) -> int:
        return len(self._done)

    def next(self) -> tuple[Chunk, Events, Matched | None]:
        chunk, events = self._done.popleft()
        return chunk, events, None

    def close(self) -> None:
        self._done.clear()


class WorkerParser:
    """Parses in a child process; `submit` returns at once, `next` waits for the oldest chunk."""

    def __init__(self, on_failure: Callable[[str], None]) -> None:
        # A fresh interpreter on one end of a socket pair: no fork (the parent runs threads) and
        # no re-import of the parent's main module (what multiprocessing's spawn would do).
        ours, theirs = socket.socketpair()
        self._proc = subprocess.Popen([sys.executable, "-m", "hostwarden.pipelines.watch.parseworker", str(theirs.fileno())],
                                      pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        self._conn = Connection(ours.detach())
        self._sent: deque[tuple[Chunk, str, ParseContext]] = deque()
        self._fallback: LocalParser | None = None
        self._on_failure = on_failure
        # Wait until the child has imported the parsers, so the first lines aren't held up by it.
        try:
            ready = self._conn.poll(READY_SECONDS) and pickle.loads(self._conn.recv_bytes()) == ("ready", None)
        except (OSError, EOFError, pickle.UnpicklingError):
            ready = False
        if not ready:
            self._fail("parse worker did not start; parsing in watch's own thread")

    @property
    def pending(self) -> int:
        return len(self._sent) + (self._fallback.pending if self._fallback else 0)

    def submit(self, chunk: Chunk, parser_name: str, ctx: ParseContext) -> None:
        if self._fallback is not None:
            self._fallback.submit(chunk, parser_name, ctx)
            return
        if not self._send(("chunk", chunk.source, chunk.base_offset, chunk.data, chunk.tags, chunk.identity,
                           chunk.skipped, chunk.max_line, parser_name, ctx)):
            self._fallback.submit(chunk, parser_name, ctx)  # type: ignore[union-attr]
            return
        self._sent.append((chunk, parser_name, ctx))

    def set_rules(self, generation: int, rules: list[Rule]) -> None:
        """Run these base rules on the chunks sent from now on (their matches come back tagged
        with `generation`)."""
        if self._fallback is None:
            self._send(("rules", generation, rules))

    def _send(self, message: tuple[Any, ...]) -> bool:
        try:
            self._conn.send(message)
        except (OSError, EOFError, ValueError) as exc:
            self._fail(f"parse worker unreachable ({exc}); parsing in watch's own thread")
            return False
        return True

    def next(self) -> tuple[Chunk, Events, Matched | None]:
        if self._sent:
            chunk, parser_name, ctx = self._sent[0]
            try:
                answer = self._conn.recv_bytes()
            except (OSError, EOFError) as exc:
                self._fail(f"parse worker stopped ({exc}); parsing in watch's own thread")
                return self.next()
            self._sent.popleft()
            kind, payload, matched = pickle.loads(answer)
            if kind == "events":
                return chunk, payload, matched
            # the worker could not parse it (a bug, not bad input: parsers keep bad lines):
            # parse here, so the chunk is neither lost nor stalls the others
            self._on_failure(f"parse worker error on {chunk.source}: {payload}; parsed in watch's own thread")
            local = self._fallback or LocalParser()
            local.submit(chunk, parser_name, ctx)
            return local.next()
        assert self._fallback is not None
        return self._fallback.next()

    def _fail(self, message: str) -> None:
        """Parse everything not yet answered, and all later chunks, on this thread, in order."""
        self._on_failure(message)
        self._fallback = LocalParser()
        for chunk, parser_name, ctx in self._sent:
            self._fallback.submit(chunk, parser_name, ctx)
        self._sent.clear()
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(None)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._conn.close()


# Parsed once before the worker says it is ready: first calls (caches, lazily built tables)
# then cost startup time instead of delaying the first alerts.
_WARM_UP = {
    "syslog": b"Nov  1 00:00:01 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\n"
              b"Nov  1 00:00:02 h CRON[2]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n"
              b"Nov  1 00:00:03 h sudo:    a : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id\n"
              b"not a syslog line\n",
    "web.access": b'192.0.2.1 - - [01/Nov/2026:00:00:01 +0000] "GET /?q=1 HTTP/1.1" 200 5 "-" "curl/8"\n',
}


def _warm_up() -> None:
    for parser_name, data in _WARM_UP.items():
        with contextlib.suppress(Exception):  # only a head start: a failure here changes nothing
            SourceParser("-", parser_name, ParseContext()).parse(Chunk("-", 0, data))


def _serve(conn: Connection) -> None:
    """The child: parse each chunk it is sent, in order, answering each with its events.

    A thread takes chunks off the socket as they come, so the parent's send never waits for
    this process to finish sending an answer (both sides blocked on full buffers otherwise)."""
    inbox: queue.Queue[Any] = queue.Queue()

    def receive() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                message = None
            inbox.put(message)
            if message is None:
                return

    threading.Thread(target=receive, name="receive", daemon=True).start()
    _warm_up()
    conn.send_bytes(pickle.dumps(("ready", None)))
    sources: dict[str, SourceParser] = {}
    matcher: tuple[int, Dispatch, dict[str, Any]] | None = None
    while (message := inbox.get()) is not None:
        if message[0] == "rules":
            _, generation, rules = message
            ruleset = RuleSet(rules)
            matcher = (generation, Dispatch(ruleset.base_rules), ruleset.checks)
            continue
        _, path, base_offset, data, tags, identity, skipped, max_line, parser_name, ctx = message
        try:
            chunk = Chunk(path, base_offset, data, tags, identity, skipped, max_line)
            events = _source_for(sources, path, parser_name, ctx).parse(chunk)
            matched: Matched | None = None
            if matcher is not None:  # the rules' stateless part, off the detecting thread
                generation, dispatch, checks = matcher
                matched = (generation, [tuple(r.id for r in dispatch.matching(ev, checks)) for ev in events])
            answer: tuple[str, Any, Matched | None] = ("events", events, matched)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which parses it itself
            answer = ("error", f"{type(exc).__name__}: {exc}", None)
        try:
            conn.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            return


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
