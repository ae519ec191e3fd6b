"""Typed literals kept as written.

Oxigraph stores XSD literals by value: "42"^^xsd:byte becomes "42"^^xsd:integer, "01" becomes
"1", "300"^^xsd:byte (out of range) an integer. SHACL compares terms as written, so literals
that Oxigraph would rewrite are stored under a private datatype that keeps the lexical form and
names the written datatype, and ill-typed ones (lexical form invalid for their XSD datatype,
decided by rdflib as pySHACL does) under another; results are decoded back. The compiled
queries know both forms (`typed` for comparisons, `datatype_ok` for sh:datatype).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import lru_cache

import pyoxigraph as ox

from fairtracks_ld.validation.vocab import XSD

AS_WRITTEN = "urn:fairtracks-ld:as-written:"  # + the written XSD datatype (well-formed)
ILL_TYPED = "urn:fairtracks-ld:ill-typed:"  # + the written XSD datatype (ill-formed)
_STRING = XSD + "string"
_KEPT = {_STRING}
_CANONICAL_INTEGER = re.compile(r"^(0|-?[1-9][0-9]*)$")


def _ill_typed(lexical: str, datatype: str) -> bool:
    import rdflib

    logging.getLogger("rdflib.term").setLevel(logging.ERROR)  # ill-typed input is expected
    return bool(rdflib.Literal(lexical, datatype=rdflib.URIRef(datatype)).ill_typed)


def _stored(literals: list[ox.Literal]) -> list[ox.Literal]:
    """The terms Oxigraph stores for literals (one scratch in-memory store for the batch)."""
    store = ox.Store()
    predicate = ox.NamedNode("urn:p")
    store.extend(ox.Quad(ox.NamedNode(f"urn:{i}"), predicate, literal)
                 for i, literal in enumerate(literals))
    return [next(iter(store.quads_for_pattern(ox.NamedNode(f"urn:{i}"), predicate, None))).object
            for i in range(len(literals))]


def _needs_check(literal: ox.Literal) -> bool:
    datatype = literal.datatype.value
    if not datatype.startswith(XSD) or datatype in _KEPT or literal.language:
        return False
    if datatype == XSD + "integer":
        return _CANONICAL_INTEGER.match(literal.value) is None
    return not (datatype == XSD + "boolean" and literal.value in ("true", "false"))


def _encoded(literal: ox.Literal, stored: ox.Literal) -> ox.Literal:
    datatype = literal.datatype.value
    if _ill_typed(literal.value, datatype):
        return ox.Literal(literal.value, datatype=ox.NamedNode(ILL_TYPED + datatype))
    if stored != literal:
        return ox.Literal(literal.value, datatype=ox.NamedNode(AS_WRITTEN + datatype))
    return literal


@lru_cache(maxsize=4096)
def encode(literal: ox.Literal) -> ox.Literal:
    """The term the store holds for a literal read with `encode_quads` (shapes' parameters)."""
    if not _needs_check(literal):
        return literal
    return _encoded(literal, _stored([literal])[0])


def encode_quads(quads: Iterable[ox.Quad | ox.Triple]) -> list[ox.Quad | ox.Triple]:
    """Quads (or triples) whose typed literals Oxigraph would rewrite (or that are ill-typed)
    encoded."""
    quads = quads if isinstance(quads, list) else list(quads)
    typed = {o for q in quads if type(o := q.object) is ox.Literal
             and (d := o.datatype.value) != _STRING and d.startswith(XSD)}  # strings: most
    written = [literal for literal in typed if _needs_check(literal)]
    if not written:
        return quads
    mapping = {}
    for literal, stored in zip(written, _stored(written), strict=True):
        encoded = _encoded(literal, stored)
        if encoded is not literal:
            mapping[literal] = encoded
    if not mapping:
        return quads
    return [(ox.Quad(q.subject, q.predicate, mapping[q.object], q.graph_name)
             if type(q) is ox.Quad else ox.Triple(q.subject, q.predicate, mapping[q.object]))
            if q.object in mapping else q for q in quads]


def decode(term: ox.NamedNode | ox.BlankNode | ox.Literal | None):
    """A stored term as it was written."""
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value
        for prefix in (AS_WRITTEN, ILL_TYPED):
            if datatype.startswith(prefix):
                return ox.Literal(term.value, datatype=ox.NamedNode(datatype[len(prefix):]))
    return term


def typed(v: str) -> str:
    """SPARQL: the value of `v` with its written datatype (for comparisons)."""
    return (f'IF(STRSTARTS(STR(DATATYPE({v})), "{AS_WRITTEN}"), STRDT(STR({v}), '
            f'IRI(STRAFTER(STR(DATATYPE({v})), "{AS_WRITTEN}"))), {v})')


def datatype_written(datatype: str) -> str:
    """The private datatype of well-formed literals of `datatype` that Oxigraph rewrites."""
    return AS_WRITTEN + datatype
