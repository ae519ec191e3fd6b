"""The current view of an opened snapshot, computed once: a snapshot is read-only, so its view
(the graphs a query sees by default) cannot change while it is open.

`TrackStore.default_graphs()` asks the catalog on every call; the server asks for every query and
for every node of a description, so it caches the answer per opened store. Descriptions read the
indexes directly (`quads_for_pattern`, filtered to the view) instead of one SPARQL query per node.
"""

from __future__ import annotations

from collections.abc import Iterator
from weakref import WeakKeyDictionary

import pyoxigraph as ox

from fairtracks_ld.store import PREFIXES, TrackStore

Graph = ox.NamedNode | ox.DefaultGraph
_CACHE: WeakKeyDictionary[TrackStore, tuple[list[Graph], frozenset[Graph]]] = (
    WeakKeyDictionary())


def _view(store: TrackStore) -> tuple[list[Graph], frozenset[Graph]]:
    if not store.read_only:  # a writable store can change under us: never cache
        graphs = store.default_graphs()
        return graphs, frozenset(graphs)
    cached = _CACHE.get(store)
    if cached is None:
        graphs = store.default_graphs()
        cached = _CACHE[store] = (graphs, frozenset(graphs))
    return cached


def default_graphs(store: TrackStore) -> list[Graph]:
    """The graphs a query on this store sees by default."""
    return _view(store)[0]


def query(store: TrackStore, sparql: str, **options) -> ox.QuerySolutions:
    """SPARQL over the current view (like TrackStore.query, without re-reading the catalog)."""
    return store.ox.query(sparql, default_graph=default_graphs(store), prefixes=PREFIXES,
                          **options)


def triples(store: TrackStore, subject: ox.NamedNode | ox.BlankNode | None = None,
            predicate: ox.NamedNode | None = None,
            obj: ox.NamedNode | ox.BlankNode | ox.Literal | None = None) -> Iterator[ox.Triple]:
    """The view's triples matching a pattern, each once, straight from Oxigraph's indexes."""
    graphs = _view(store)[1]
    seen: set[ox.Triple] = set()
    for quad in store.ox.quads_for_pattern(subject, predicate, obj, None):
        if quad.graph_name in graphs:
            triple = quad.triple
            if triple not in seen:
                seen.add(triple)
                yield triple
