"""What a SPARQL query's text says about the graphs it reads, without parsing all of SPARQL.

pyoxigraph exposes no query algebra, and a `default_graph=` option silently overrides a query's
own FROM clauses, so the server must know whether a query declares its dataset (FROM / FROM
NAMED) or names graphs (GRAPH). Keywords are found in the query's tokens outside strings, IRIs
and comments; `?from`, `ex:graph` or `"FROM"` are not keywords.
"""

from __future__ import annotations

import re

_LITERAL_OR_IRI_OR_COMMENT = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'  # long strings first
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r"|<[^<>\"{}|^`\\\s]*>"  # IRIREF: no spaces, so `?a < ?b` is not one
    r"|#[^\n]*",
    re.DOTALL,
)
_IRI = r"<[^<>\"{}|^`\\\s]*>"
_PREFIXED_NAME = r"(?:[A-Za-z][\w.-]*)?:(?:[\w-](?:[\w.-]*[\w-])?)?"
_CONSTANT_DESCRIBE = re.compile(
    rf"\s*(?:(?:BASE\s*{_IRI}|PREFIX\s+(?:[A-Za-z][\w.-]*)?:\s*{_IRI})\s*)*"
    rf"DESCRIBE(?:\s*(?:{_IRI}|{_PREFIXED_NAME}))+\s*",
    re.IGNORECASE,
)
_KEYWORD = r"(?<![\w?$:.-])({})(?![\w:-])"
_DATASET = re.compile(_KEYWORD.format("FROM"), re.IGNORECASE)
_GRAPHS = re.compile(_KEYWORD.format("FROM|GRAPH"), re.IGNORECASE)


def _code(query: str) -> str:
    """The query with strings, IRIs and comments blanked out."""
    return _LITERAL_OR_IRI_OR_COMMENT.sub(" ", query)


def _without_comments(query: str) -> str:
    return _LITERAL_OR_IRI_OR_COMMENT.sub(
        lambda match: " " if match.group().startswith("#") else match.group(), query)


def describes_constants(query: str) -> bool:
    """Whether the query is only `DESCRIBE` of IRIs (after a prologue): no pattern, no
    variables, no dataset; its cost is bounded by the triples about those resources."""
    return _CONSTANT_DESCRIBE.fullmatch(_without_comments(query)) is not None


def declares_dataset(query: str) -> bool:
    """Whether the query has FROM or FROM NAMED clauses (its own RDF dataset)."""
    return _DATASET.search(_code(query)) is not None


def names_graphs(query: str) -> bool:
    """Whether the query reads named graphs or declares its dataset (FROM or GRAPH)."""
    return _GRAPHS.search(_code(query)) is not None
