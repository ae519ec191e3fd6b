"""The tracks of a collection, a page at a time, for the collection's page.

A collection may hold a million tracks: they are read from the search index (the `collection`
field), and only one page's rows go to the store, exactly as the search page does it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fairtracks_ld.search.engine import SearchError, page_positions, parse_search, run_search
from fairtracks_ld.search.rollup import used_values
from fairtracks_ld.web.search import fetch_rows, index

PAGE_SIZE = 50


@dataclass(frozen=True)
class Members:
    """One page of a collection's tracks."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    search_url: str
    techniques: list[str]  # the techniques its tracks' experiments use, most tracks first


def collection_tracks(base: str, collection: str, page_text: str | None) -> Members | None:
    """The collection's tracks on page `page_text` (1 when missing or not a page number);
    None when no indexed track belongs to the collection."""
    ix = index()
    if "collection" not in ix.fields or collection not in ix.fields["collection"].ids:
        return None
    page = int(page_text) if page_text and page_text.isdigit() and int(page_text) > 0 else 1
    try:
        search = parse_search(ix, {"collection": [collection], "page": [str(page)],
                                   "size": [str(PAGE_SIZE)]})
    except SearchError:
        return None
    result = run_search(ix, search)
    pages = max(1, -(-result.total // PAGE_SIZE))
    rows = fetch_rows(ix, page_positions(search, result)) if page <= pages else []
    for row in rows:
        track = str(row["track"])
        row["href"] = "/" + track[len(base):] if track.startswith(base) else track
    technique = ix.fields["technique"]
    used = used_values(technique, result.counts["technique"])
    return Members(rows, result.total, page, pages,
                   "/search?" + urlencode({"collection": collection}),
                   [ix.label(technique.keys[v]) for v in used])
