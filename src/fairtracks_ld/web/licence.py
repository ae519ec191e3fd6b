"""The licence a collection's metadata is published under.

Per-collection licences are not recorded yet (the providers' issue adds them); every caller asks
here, so the pages, the Signposting `license` link and the JSON-LD pick them up once they are.
"""

from __future__ import annotations

from fairtracks_ld.store import TrackStore

NOT_STATED = "licence not stated"


def licence_of(store: TrackStore, collection: str | None) -> str | None:
    """The licence IRI of a collection, or None: not stated (shown as NOT_STATED)."""
    del store, collection  # read from the catalog once collections record a licence
    return None
