"""Parser: tokens → a small AST.

Grammar (EBNF; keywords are case-insensitive, adjacency means AND):

    query    = [ or_expr ] EOF
    or_expr  = and_expr { "OR" and_expr }
    and_expr = not_expr { [ "AND" ] not_expr }
    not_expr = { "NOT" } primary
    primary  = "(" or_expr ")" | term
    term     = name OP value | text
    name     = WORD | STRING            (a name is whatever stands before an operator)
    value    = WORD | STRING            (an unquoted AND/OR/NOT is refused: quote it)
    text     = WORD | STRING            (free text over the raw line)

Precedence is NOT > AND > OR. Nesting is bounded so a hostile query cannot exhaust the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from hostwarden.store.query.errors import query_error
from hostwarden.store.query.lexer import Kind, Token, tokenize

MAX_DEPTH = 64
MAX_TERMS = 512


@dataclass(frozen=True, slots=True)
class Value:
    text: str
    wild: frozenset[int]  # indexes of wildcard characters in text
    pos: int

    @property
    def has_wildcard(self) -> bool:
        return bool(self.wild)

    @property
    def is_star(self) -> bool:
        """The bare `*`: exists/missing for a field, everything for free text."""
        return self.text == "*" and self.wild == frozenset({0})


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: str
    value: Value
    pos: int  # position of the field name


@dataclass(frozen=True, slots=True)
class Text:
    value: Value


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Compare | Text | Not | And | Or


def parse(query: str) -> Node | None:
    """Parse a query; None for an empty one (which matches every event of the tenant)."""
    return _Parser(query).parse()


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0
        self.depth = 0
        self.terms = 0

    # -- token helpers ---------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind is not Kind.EOF:
            self.i += 1
        return tok

    def _error(self, tok: Token, message: str) -> Exception:
        return query_error(self.query, tok.pos, message)

    def _starts_term(self, tok: Token) -> bool:
        return tok.kind in (Kind.WORD, Kind.STRING, Kind.LPAREN) and tok.keyword in (None, "NOT")

    # -- grammar ---------------------------------------------------------------------------
    def parse(self) -> Node | None:
        if self.tok.kind is Kind.EOF:
            return None
        node = self._or()
        if self.tok.kind is not Kind.EOF:
            if self.tok.kind is Kind.RPAREN:
                raise self._error(self.tok, "unbalanced ')': no matching '('")
            raise self._error(self.tok, f"unexpected {self.tok.describe()}")
        return node

    def _or(self) -> Node:
        children = [self._and()]
        while self.tok.keyword == "OR":
            self._advance()
            children.append(self._and())
        return _flatten(Or, children)

    def _and(self) -> Node:
        children = [self._not()]
        while True:
            if self.tok.keyword == "AND":
                self._advance()
            elif not self._starts_term(self.tok):
                break
            children.append(self._not())
        return _flatten(And, children)

    def _not(self) -> Node:
        negations = 0
        while self.tok.keyword == "NOT":
            self._advance()
            negations += 1
        node = self._primary()
        return Not(node) if negations % 2 else node

    def _primary(self) -> Node:
        tok = self.tok
        if tok.kind is Kind.LPAREN:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self._error(tok, f"parentheses nested deeper than {MAX_DEPTH}")
            self._advance()
            if self.tok.kind is Kind.RPAREN:
                raise self._error(self.tok, "empty parentheses")
            node = self._or()
            if self.tok.kind is not Kind.RPAREN:
                raise self._error(self.tok, f"expected ')' to close the '(' at column {tok.pos + 1}, "
                                            f"found {self.tok.describe()}")
            self._advance()
            self.depth -= 1
            return node
        if tok.kind in (Kind.WORD, Kind.STRING) and tok.keyword is None:
            return self._term()
        if tok.kind is Kind.OP:
            raise self._error(tok, f"expected a field name before '{tok.text}'")
        if tok.kind is Kind.RPAREN and not self.depth:
            raise self._error(tok, "unbalanced ')': no matching '('")
        raise self._error(tok, f"expected a search term, found {tok.describe()}")

    def _term(self) -> Node:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self._error(self.tok, f"more than {MAX_TERMS} search terms")
        name = self._advance()
        if self.tok.kind is not Kind.OP:
            return Text(Value(name.text, name.wild, name.pos))
        op = self._advance()
        value = self.tok
        if value.kind not in (Kind.WORD, Kind.STRING):
            raise self._error(value, f"expected a value after '{op.text}', found {value.describe()}")
        if value.keyword:
            raise self._error(value, f"expected a value after '{op.text}', found the keyword {value.text}; "
                                     f"quote it to search for the word")
        self._advance()
        if self.tok.kind is Kind.OP:
            raise self._error(self.tok, f"unexpected '{self.tok.text}': quote a value that contains it")
        if name.wild and name.kind is Kind.WORD:
            raise query_error(self.query, name.pos, "wildcards are not allowed in field names")
        return Compare(name.text, op.text, Value(value.text, value.wild, value.pos), name.pos)


def _flatten(cls: type[And] | type[Or], children: list[Node]) -> Node:
    if len(children) == 1:
        return children[0]
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, cls) else (child,))
    return cls(tuple(flat))
