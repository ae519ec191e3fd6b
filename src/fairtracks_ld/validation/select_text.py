"""Reading and rewriting user-written SHACL-SPARQL SELECT text by its tokens.

The compiler splices the focus nodes into a constraint's WHERE clause, factors out its first
`$this $PATH ?value .` pattern and inlines SPARQL-based targets. Everything it must find there
(WHERE, the closing brace, `$this`, `?value`, the variables) is read from the project's one SPARQL
lexer (`fairtracks_ld.sparql.tokens`), so a keyword or a variable inside a string, an IRI or a
comment is never taken for code, `where` may be written in any case, and `?this` and `$this` are
the same variable. Rewrites replace whole tokens at their positions; the rest of the text
(comments and spacing included) is kept as written.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from fairtracks_ld.sparql.tokens import PUNCT, VAR, WORD, LexError, Token, tokenize
from fairtracks_ld.validation.shapes import UnsupportedShape


def shape_tokens(text: str, where: str = "SPARQL in shapes") -> list[Token]:
    """The query's tokens (the project's SPARQL lexer: strings, IRIs and comments are never
    mistaken for keywords or variables); a text that is not SPARQL refuses the shapes."""
    try:
        return tokenize(text)
    except LexError as error:
        raise UnsupportedShape(f"{where}: the SPARQL cannot be read ({error})") from None


def variable_name(token: Token) -> str | None:
    """A variable token's name (`?x` and `$x` are the same variable)."""
    return token.text[1:] if token.kind == VAR else None


def is_token(token: Token, *keywords: str) -> bool:
    """A keyword (any case) or punctuation token among `keywords`."""
    return (token.kind == WORD and token.keyword in keywords) or \
        (token.kind == PUNCT and token.text in keywords)


@lru_cache(maxsize=1024)
def _tokens(text: str) -> list[Token]:
    """The text's tokens, read once per text (one constraint's text is read by several steps
    and by every compiled mode); callers never change the list."""
    return shape_tokens(text)


def end(token: Token) -> int:
    """The text position just after a token."""
    return token.start + len(token.text)


class Where(NamedTuple):
    """A SELECT's first `WHERE {…}` group: the tokens of the whole text, where the WHERE keyword
    starts (`start`), where the group's body starts (after `{`, `body`) and the position of the
    closing `}` (`close`); `first`/`last` index the body's tokens."""

    tokens: list[Token]
    start: int
    body: int
    close: int
    first: int
    last: int

    def inside(self) -> list[Token]:
        """The group's tokens between its braces."""
        return self.tokens[self.first:self.last]


def where(select: str) -> Where:
    """The first `WHERE {` group of a SELECT; ValueError when there is none or it never closes."""
    tokens = _tokens(select)
    for index, token in enumerate(tokens[:-1]):
        if is_token(token, "where") and is_token(tokens[index + 1], "{"):
            depth = 0
            for close in range(index + 1, len(tokens)):
                depth += is_token(tokens[close], "{") - is_token(tokens[close], "}")
                if depth == 0:
                    return Where(tokens, token.start, end(tokens[index + 1]),
                                 tokens[close].start, index + 2, close)
            raise ValueError("sh:select has an unbalanced WHERE clause")
    raise ValueError("sh:select has no WHERE clause")


def first_pattern(clause: Where) -> int | None:
    """When the group starts with `$this $PATH ?value .`: the index of its first token after
    that pattern (None otherwise)."""
    body = clause.inside()
    if len(body) < 4 or [variable_name(t) for t in body[:3]] != ["this", "PATH", "value"] \
            or not is_token(body[3], "."):
        return None
    return clause.first + 4


def mentions_this(tokens: list[Token]) -> bool:
    """Whether the variable `$this` (or `?this`) is among the tokens."""
    return any(variable_name(t) == "this" for t in tokens)


def has_comment(text: str, tokens: list[Token], offset: int = 0) -> bool:
    """Whether the text (at `offset` of the tokens' text) holds a comment: a `#` between tokens."""
    position = 0
    for token in tokens:
        start = token.start - offset
        if 0 <= start < len(text):
            if "#" in text[position:start]:
                return True
            position = start + len(token.text)
    return "#" in text[position:]


def projected(clause: Where) -> list[str]:
    """The names of the variables written before WHERE, `this` left out, each once."""
    before = (t for t in clause.tokens if t.start < clause.start)
    names = dict.fromkeys(variable_name(t) for t in before)
    return [n for n in names if n is not None and n != "this"]


def selects_value(select: str) -> bool:
    """Whether some SELECT of the text projects `?value` (between SELECT and its WHERE or `{`)."""
    tokens = _tokens(select)
    for index, token in enumerate(tokens):
        if is_token(token, "select"):
            for after in tokens[index + 1:]:
                if is_token(after, "where", "{"):
                    break
                if variable_name(after) == "value":
                    return True
    return False


def substitute(text: str, tokens: list[Token], replace: Callable[[Token], str | None],
               offset: int = 0) -> str:
    """`text` (which starts at position `offset` of the tokens' text) with each token for which
    `replace` gives a string replaced by it; everything else kept as written."""
    parts, position = [], 0
    for token in tokens:
        start = token.start - offset
        if start < 0 or start >= len(text):
            continue
        new = replace(token)
        if new is not None:
            parts += [text[position:start], new]
            position = start + len(token.text)
    return "".join(parts) + text[position:]


def with_path(select: str, steps: str) -> str:
    """The text with the variable `$PATH` (or `?PATH`) replaced by the path's SPARQL."""
    return substitute(select, _tokens(select),
                      lambda t: steps if variable_name(t) == "PATH" else None)


class Target(NamedTuple):
    """A SPARQL-based target's WHERE body (`SELECT [DISTINCT] $this WHERE { body }`, nothing
    around), with its tokens and its position in the target's text."""

    text: str
    tokens: list[Token]
    offset: int

    def mentions(self, *keywords: str) -> bool:
        return any(is_token(t, *keywords) for t in self.tokens)

    def lines_movable(self) -> bool:
        """Whether the body's lines can be reordered: no token spans lines and every line's
        braces balance (so a line is a whole pattern, FILTER or group)."""
        depth: dict[int, int] = {}
        for token in self.tokens:
            start = token.start - self.offset
            if "\n" in token.text:
                return False
            line = self.text.count("\n", 0, start)
            depth[line] = depth.get(line, 0) + is_token(token, "{") - is_token(token, "}")
        return not any(depth.values())

    def line_mentions_this(self) -> set[int]:
        """The numbers of the body's lines holding `$this`."""
        return {self.text.count("\n", 0, t.start - self.offset)
                for t in self.tokens if variable_name(t) == "this"}


def target_body(select: str) -> Target | None:
    """The body of a plain `SELECT [DISTINCT] $this WHERE { … }` (None for anything else)."""
    tokens = _tokens(select)
    index = 1 + (len(tokens) > 1 and is_token(tokens[1], "distinct"))
    if len(tokens) < index + 4 or not is_token(tokens[0], "select") \
            or variable_name(tokens[index]) != "this":
        return None
    try:
        clause = where(select)
    except ValueError:
        return None
    if clause.first != index + 3 or clause.last != len(tokens) - 1:
        return None
    return Target(select[clause.body:clause.close], clause.inside(), clause.body)


def rename_this(text: str, var: str) -> str:
    """The text with the variable `$this` (or `?this`) replaced by `var`."""
    return substitute(text, _tokens(text), lambda t: var if variable_name(t) == "this" else None)

