"""The skolemisation docs/mapping.md documents, written again from its text for the tests (not
taken from the product, so a drift in either is caught): JSON-LD toRdf's rdf:List blank nodes
become hash IRIs of the node that owns the list.

The list that is `<s>`'s value of `<p>` has its cell n (from 1) named `<s>#{name}-list-{n}`,
`name` the local name of `p` (after its last `#` or `/`), percent-encoded; when `s` has a
fragment already, `<s>/{name}-list-{n}`.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pyoxigraph as ox

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
FIRST, REST = ox.NamedNode(RDF + "first"), ox.NamedNode(RDF + "rest")


def cell(owner: str, predicate: str, position: int) -> ox.NamedNode:
    name = quote(re.split("[#/]", predicate)[-1], safe="")
    return ox.NamedNode(f"{owner}{'/' if '#' in owner else '#'}{name}-list-{position}")


def skolemised(quads: list[ox.Quad]) -> list[ox.Quad]:
    """The quads with every list's blank nodes renamed by the rule; any other blank node, or a
    list cell that is not a blank node only its owner links to, fails the test."""
    rest = {q.subject: q.object for q in quads if q.predicate == REST}
    names: dict[ox.BlankNode, ox.NamedNode] = {}
    for quad in quads:
        head = quad.object
        if isinstance(head, ox.BlankNode) and quad.predicate not in (FIRST, REST):
            assert isinstance(quad.subject, ox.NamedNode), quad
            position = 1
            while isinstance(head, ox.BlankNode):
                assert head not in names, f"{head} is in two lists"
                names[head] = cell(quad.subject.value, quad.predicate.value, position)
                head, position = rest[head], position + 1

    def name(term):
        if isinstance(term, ox.BlankNode):
            return names[term]
        return term

    return [ox.Quad(name(q.subject), q.predicate, name(q.object), q.graph_name) for q in quads]


def same_skolemised(ours: list[ox.Quad], jsonld: list[ox.Quad]) -> bool:
    """`ours` (no blank node, no quad twice) is exactly the JSON-LD quads skolemised."""
    assert not any(isinstance(t, ox.BlankNode) for q in ours for t in (q.subject, q.object))
    return len(set(ours)) == len(ours) and set(ours) == set(skolemised(jsonld))
