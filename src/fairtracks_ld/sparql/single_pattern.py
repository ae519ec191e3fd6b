"""Whether a query is one triple pattern read straight from an index: its work is its answer.

`SELECT ?track WHERE { ?track ft:label_short "K562 H3K27ac" }` (a lookup by a value) is the
commonest query a client sends after DESCRIBE. Oxigraph answers one triple pattern, with no two
positions sharing a variable, by a range scan of one of its indexes (spo, pos, osp) in which
every key read is one solution: nothing is filtered, joined, sorted or grouped, so the work done
is proportional to the answer written. A caller that caps the answer's bytes therefore caps the
work (see web/executor: such a query is tried in the server thread with a small cap, and goes to
a query worker when its answer is larger).

Read from the query's tokens (sparql.tokens), and only for text that cannot be read two ways: no
backslash at all (no codepoint or string escapes) and no `service` or `load` anywhere (so no
reading of it reaches the network). Accepted, after a prologue of BASE and PREFIX declarations:

    SELECT (* | ?var ...) [WHERE] { subject predicate object [.] } [LIMIT n]

subject an IRI, prefixed name or variable; predicate the same or `a`; object the same, a number,
`true`/`false`, or a string with an optional language tag or `^^` datatype. Anything else
(DISTINCT, ORDER BY, OFFSET, FROM, GRAPH, FILTER, paths, blank nodes, expressions) is not one
pattern as far as this module is concerned.

`OnePattern.capped_count` tells, before any answer is written, how many solutions such a query has,
up to a cap: Oxigraph counts index keys without decoding a term, about 13x cheaper than writing
them (3,763 solutions at 100k tracks: 0.28 ms to count past 1,000, 10.6 ms to write as JSON), so a
caller can send a big answer to where big answers go instead of writing part of it first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fairtracks_ld.sparql.policy import mentions_network
from fairtracks_ld.sparql.tokens import (
    IRI,
    LANGTAG,
    NUMBER,
    PNAME,
    PUNCT,
    STRING,
    VAR,
    WORD,
    LexError,
    Token,
    scan,
)

_NAMES = (IRI, PNAME)
COUNTED = "_one_pattern_rows"  # OnePattern.capped_count's variable, named unlike a client's


@dataclass(frozen=True)
class OnePattern:
    """A one-pattern query: its text, where its SELECT starts (after the prologue), and its
    LIMIT if it has one."""

    query: str
    select_at: int
    limit: int | None

    def capped_count(self, cap: int) -> str:
        """A query counting the solutions, up to `cap` (it answers `cap + 1` when there are
        more). The query is kept whole as a subquery (its prologue in front), so its LIMIT and
        BASE keep their meaning."""
        at = self.select_at
        return (f"{self.query[:at]}SELECT (COUNT(*) AS ?{COUNTED}) WHERE {{ {{ SELECT * WHERE "
                f"{{ {{ {self.query[at:]}\n}} }} LIMIT {cap + 1} }} }}")


def single_pattern(query: str) -> bool:
    """True when the query is a SELECT of one triple pattern whose solutions are index keys."""
    return one_pattern(query) is not None


def one_pattern(query: str) -> OnePattern | None:
    """The query as a OnePattern, or None when it is anything else."""
    if "\\" in query or mentions_network(query):
        return None
    reader = _Reader(scan(query))
    try:  # tokens are read only as far as the query still looks like one pattern
        if not _one_pattern(reader):
            return None
    except LexError:
        return None
    return OnePattern(query, reader.tokens[reader.start_of_select].start, reader.limit)


def _one_pattern(reader: _Reader) -> bool:
    reader.prologue()
    reader.start_of_select = reader.index
    if not reader.word("select"):
        return False
    if not reader.punct("*"):
        if reader.peek_kind() != VAR:
            return False
        while reader.peek_kind() == VAR:
            reader.index += 1
    reader.word("where")
    if not reader.punct("{"):
        return False
    variables: list[str] = []
    if not (reader.term(_NAMES, variables) and (reader.word("a") or reader.term(_NAMES, variables))
            and reader.object(variables)):
        return False
    reader.punct(".")
    if not reader.punct("}"):
        return False
    if reader.word("limit"):
        if reader.peek_kind() != NUMBER or not reader.tokens[reader.index].text.isdigit():
            return False
        reader.limit = int(reader.tokens[reader.index].text)
        reader.index += 1
    return reader.at_end() and len(set(variables)) == len(variables)


class _Reader:
    """A cursor over the tokens, each method consuming what it matches; tokens are read from
    the scanner as the cursor reaches them."""

    def __init__(self, source: Iterator[Token]) -> None:
        self.source = source
        self.tokens: list[Token] = []
        self.index = 0
        self.start_of_select = 0  # the token after the prologue
        self.limit: int | None = None

    def _read_to(self, index: int) -> None:
        while len(self.tokens) <= index:
            token = next(self.source, None)
            if token is None:
                return
            self.tokens.append(token)

    def kind_at(self, index: int) -> str | None:
        if index >= len(self.tokens):
            self._read_to(index)
            if index >= len(self.tokens):
                return None
        return self.tokens[index].kind

    def peek_kind(self) -> str | None:
        return self.kind_at(self.index)

    def at_end(self) -> bool:
        return self.peek_kind() is None

    def word(self, keyword: str) -> bool:
        if self.peek_kind() == WORD and self.tokens[self.index].keyword == keyword:
            self.index += 1
            return True
        return False

    def punct(self, text: str) -> bool:
        if self.peek_kind() == PUNCT and self.tokens[self.index].text == text:
            self.index += 1
            return True
        return False

    def prologue(self) -> None:
        while True:
            start = self.index
            if self.word("base") and self.peek_kind() == IRI:
                self.index += 1
            elif self.word("prefix") and self.peek_kind() == PNAME and \
                    self.tokens[self.index].text.endswith(":") and \
                    self.kind_at(self.index + 1) == IRI:
                self.index += 2
            else:
                self.index = start
                return

    def term(self, kinds: tuple[str, ...], variables: list[str]) -> bool:
        """A name of one of `kinds` or a variable (recorded without its `?`/`$`)."""
        kind = self.peek_kind()
        if kind == VAR:
            variables.append(self.tokens[self.index].text[1:])
        elif kind not in kinds:
            return False
        self.index += 1
        return True

    def object(self, variables: list[str]) -> bool:
        if self.term((*_NAMES, NUMBER), variables) or self.word("true") or self.word("false"):
            return True
        if self.peek_kind() != STRING:
            return False
        self.index += 1
        if self.peek_kind() == LANGTAG:
            self.index += 1
        elif self.punct("^^"):
            return self.peek_kind() in _NAMES and self.term(_NAMES, [])
        return True
