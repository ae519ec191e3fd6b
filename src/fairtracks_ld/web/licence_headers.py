"""The licences of exported tracks: per track its collection's terms (fairtracks_ld.licences),
and on the export's response a `Link: <licence>; rel="license"` per licence (RFC 8288) plus a
`Licence` header summarising them ("licence not stated" for a collection without one)."""

from __future__ import annotations

import numpy as np
from flask import Response, current_app

from fairtracks_ld import licences
from fairtracks_ld.search.index import FacetIndex


class CollectionTerms(dict[str, licences.Terms]):
    """Collection IRI → its terms, with `of`: the collection of each exported track, in order."""

    of: list[str]

    def headers(self, response: Response) -> None:
        stated = sorted({t.licence.iri for t in self.values() if t.licence})
        for iri in stated:
            response.headers.add("Link", f'<{iri}>; rel="license"')
        summary = " | ".join(sorted({t.summary for t in self.values()})) or licences.NOT_STATED
        response.headers["Licence"] = summary.encode("ascii", "replace").decode()


def collection_terms(ix: FacetIndex, positions: np.ndarray) -> CollectionTerms:
    """The terms of the collections holding the tracks at `positions` (index positions)."""
    field = ix.fields["collection"]
    store = current_app.extensions["snapshots"].store()
    terms = CollectionTerms()
    terms.of = []
    for combination in field.column[positions].tolist():
        members = field.members[field.starts[combination]:field.starts[combination + 1]]
        collection = field.keys[members[0]] if len(members) else ""
        if collection not in terms:
            terms[collection] = (licences.terms_of(store, collection) if collection
                                 else licences.Terms())
        terms.of.append(collection)
    return terms
