"""The "Licence" search facet: is a track's collection under an open licence?

Licences are stated per collection in the catalog or the collections file
(`fairtracks_ld.licences`), not in the version graphs the facet index reads, so this facet is
derived from the collection facet when the index is built (`index.derived_index`): each
collection gets one value, "open licence" (`licences.is_open`: OSI-approved or FSF-libre in the
SPDX list, or CC0 or CC BY), "other licence" (stated, not open) or "licence not stated" (also
the value of a track with no collection).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fairtracks_ld import licences
from fairtracks_ld.store import TrackStore

_log = logging.getLogger(__name__)
OPEN, OTHER, NOT_STATED = "open licence", "other licence", licences.NOT_STATED


def licence_classes(store: TrackStore) -> Callable[[str], str]:
    """Collection IRI → OPEN, OTHER or NOT_STATED, as the store's catalog and the collections
    file state it now."""
    def of(collection: str) -> str:
        try:
            licence = licences.licence_of(store, collection)
        except licences.LicenceError as error:  # a broken collections file: say so, search on
            _log.warning("licence of %s: %s", collection, error)
            return NOT_STATED
        if licence is None:
            return NOT_STATED
        return OPEN if licences.is_open(licence) else OTHER

    return of
