"""The structured filter syntax the TrackFind-compatible API takes where TrackFind takes SQL.

    query := and ("OR" and)*          and := cond ("AND" cond)*
    cond  := "(" query ")" | "NOT" cond | path op 'value' | path ["NOT"] "UNDER" 'term'
    path  := category->key->key…      e.g. samples->sample_type->cell_line->term_label
    op    := =  (equals; an array matches if one element does; `?` is the same, as in TrackFind)
           | != (no element equals)   | ~ (contains, any case)

UNDER is ontology-aware: true when a value at the path (a term_id, e.g.
samples->sample_type->cell_type->term_id UNDER 'CL:0000542') is the term or one of its
descendants (is_a, part_of, skos:broader; EFO's two IRI forms are one term; an obsolete value
counts as its replacement), as the search page's ancestor-aware fields count. The term is an IRI,
a CURIE or an exact label or synonym (any case); an unknown or ambiguous one is a 400. NOT UNDER:
no value at the path is. Keywords (AND, OR, NOT, UNDER) are case-insensitive.

Values are single-quoted ('' inside for a quote). The filter is parsed into a tree and evaluated
in Python over the documents' JSON: no text of it reaches SQL or SPARQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

CATEGORIES = ("tracks", "experiments", "samples", "studies", "collection_info", "doc_info")
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>!=|=|~|\?)|(?P<arrow>->)"
                    r"|(?P<paren>[()])|(?P<word>[A-Za-z_@](?:[A-Za-z0-9_@.:]|-(?!>))*))")
MAX_LENGTH = 4000
Record = Mapping[str, Any]
Test = Callable[[Record], bool]
Below = Callable[[str], frozenset[str]]  # a term as given → the IRIs of it and its descendants


class FilterError(ValueError):
    """A filter that does not follow the syntax (answered with 400)."""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if not match or match.end() == at:
            raise FilterError(f"unexpected {text[at:at + 20]!r} at character {at + 1} of the "
                              "query (see the filter syntax in /api/v1/openapi.json)")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        at = match.end()
    return tokens


def values_at(content: Any, path: list[str]) -> list[Any]:
    """Scalars at `path` below `content` (arrays are looked through)."""
    return [v for v in _nodes_at(content, path) if not isinstance(v, dict | list)]


def _nodes_at(content: Any, path: list[str]) -> list[Any]:
    found = [content]
    for key in path:
        step = []
        for item in found:
            for node in (item if isinstance(item, list) else [item]):
                if isinstance(node, dict) and key in node:
                    step.append(node[key])
        found = step
    flat = []
    for item in found:
        flat.extend(item if isinstance(item, list) else [item])
    return flat


def check_paths(paths: list[tuple[str, list[str]]], records: list[Record]) -> None:
    """FilterError for a path that ends at an object (an ontology annotation, a contact …),
    which no value equals: it names the keys that continue it (`->term_id`, `->term_label`)."""
    for category, path in paths:
        keys: set[str] = set()
        scalars = False
        for record in records:
            for node in _nodes_at(record.get(category), path):
                if isinstance(node, dict):
                    keys.update(node)
                else:
                    scalars = True
        if keys and not scalars:
            where = "->".join((category, *path))
            raise FilterError(f"{where} is an object, not a value: continue the path with "
                              f"{' or '.join('->' + k for k in sorted(keys))}")


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class _Parser:
    def __init__(self, text: str, below: Below | None) -> None:
        if len(text) > MAX_LENGTH:
            raise FilterError(f"the query is longer than {MAX_LENGTH} characters")
        self.tokens = _tokens(text)
        self.at = 0
        self.below = below
        self.paths: list[tuple[str, list[str]]] = []

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, kind: str, what: str) -> str:
        found = self.peek()
        if found[0] != kind:
            raise FilterError(f"expected {what} but found {found[1] or 'the end'!r}")
        self.at += 1
        return found[1]

    def keyword(self, word: str) -> bool:
        kind, value = self.peek()
        if kind == "word" and value.upper() == word:
            self.at += 1
            return True
        return False

    def query(self) -> Test:
        tests = [self.conjunction()]
        while self.keyword("OR"):
            tests.append(self.conjunction())
        return tests[0] if len(tests) == 1 else (lambda r: any(t(r) for t in tests))

    def conjunction(self) -> Test:
        tests = [self.condition()]
        while self.keyword("AND"):
            tests.append(self.condition())
        return tests[0] if len(tests) == 1 else (lambda r: all(t(r) for t in tests))

    def condition(self) -> Test:
        if self.peek() == ("paren", "("):
            self.at += 1
            inner = self.query()
            if self.take("paren", "')'") != ")":
                raise FilterError("expected ')'")
            return inner
        if self.keyword("NOT"):
            inner = self.condition()
            return lambda r: not inner(r)
        category = self.take("word", "a category (tracks, experiments, samples, …)")
        if category not in CATEGORIES:
            raise FilterError(f"unknown category {category!r}; one of {', '.join(CATEGORIES)}")
        path = []
        while self.peek()[0] == "arrow":
            self.at += 1
            path.append(self.take("word", "an attribute name after '->'"))
        if not path:
            raise FilterError(f"{category} needs an attribute path (e.g. {category}->local_id)")
        self.paths.append((category, path))
        if self.keyword("NOT"):
            if not self.keyword("UNDER"):
                raise FilterError("expected UNDER after NOT (NOT before a condition negates it)")
            inner = self.under(category, path)
            return lambda r: not inner(r)
        if self.keyword("UNDER"):
            return self.under(category, path)
        op = self.take("op", "an operator (=, !=, ~, ?, UNDER, NOT UNDER)")
        return _compare(category, path, op, self.value())

    def value(self) -> str:
        raw = self.take("str", "a single-quoted value")
        return raw[1:-1].replace("''", "'")

    def under(self, category: str, path: list[str]) -> Test:
        """`path UNDER 'term'`: the term is resolved (and its descendants found) once, here."""
        given = self.value()
        if self.below is None:
            raise FilterError("UNDER is not available here (it needs the store's ontologies)")
        terms = self.below(given)
        return lambda r: any(_text(v) in terms for v in values_at(r.get(category), path))


def _compare(category: str, path: list[str], op: str, value: str) -> Test:
    needle = value.lower()

    def test(record: Record) -> bool:
        found = [_text(v) for v in values_at(record.get(category), path)]
        if op == "~":
            return any(needle in v.lower() for v in found)
        if op == "!=":
            return value not in found
        return value in found

    return test


def parse_filter(text: str, below: Below | None = None,
                 paths: list[tuple[str, list[str]]] | None = None) -> Test:
    """A predicate over search records ({category: content}); FilterError when malformed.
    `below` resolves the term of an UNDER condition (FilterError when it cannot); the
    attribute paths the filter names are added to `paths` when given (for check_paths)."""
    parser = _Parser(text, below)
    if paths is not None:
        parser.paths = paths
    if not parser.tokens:
        raise FilterError("the query is empty")
    test = parser.query()
    if parser.at != len(parser.tokens):
        raise FilterError(f"unexpected {parser.peek()[1]!r} after a complete condition "
                          "(join conditions with AND or OR)")
    return test
