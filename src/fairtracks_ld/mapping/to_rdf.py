"""Prepared JSON-LD → RDF quads, by the fast path (Oxigraph) or the reference path (pyld).

Both read the same prepared JSON-LD with the same inlined context; a test proves their graphs
are isomorphic. The fast path never builds Python objects per triple when writing to the store.
"""

from __future__ import annotations

import pyoxigraph as ox
from pyld import jsonld

from fairtracks_ld.mapping.prepare import MappingError, Prepared


def quads_fast(prepared: Prepared, graph: str | None = None) -> list[ox.Quad]:
    """Oxigraph's native JSON-LD parser (the default path)."""
    try:
        return list(ox.parse(prepared.jsonld_bytes(graph), format=ox.RdfFormat.JSON_LD))
    except SyntaxError as error:
        raise MappingError("", f"JSON-LD conversion failed: {error}") from error


def quads_reference(prepared: Prepared, graph: str | None = None) -> list[ox.Quad]:
    """pyld's expand/toRDF: the reference implementation of the JSON-LD algorithms."""
    nquads = jsonld.to_rdf(prepared.jsonld(graph), {"format": "application/n-quads"})
    return list(ox.parse(nquads, format=ox.RdfFormat.N_QUADS))
