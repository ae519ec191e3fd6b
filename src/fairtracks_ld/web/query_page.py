"""`/query`: a SPARQL editor for people (YASGUI, served from this package: no CDN, works offline).

The page opens one YASGUI tab per example query of `queries/*.rq`, named after the file, against
this server's `/sparql`. A parameterised query gets its parameters bound to the example its
header names (a CURIE, a facet or a quoted string) by a `VALUES` line in the innermost group
that uses them (a facet used as a predicate is written in: it is a path, not a value), so every
tab runs as it is and shows where to change the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from flask import Blueprint, render_template, url_for

from fairtracks_ld.ontology.iris import curie_to_iri
from fairtracks_ld.queries import NamedQuery, Param, list_queries, resolve_facet, with_facets
from fairtracks_ld.sparql.tokens import VAR, WORD, LexError, Token, tokenize

blueprint = Blueprint("query_page", __name__)

_CURIE = re.compile(r"\b([A-Za-z][A-Za-z_]*:[A-Za-z]*\d+)\b")
_QUOTED = re.compile(r"\"([^\"]+)\"")
_WORD = re.compile(r"[a-z_]+")


@dataclass(frozen=True)
class Example:
    """One example tab: the query's name, its description and the text to run."""

    name: str
    description: str
    query: str


def example_value(param: Param) -> str | None:
    """The SPARQL term for the example a parameter's description gives, if any."""
    if param.kind == "class":
        for curie in _CURIE.findall(param.description):
            iri = curie_to_iri(curie)
            if iri:
                return f"<{iri}>"
    elif param.kind == "facet":
        for word in _WORD.findall(param.description.split(":", 1)[-1]):
            try:
                return f"<{resolve_facet(word)}>"
            except ValueError:
                continue
    else:
        quoted = _QUOTED.search(param.description)
        if quoted:
            return '"' + quoted.group(1).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return None


def _block_end(tokens: tuple[Token, ...], brace: int) -> int:
    """Index of the `}` token closing the `{` token at `brace`."""
    depth = 0
    for index in range(brace, len(tokens)):
        depth += {"{": 1, "}": -1}.get(tokens[index].text, 0)
        if depth == 0:
            return index
    return len(tokens)


def bind_examples(text: str, values: dict[str, str]) -> str:
    """Insert `VALUES ?x { v }` lines into the innermost WHERE group that uses each variable."""
    try:
        tokens = tuple(tokenize(text))
    except LexError:
        return text
    braces = [index + 1 for index, token in enumerate(tokens[:-1])  # each WHERE's `{`
              if token.kind == WORD and token.keyword == "where" and tokens[index + 1].text == "{"]
    if not braces or not values:
        return text
    inserts: dict[int, list[str]] = {}
    for name, value in values.items():
        chosen = braces[0]
        for brace in reversed(braces):
            if any(token.kind == VAR and token.text[1:] == name
                   for token in tokens[brace:_block_end(tokens, brace)]):
                chosen = brace
                break
        inserts.setdefault(chosen, []).append(f"VALUES ?{name} {{ {value} }}")
    out = text
    for brace in sorted(inserts, reverse=True):
        depth = sum({"{": 1, "}": -1}.get(token.text, 0) for token in tokens[:brace + 1])
        at = tokens[brace].start + 1
        lines = "".join(f"\n{'  ' * max(1, depth)}{line}  # example value: change it or remove "
                        "this line" for line in inserts[brace])
        out = out[:at] + lines + out[at:]
    return out


def example(query: NamedQuery) -> Example:
    values = {p.name: v for p in query.params if (v := example_value(p)) is not None}
    facets = {name: value[1:-1] for name, value in values.items()}  # `<iri>` → the IRI
    return Example(query.name, query.description,
                   bind_examples(with_facets(query, facets), values))


@cache
def examples() -> tuple[Example, ...]:
    """The example queries, read once per process (they ship with the package)."""
    ordered = sorted(list_queries(), key=lambda q: (bool(q.params), q.name))
    return tuple(example(q) for q in ordered)


@blueprint.route("/query")
def query_page() -> str:
    return render_template(
        "query.html", examples=[e.__dict__ for e in examples()],
        endpoint=url_for("sparql.endpoint"),
    )
