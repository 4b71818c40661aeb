"""Tokens of the search language.

The lexer is context-free and keeps every token's offset so any later stage (parser, field
resolution, value checks) can point its error at the right column. Bare words keep track of
which `*`/`?` characters are wildcards and which were escaped (`\\*`), because the SQL compiler
must turn the first into LIKE patterns and the second into literal text. Quoted strings are
literal: no wildcards, so `"*"` is a star (Lucene's rule). A quote starts a string only at the
start of a token; inside a word it is an ordinary character (`user.name=O'Brien`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from hostwarden.store.query.errors import query_error

MAX_QUERY_CHARS = 16_384  # far above any hand-typed query; bounds work for pasted garbage

OPERATORS = ("!=", ">=", "<=", "=", ">", "<")
KEYWORDS = frozenset({"AND", "OR", "NOT"})
WILDCARDS = frozenset("*?")
_QUOTES = frozenset("\"'")
_WORD_STOP = frozenset("()=<>")


class Kind(Enum):
    WORD = "word"  # bare word: field name, value, keyword or free text
    STRING = "string"  # quoted string
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    EOF = "end of query"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # decoded text (escapes resolved)
    pos: int  # 0-based offset of the token's first character
    end: int  # offset just past the token
    wild: frozenset[int] = frozenset()  # indexes into text of unescaped * and ?
    escaped: bool = False  # a backslash escape occurred (so `\AND` is not a keyword)

    @property
    def keyword(self) -> str | None:
        """AND/OR/NOT when this is an unquoted, unescaped keyword (any case)."""
        if self.kind is Kind.WORD and not self.escaped and self.text.upper() in KEYWORDS:
            return self.text.upper()
        return None

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of query"
        if self.kind in (Kind.WORD, Kind.STRING):
            return repr(self.text)
        return f"'{self.text}'"


def tokenize(query: str) -> list[Token]:
    """Split a query into tokens, ending with one EOF token."""
    if len(query) > MAX_QUERY_CHARS:
        raise query_error(query, MAX_QUERY_CHARS, f"query longer than {MAX_QUERY_CHARS} characters")
    for i, ch in enumerate(query):
        if 0xD800 <= ord(ch) <= 0xDFFF:  # lone surrogate: invalid UTF-8 on the command line
            raise query_error(query, i, "invalid character (not UTF-8)")
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(Token(Kind.LPAREN if ch == "(" else Kind.RPAREN, ch, i, i + 1))
            i += 1
        elif ch in _QUOTES:
            token = _quoted(query, i)
            tokens.append(token)
            i = token.end
        elif op := _operator_at(query, i):
            tokens.append(Token(Kind.OP, op, i, i + len(op)))
            i += len(op)
        else:
            token = _word(query, i)
            tokens.append(token)
            i = token.end
    tokens.append(Token(Kind.EOF, "", n, n))
    return tokens


def _operator_at(query: str, i: int) -> str | None:
    for op in OPERATORS:
        if query.startswith(op, i):
            return op
    return None


def _quoted(query: str, start: int) -> Token:
    quote = query[start]
    chars: list[str] = []
    escaped = False
    i = start + 1
    while i < len(query):
        ch = query[i]
        if ch == "\\":
            if i + 1 >= len(query):
                break  # reported as unterminated below
            chars.append(query[i + 1])
            escaped = True
            i += 2
            continue
        if ch == quote:
            return Token(Kind.STRING, "".join(chars), start, i + 1, frozenset(), escaped)
        chars.append(ch)
        i += 1
    # The caret goes where the missing quote is expected; the message names the opening one.
    raise query_error(query, len(query), f"unterminated string: no closing {quote} for the one at column {start + 1}")


def _word(query: str, start: int) -> Token:
    chars: list[str] = []
    wild: set[int] = set()
    escaped = False
    i = start
    while i < len(query):
        ch = query[i]
        if ch.isspace() or ch in _WORD_STOP or query.startswith("!=", i):
            break
        if ch == "\\":
            if i + 1 >= len(query):
                raise query_error(query, i, "backslash at end of query escapes nothing")
            chars.append(query[i + 1])
            escaped = True
            i += 2
            continue
        if ch in WILDCARDS:
            wild.add(len(chars))
        chars.append(ch)
        i += 1
    return Token(Kind.WORD, "".join(chars), start, i, frozenset(wild), escaped)
