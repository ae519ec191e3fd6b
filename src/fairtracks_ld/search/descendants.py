"""Each ontology term's descendants in one store snapshot, for the API's `UNDER` filter.

A value is under a term when the term is among the value's ancestors as the track predicates
reach them through the closure (`ft:cell_type_ancestor`, …, which the search page counts), so
the API and the page agree: the closure's `ft:descends_from` read backwards
(EFO's two IRI forms are equivalent classes there), plus the obsolete terms whose replacement
(followed to its end, as reasoning.effective_term does) is below. A snapshot never changes, so each
term is worked out once per snapshot.
"""

from __future__ import annotations

from functools import cached_property, lru_cache

import pyoxigraph as ox

from fairtracks_ld import reasoning
from fairtracks_ld.ontology.iris import alternative_iris
from fairtracks_ld.queries import QueryError, resolve_term
from fairtracks_ld.search.filters import FilterError
from fairtracks_ld.store import TrackStore

CACHED_TERMS = 256


class Descendants:
    """Term (IRI, CURIE or exact label/synonym) → the IRIs of it and of its descendants."""

    def __init__(self, store: TrackStore) -> None:
        self.store = store
        self.iri = lru_cache(maxsize=CACHED_TERMS)(self._resolve)
        self.below = lru_cache(maxsize=CACHED_TERMS)(self._below)

    @cached_property
    def replaced(self) -> dict[str, str | None]:
        """Every obsolete class → its replacement, read once."""
        return reasoning.replacements(self.store)

    def __call__(self, given: str) -> frozenset[str]:
        return self.below(self.iri(given))

    def _resolve(self, given: str) -> str:
        try:
            return resolve_term(self.store, given).iri
        except QueryError as error:
            raise FilterError(str(error)) from error
        except ValueError as error:  # a CURIE that expands to no valid IRI
            raise FilterError(f"{given!r} is not a valid term: {error}") from error

    def _below(self, iri: str) -> frozenset[str]:
        rows = self.store.ox.query(  # a resolved, valid IRI, serialised by Oxigraph
            f"SELECT ?d WHERE {{ GRAPH {ox.NamedNode(reasoning.closure_graph(self.store))} "
            f"{{ ?d {ox.NamedNode(reasoning.DESCENDS_FROM)} {ox.NamedNode(iri)} }} }}")
        found = {iri, *alternative_iris(iri), *(row[0].value for row in rows)}
        replaced = self.replaced
        return frozenset(found | {old for old in replaced
                                  if reasoning.follow(old, replaced) in found})
