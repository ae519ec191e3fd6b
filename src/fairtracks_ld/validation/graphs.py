"""The data graph a document is validated in: a named graph (the version graph of a store being
loaded), or the default graph of a scratch store, which the validation service loads faster
(no graph name to encode and index with each of a large document's quads)."""

from __future__ import annotations

import pyoxigraph as ox

DataGraph = ox.NamedNode | ox.DefaultGraph


def data_graph(iri: str | None) -> DataGraph:
    """The named graph `iri`, or the default graph when None."""
    return ox.NamedNode(iri) if iri is not None else ox.DefaultGraph()


def in_graph(graph: DataGraph, pattern: str) -> str:
    """A SPARQL group matching `pattern` in `graph` (a query's default graph being the store's
    default graph, as it is for `ox.Store.query` without a dataset)."""
    if isinstance(graph, ox.NamedNode):
        return f"GRAPH {graph} {{ {pattern} }}"
    return f"{{ {pattern} }}"
