"""The per-value work of an index build that depends only on the ontologies (the ancestors of a
field's values, the names ontologies give a term), remembered from one snapshot's index to the
next while the closure stays the same: at a million tracks it cost about as much as merging the
tracks, and a load rarely brings a value the previous index did not have.

The closure is named by what the catalog records of it (the ontology digest it was computed
from, the reasoner that computed it) and by the ontology graphs loaded; a change of any of them
starts afresh. Ancestors are remembered per batch of terms as asked, not per term: a lookup
follows an obsolete term's replacement only as far as the batch's own terms lead, so the same
term can have other ancestors in another batch, and a refresh must give what a full build gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from fairtracks_ld import reasoning
from fairtracks_ld.store import TrackStore

Names = list[tuple[str, str]]  # (how, name): "label", "synonym", … as queries.LABEL_TIERS
BATCHES_KEPT = 64  # ancestor batches remembered (a build asks about 10)


@dataclass
class Lookups:
    """Answers about values that hold as long as the closure is the same."""

    closure: tuple[str | None, ...]
    batches: dict[frozenset[str], dict[str, frozenset[str]]] = field(default_factory=dict)
    names: dict[str, Names] = field(default_factory=dict)

    def ancestors(self, store: TrackStore, terms: set[str]) -> dict[str, frozenset[str]]:
        """reasoning.stored_ancestors(store)(terms), asked of the store once per batch."""
        key = frozenset(terms)
        found = self.batches.get(key)
        if found is None:
            found = reasoning.stored_ancestors(store)(set(terms))
            if len(self.batches) >= BATCHES_KEPT:
                del self.batches[next(iter(self.batches))]
            self.batches[key] = found
        return found

    def ontology_names(self, store: TrackStore, terms: list[str],
                       properties: dict[str, str]) -> dict[str, Names]:
        """The names the ontology graphs give each term (property IRI → how, e.g. label)."""
        missing = [t for t in terms if t not in self.names]
        if missing:
            graphs = set(reasoning.ontology_graphs(store))
            nodes = [ox.NamedNode(p) for p in properties]
            batch = getattr(store.ox, "quads_in", None)  # a remote store (backend.dataset):
            asked = batch(missing, nodes, graphs) if batch is not None else None  # batched
            for term in missing:  # index lookups: a VALUES query over the ontology graphs is
                node = ox.NamedNode(term)  # 40x slower
                self.names[term] = [
                    (properties[prop.value], quad.object.value) for prop in nodes
                    for quad in (store.ox.quads_for_pattern(node, prop, None, None)
                                 if asked is None else
                                 (q for q in asked.get(term, ()) if q.predicate == prop))
                    if isinstance(quad.object, ox.Literal) and quad.graph_name in graphs]
        return {t: self.names[t] for t in terms if self.names[t]}


def lookups_for(store: TrackStore, previous: Lookups | None) -> Lookups:
    """`previous` while the store's closure is the one it was made for, else a new one."""
    closure = (reasoning.recorded_digest(store), reasoning.recorded_reasoner(store),
               *(f"{o.graph} {o.version_iri} {o.loaded_at}" for o in store.ontologies()))
    if previous is not None and previous.closure == closure:
        return previous
    return Lookups(closure)
