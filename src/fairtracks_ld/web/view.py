"""The current view as the server reads it: the store's default graph (see current_view).

Descriptions read the indexes directly (`quads_for_pattern` on the default graph) instead of one
SPARQL query per node; the default graph is an RDF set, so each triple comes once.
"""

from __future__ import annotations

from collections.abc import Iterator
from weakref import WeakKeyDictionary

import pyoxigraph as ox

from fairtracks_ld.mapping.namespaces import PREFIXES
from fairtracks_ld.store import TrackStore

Graph = ox.NamedNode | ox.DefaultGraph
VIEW: list[Graph] = [ox.DefaultGraph()]
_CURRENT: WeakKeyDictionary[TrackStore, frozenset[ox.NamedNode]] = WeakKeyDictionary()


def default_graphs(store: TrackStore) -> list[Graph]:
    """The graphs a query on this store sees by default: the default graph."""
    return VIEW


def query(store: TrackStore, sparql: str, **options) -> ox.QuerySolutions:
    """SPARQL over the current view."""
    return store.ox.query(sparql, prefixes=PREFIXES, **options)


def triples(store: TrackStore, subject: ox.NamedNode | ox.BlankNode | None = None,
            predicate: ox.NamedNode | None = None,
            obj: ox.NamedNode | ox.BlankNode | ox.Literal | None = None) -> Iterator[ox.Triple]:
    """The view's triples matching a pattern, straight from Oxigraph's indexes."""
    for quad in store.ox.quads_for_pattern(subject, predicate, obj, ox.DefaultGraph()):
        yield quad.triple


def current_graphs(store: TrackStore) -> frozenset[ox.NamedNode]:
    """The current version graphs, asked of the catalog once per opened snapshot (read-only:
    it cannot change while open)."""
    if not store.read_only:
        return frozenset(store.current_graphs())
    found = _CURRENT.get(store)
    if found is None:
        found = _CURRENT[store] = frozenset(store.current_graphs())
    return found
