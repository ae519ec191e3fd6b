"""The per-value work of an index build that depends only on the ontologies (the ancestors of a
field's values, the names ontologies give a term), remembered from one snapshot's index to the
next while the closure stays the same: at a million tracks it cost about as much as merging the
tracks.

The closure is named by what the catalog records of it (the ontology digest it was computed
from, the reasoner that computed it) and by the ontology graphs loaded; a change of any of them
starts afresh. A batch's answer depends on the batch: a lookup follows an obsolete term's
replacement only as far as the batch's own terms lead, so the same term can have other ancestors
in another batch, and a refresh must give what a full build gives. So what the store says of
each term (obsolete or not, replaced by what, its ancestors in the closure) is kept per term and
asked once, and each batch's answer is made from it as reasoning.stored_ancestors makes it: a
load bringing a new value (a field's batch changes) asks the store about the new terms only.
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
    # per term, what a batch's answer is made of: whether it is obsolete (and what replaces
    # it) and its ancestors in the closure graph, each asked of the store once
    asked_obsolete: set[str] = field(default_factory=set)
    replaced: dict[str, str | None] = field(default_factory=dict)
    descends: dict[str, frozenset[str]] = field(default_factory=dict)

    def ancestors(self, store: TrackStore, terms: set[str]) -> dict[str, frozenset[str]]:
        """reasoning.stored_ancestors(store)(terms), the store asked about new terms only."""
        key = frozenset(terms)
        found = self.batches.get(key)
        if found is None:
            found = self._batch(store, terms)
            if len(self.batches) >= BATCHES_KEPT:
                del self.batches[next(iter(self.batches))]
            self.batches[key] = found
        return found

    def _batch(self, store: TrackStore, terms: set[str]) -> dict[str, frozenset[str]]:
        if not terms:
            return {}
        new = terms - self.asked_obsolete
        if new:
            self.replaced.update(reasoning.replacements(store, new))
            self.asked_obsolete |= new
        replaced = {t: self.replaced[t] for t in terms if t in self.replaced}  # as the batch's
        wanted = terms | {reasoning.follow(t, replaced) for t in replaced}  # own replacements
        missing = wanted - self.descends.keys()
        if missing:
            found = reasoning.closure_ancestors(store, missing)
            self.descends.update((t, frozenset(found.get(t, ()))) for t in missing)
        return {t: reasoning.with_replacement(t, self.descends, replaced) for t in terms}

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
