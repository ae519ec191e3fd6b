"""What the store publishes, graph by graph, each with a fingerprint that changes whenever the
graph's content may have changed: read only through the store's public methods (`versions`,
`ontologies`, `view_sources`, `graph_quads`), so the publication follows the store's layout.

Fingerprints are cheap where the catalog already says when a graph was written (a version graph
and its validation report are never changed after their load; an ontology graph changes only by
a new load), derived from the closure's catalog record for the closure graph (rewritten in
place when the ontologies change), and a content hash for everything else (the catalog itself,
any graph the layout adds). After a SPARQL Update the catalog carries `dcterms:modified`, which
then enters every fingerprint: such a store is republished whole once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

import pyoxigraph as ox

from fairtracks_ld import reasoning
from fairtracks_ld.mapping.namespaces import DCTERMS
from fairtracks_ld.store import TrackStore, report_graph
from fairtracks_ld.withdrawal import hidden_graphs


@dataclass(frozen=True)
class PlannedGraph:
    """One graph to hold in the target, with what it is (for messages) and its fingerprint."""

    iri: str
    role: str  # version, report, ontology, closure, catalog, other
    fingerprint: str


@dataclass(frozen=True)
class Plan:
    """Everything one publication holds: the graphs (the catalog last, since publishing it
    is what makes the rest visible) and the graphs of the current view, in the store's order."""

    graphs: tuple[PlannedGraph, ...]
    catalog: PlannedGraph
    default_graphs: tuple[str, ...]

    @property
    def iris(self) -> frozenset[str]:
        return frozenset(g.iri for g in self.graphs) | {self.catalog.iri}


def content_hash(store: TrackStore, graph: str) -> str:
    """SHA-256 of the graph's quads in the store's order (stable for unchanged content)."""
    digest = hashlib.sha256()
    quads = store.graph_quads(graph)
    while batch := list(islice(quads, 20_000)):
        digest.update(ox.serialize(batch, format=ox.RdfFormat.N_QUADS))
    return "sha256:" + digest.hexdigest()


def _catalog_facts(store: TrackStore, subject: str) -> list[ox.Quad]:
    catalog = store.graph_quads(store.catalog)
    return sorted((q for q in catalog if q.subject == ox.NamedNode(subject)), key=str)


def make_plan(store: TrackStore, history: bool = False) -> Plan:
    """The graphs of the current view (default graphs, the catalog, current versions' reports);
    with `history` also every earlier version with its report. Graphs of withdrawn documents
    are left out, as the dumps leave them out."""
    modified = "".join(str(q.object) for q in _catalog_facts(store, store.catalog)
                       if q.predicate.value == DCTERMS + "modified")
    closure = reasoning.closure_graph(store)
    closure_stamp = hashlib.sha256(repr(_catalog_facts(store, closure)).encode()).hexdigest()
    hidden = {g.value for g in hidden_graphs(store)}
    known: dict[str, tuple[str, str]] = {}  # graph → (role, stamp)
    for version in store.versions():
        stamp = version.loaded_at
        known[version.graph] = ("version", stamp)
        known[report_graph(version.graph)] = ("report", stamp)
    for ontology in store.ontologies():
        known[ontology.graph] = ("ontology", ontology.loaded_at)
    known[closure] = ("closure", closure_stamp)

    default = tuple(sorted(store.view_sources()))  # the view is the merge of these graphs
    wanted = list(default)
    for version in store.versions():
        if version.current or history:
            wanted += [version.graph, report_graph(version.graph)]
    graphs: dict[str, PlannedGraph] = {}
    for iri in wanted:
        if iri in graphs or iri in hidden or iri == store.catalog or _empty(store, iri):
            continue  # an empty graph is no graph to SPARQL (the target would drop it)
        role, stamp = known.get(iri, ("other", ""))
        fingerprint = f"{role} {stamp} {modified}".strip() if stamp else content_hash(store, iri)
        graphs[iri] = PlannedGraph(iri, role, fingerprint)
    catalog = PlannedGraph(store.catalog, "catalog", content_hash(store, store.catalog))
    return Plan(tuple(graphs.values()), catalog, tuple(g for g in default if g in graphs))


def _empty(store: TrackStore, graph: str) -> bool:
    return not store.has_graph(graph) or next(iter(store.graph_quads(graph)), None) is None


def triples(store: TrackStore, graph: str) -> Iterator[ox.Triple]:
    """A graph's triples, streamed."""
    return (quad.triple for quad in store.graph_quads(graph))
