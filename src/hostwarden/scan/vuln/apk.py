"""Alpine apk version comparison, ported from apk-tools `src/version.c`.

Why our own: univers' AlpineLinuxVersion rejects versions apk itself orders (leading zeros such
as `006`, commit hashes `1.0~1234`, unknown suffixes it should string-sort) and has no fuzzy
operators. This is a token-by-token port of apk-tools 3 (`token_first`/`token_next`/`token_cmp`),
checked against all 738 vectors of apk-tools' `test/unit/version.data`.
Format: digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}
"""

from __future__ import annotations

from dataclasses import dataclass

# Token kinds, in the order apk uses to decide which of two diverging versions is greater.
INITIAL_DIGIT, DIGIT, LETTER, SUFFIX, SUFFIX_NO, COMMIT_HASH, REVISION_NO, END, INVALID = range(9)

# Pre-release suffixes sort below "no suffix" (NONE), post-release ones above it.
_SUFFIXES = {"alpha": 1, "beta": 2, "pre": 3, "rc": 4, "cvs": 6, "svn": 7, "git": 8, "hg": 9, "p": 10}
_SUFFIX_NONE = 5
_HEX = set("0123456789abcdef")


@dataclass(slots=True)
class _Token:
    kind: int = INITIAL_DIGIT
    number: int = 0
    value: str = ""
    suffix: int = 0


class _Lexer:
    """Walks one version string token by token, as apk does, never raising."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tok = _Token()
        self._digits()

    def _digits(self) -> None:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos].isascii() and self.text[self.pos].isdigit():
            self.pos += 1
        self.tok.value = self.text[start : self.pos]
        if not self.tok.value:
            self.tok.kind = INVALID
        else:
            self.tok.number = int(self.tok.value)

    def next(self) -> None:
        tok, text = self.tok, self.text
        if self.pos >= len(text):
            tok.kind = END
            return
        ch = text[self.pos]
        if "a" <= ch <= "z":
            if tok.kind > DIGIT:
                tok.kind = INVALID
                return
            tok.value, tok.kind = ch, LETTER
            self.pos += 1
        elif ch == "." or ("0" <= ch <= "9"):
            if ch == ".":
                if tok.kind > DIGIT:
                    tok.kind = INVALID
                    return
                self.pos += 1
            if tok.kind in (INITIAL_DIGIT, DIGIT):
                tok.kind = DIGIT
            elif tok.kind == SUFFIX:
                tok.kind = SUFFIX_NO
            else:
                tok.kind = INVALID
                return
            self._digits()
        elif ch == "_":
            if tok.kind > SUFFIX_NO:
                tok.kind = INVALID
                return
            self.pos += 1
            start = self.pos
            while self.pos < len(text) and "a" <= text[self.pos] <= "z":
                self.pos += 1
            tok.value = text[start : self.pos]
            tok.suffix = _SUFFIXES.get(tok.value, 0)
            tok.kind = SUFFIX if tok.suffix else INVALID
        elif ch == "~":
            if tok.kind >= COMMIT_HASH:
                tok.kind = INVALID
                return
            self.pos += 1
            start = self.pos
            while self.pos < len(text) and text[self.pos] in _HEX:
                self.pos += 1
            tok.value = text[start : self.pos]
            tok.kind = COMMIT_HASH if tok.value else INVALID
        elif ch == "-":
            if tok.kind >= REVISION_NO or not text.startswith("-r", self.pos):
                tok.kind = INVALID
                return
            self.pos += 2
            tok.kind = REVISION_NO
            self._digits()
        else:
            tok.kind = INVALID


def _cmp(a: int | str, b: int | str) -> int:
    return (a > b) - (a < b)  # type: ignore[operator]


def _token_cmp(ta: _Token, tb: _Token) -> int:
    kind = ta.kind
    if kind == DIGIT and (ta.value.startswith("0") or tb.value.startswith("0")):
        return _cmp(ta.value, tb.value)  # leading zero: string sort, as Gentoo does
    if kind in (INITIAL_DIGIT, DIGIT, SUFFIX_NO, REVISION_NO):
        return _cmp(ta.number, tb.number)
    if kind == LETTER:
        return _cmp(ta.value, tb.value)
    if kind == SUFFIX:
        return _cmp(ta.suffix, tb.suffix)
    return _cmp(ta.value, tb.value)


def _compare(a: str, b: str, fuzzy: bool) -> int:
    la, lb = _Lexer(a), _Lexer(b)
    ta, tb = la.tok, lb.tok
    while ta.kind == tb.kind and ta.kind < END:
        r = _token_cmp(ta, tb)
        if r:
            return r
        la.next()
        lb.next()
    if ta.kind == tb.kind or (tb.kind == END and fuzzy):
        return 0
    # Equal so far: the longer version is greater unless what follows is a pre-release suffix.
    if ta.kind == SUFFIX and ta.suffix < _SUFFIX_NONE:
        return -1
    if tb.kind == SUFFIX and tb.suffix < _SUFFIX_NONE:
        return 1
    return -1 if ta.kind > tb.kind else (1 if tb.kind > ta.kind else 0)


def compare(a: str, b: str) -> int:
    """Sign of the apk ordering of `a` and `b` (-1, 0, 1), exactly as `apk version -t`."""
    return _compare(a, b, fuzzy=False)


def is_valid(version: str) -> bool:
    """True when apk accepts `version` as well-formed (`apk version -c`)."""
    lexer = _Lexer(version)
    while lexer.tok.kind < END:
        lexer.next()
    return lexer.tok.kind == END


def match(a: str, op: str, b: str) -> bool:
    """Evaluate `a OP b` for apk operators: < <= = >= > and fuzzy ~ !~ <~ >~."""
    negate = op.startswith("!")
    op = op.lstrip("!")
    fuzzy = "~" in op
    r = _compare(a, b, fuzzy)
    allowed = {-1} if "<" in op else set()
    if ">" in op:
        allowed.add(1)
    if "=" in op or fuzzy:
        allowed.add(0)
    return (r in allowed) != negate
