"""Prepared document → RDF quads, by the direct path (the store's) or the reference path (pyld).

The direct path writes the prepared JSON-LD tree as N-Triples by the published context
(`emit`), the reference path runs pyld's JSON-LD expansion and toRdf on the same tree with the
same context; tests/test_direct_mapping.py proves their graphs isomorphic.
"""

from __future__ import annotations

import pyoxigraph as ox
from pyld import jsonld

from fairtracks_ld.mapping.prepare import Prepared


def quads_fast(prepared: Prepared, graph: str | None = None) -> list[ox.Quad]:
    """The quads the store gets (`Prepared.ntriples`), in `graph` (default: the version
    graph)."""
    return [ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(graph or prepared.graph))
            for t in ox.parse(prepared.ntriples(), format=ox.RdfFormat.N_TRIPLES)]


def quads_reference(prepared: Prepared, graph: str | None = None) -> list[ox.Quad]:
    """pyld's expand/toRDF: the reference implementation of the JSON-LD algorithms."""
    nquads = jsonld.to_rdf(prepared.jsonld(graph), {"format": "application/n-quads"})
    return list(ox.parse(nquads, format=ox.RdfFormat.N_QUADS))
