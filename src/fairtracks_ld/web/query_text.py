"""What a SPARQL query's text says about the graphs it reads, from its tokens (sparql.tokens).

pyoxigraph exposes no query algebra, and a `default_graph=` option silently overrides a query's
own FROM clauses, so the server must know whether a query declares its dataset (FROM / FROM
NAMED) or names graphs (GRAPH). Keywords are words outside strings, IRIs and comments; `?from`,
`ex:graph` or `"FROM"` are not keywords. Text that is not SPARQL tokens is left to Oxigraph,
which reports the syntax error; the answers here only have to be safe for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from fairtracks_ld.sparql.tokens import IRI, PNAME, WORD, LexError, Token, tokenize

_PLAIN_DESCRIBE = re.compile(  # the commonest form, recognised without reading tokens
    r'[ \t\r\n]*DESCRIBE(?:[ \t\r\n]+<[^<>"{}|^`\\\x00-\x20]*>)+[ \t\r\n]*', re.IGNORECASE)

_SPACE = r"[ \t\r\n]+"
_ONE_DESCRIBE = re.compile(  # PREFIXes, then DESCRIBE of one absolute IRI: no BASE, no escapes
    rf"[ \t\r\n]*((?:PREFIX{_SPACE}(?:[A-Za-z][A-Za-z0-9_-]*)?:(?:{_SPACE})?"
    rf'<[^<>"{{}}|^`\\\x00-\x20]*>{_SPACE})*)'
    rf'DESCRIBE{_SPACE}<([A-Za-z][A-Za-z0-9+.-]*:[^<>"{{}}|^`\\\x00-\x20]*)>[ \t\r\n]*',
    re.IGNORECASE)


def one_described(query: str) -> tuple[str, str] | None:
    """(prologue, IRI) of a query that is only PREFIX declarations and `DESCRIBE` of one
    absolute IRI (no BASE, no comments, no escapes), else None. The IRI resolves to itself
    against any base (Oxigraph does not normalise an absolute IRI); the prologue may still be
    refused by Oxigraph (e.g. a PREFIX IRI that is no IRI)."""
    found = _ONE_DESCRIBE.fullmatch(query)
    return None if found is None else (found[1], found[2])


def _tokens(query: str) -> tuple[Token, ...] | None:
    """The query's tokens, None when it is not SPARQL tokens; short queries are cached, since
    one query is asked about several times on its way to a worker."""
    return _cached_tokens(query) if len(query) < 20_000 else _read(query)


@lru_cache(maxsize=64)
def _cached_tokens(query: str) -> tuple[Token, ...] | None:
    return _read(query)


def _read(query: str) -> tuple[Token, ...] | None:
    try:
        return tuple(tokenize(query))
    except LexError:
        return None


def _keywords(tokens: tuple[Token, ...]) -> set[str]:
    return {token.keyword for token in tokens if token.kind == WORD}


def describes_constants(query: str) -> bool:
    """Whether the query is only `DESCRIBE` of IRIs (after a prologue): no pattern, no
    variables, no dataset; its cost is bounded by the triples about those resources."""
    if _PLAIN_DESCRIBE.fullmatch(query):
        return True
    tokens = _tokens(query) if "describe" in query.casefold() else None
    if not tokens:
        return False
    index = 0
    while index < len(tokens) and tokens[index].kind == WORD:  # the prologue
        if tokens[index].keyword == "base" and tokens[index + 1: index + 2] and \
                tokens[index + 1].kind == IRI:
            index += 2
        elif tokens[index].keyword == "prefix" and len(tokens) > index + 2 and \
                tokens[index + 1].kind == PNAME and tokens[index + 2].kind == IRI:
            index += 3
        else:
            break
    rest = tokens[index:]
    return (len(rest) >= 2 and rest[0].kind == WORD and rest[0].keyword == "describe"
            and all(token.kind in (IRI, PNAME) for token in rest[1:]))


def described_iris(query: str, base: str | None, prefixes: Mapping[str, str]) -> list[str]:
    """The IRIs a DESCRIBE of constants (`describes_constants`) names, resolved against the
    query's BASE and PREFIXes, then `base` and `prefixes` (what pyoxigraph is given); those
    that cannot be resolved are left out (Oxigraph refuses the query)."""
    try:
        tokens = tokenize(query, base=base, prefixes=prefixes)
    except LexError:
        return []
    at = next((i for i, t in enumerate(tokens) if t.kind == WORD and t.keyword == "describe"),
              len(tokens))
    return [t.iri for t in tokens[at + 1:] if t.kind in (IRI, PNAME) and t.iri]


def declares_dataset(query: str) -> bool:
    """Whether the query has FROM or FROM NAMED clauses (its own RDF dataset)."""
    if "from" not in query.casefold():  # a keyword is spelled out: no token needed to say no
        return False
    tokens = _tokens(query)
    return tokens is not None and "from" in _keywords(tokens)


def names_graphs(query: str) -> bool:
    """Whether the query reads named graphs or declares its dataset (FROM or GRAPH); True
    when it mentions them but cannot be read (the full store then reports the error)."""
    folded = query.casefold()
    if "from" not in folded and "graph" not in folded:
        return False
    tokens = _tokens(query)
    return tokens is None or bool(_keywords(tokens) & {"from", "graph"})
