"""The track → ancestor predicates, answered without being stored.

The track predicates users know (`?track ft:cell_type_ancestor <lymphocyte>`) are property paths
from a track to its annotations' terms and on through the class closure (reasoning,
`annotations.track_path`): nothing is stored per track. This module rewrites each such predicate
of a query into its path before the query runs, so queries, the named queries and federated
clients keep working.

Only predicates in verb position of a graph pattern are rewritten, read from the query's tokens:
after `;`, `/`, `|`, `^` or `[`, inside a path group, or right after a triple's subject. Names
used as subjects, objects or in expressions (`ft:cell_type_ancestor rdfs:label ?l`) are left
alone, as are CONSTRUCT templates (paths are not allowed there) and the `CONSTRUCT WHERE` short
form. A query that does not lex is passed on untouched, for the engine to report its error.
"""

from __future__ import annotations

from fairtracks_ld.mapping.annotations import TRACK_PATHS
from fairtracks_ld.mapping.namespaces import PREFIXES
from fairtracks_ld.sparql.tokens import (
    BNODE,
    IRI,
    PNAME,
    PUNCT,
    VAR,
    WORD,
    LexError,
    Token,
    tokenize,
)

_TERMS = (VAR, IRI, PNAME, BNODE)
_AFTER_VERB = {";", "/", "|", "^", "["}  # a verb (or path step) follows these
_BEFORE_SUBJECT = {"{", ".", "}", ")"}  # a triple's subject follows these


def rewrite(query: str, base: str | None = None) -> str:
    """`query` with every track → ancestor predicate in verb position replaced by its path."""
    # a track predicate's IRI contains "ancestor", and a name's characters are kept verbatim in
    # the IRI it resolves to (escapes need a backslash): text without either names none
    if "\\" not in query and "ancestor" not in query:
        return query
    try:
        tokens = tokenize(query, base=base, prefixes=PREFIXES, escapes="in_tokens")
    except LexError:
        return query
    template = _template(tokens)
    edits = [(token.start, token.start + len(token.text), f"({TRACK_PATHS[token.iri]})")
             for index, token in enumerate(tokens)
             if token.kind in (IRI, PNAME) and token.iri in TRACK_PATHS
             and index not in template and _verb(tokens, index)]
    for start, end, path in reversed(edits):
        query = query[:start] + path + query[end:]
    return query


def _verb(tokens: list[Token], index: int) -> bool:
    """Whether the token at `index` is a predicate (or a step of a property path)."""
    after = tokens[index + 1] if index + 1 < len(tokens) else None
    if after is not None and after.kind == PUNCT and after.text == "(":
        return False  # a function call
    before = tokens[index - 1] if index else None
    if before is None or (before.kind != PUNCT and before.kind not in _TERMS):
        return False
    if before.kind == PUNCT:
        if before.text in _AFTER_VERB or before.text == "]":
            return True
        if before.text == "(":  # a path group after a subject or a path step
            earlier = tokens[index - 2] if index >= 2 else None
            return earlier is not None and (
                earlier.kind in _TERMS or (earlier.kind == PUNCT
                and earlier.text in _AFTER_VERB | {"(", "]"}))
        return False
    earlier = tokens[index - 2] if index >= 2 else None
    return earlier is not None and earlier.kind == PUNCT and earlier.text in _BEFORE_SUBJECT


def _template(tokens: list[Token]) -> set[int]:
    """Token indexes inside a CONSTRUCT template (all of a `CONSTRUCT WHERE` query)."""
    for index, token in enumerate(tokens):
        if token.kind == WORD and token.keyword == "construct":
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following is None or following.text != "{":
                return set(range(len(tokens)))  # CONSTRUCT WHERE: the pattern is the template
            depth = 0
            for end in range(index + 1, len(tokens)):
                if tokens[end].text == "{" and tokens[end].kind == PUNCT:
                    depth += 1
                elif tokens[end].text == "}" and tokens[end].kind == PUNCT:
                    depth -= 1
                    if depth == 0:
                        return set(range(index + 1, end + 1))
            return set(range(len(tokens)))
    return set()


def bind_predicate(query: str, variable: str, iri: str) -> str:
    """`query` with the variable `?variable` (or `$variable`) in verb position replaced by `<iri>`,
    a track predicate: a named query's facet parameter. Its path cannot be a variable's value,
    so the predicate is written in (from the closed set of TRACK_PATHS, never user text) for
    `rewrite` to expand; other uses of the variable (a projection) keep taking its value."""
    if iri not in TRACK_PATHS:
        raise ValueError(f"<{iri}> is no track predicate")
    tokens = tokenize(query, prefixes=PREFIXES, escapes="in_tokens")
    template = _template(tokens)
    edits = [(token.start, token.start + len(token.text)) for index, token in enumerate(tokens)
             if token.kind == VAR and token.text[1:] == variable and index not in template
             and _verb(tokens, index)]
    for start, end in reversed(edits):
        query = query[:start] + f"<{iri}>" + query[end:]
    return query
