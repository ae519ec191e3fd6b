"""The tracks of a collection, a page at a time, for the collection's page.

A collection may hold a million tracks: they are read from the search index (the `collection`
field), and only one page's rows go to the store, exactly as the search page does it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import numpy as np

from fairtracks_ld.search.engine import SearchError, page_positions, parse_search, run_search
from fairtracks_ld.search.index import FacetIndex, FieldIndex
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
    # when asked for, its genomes ("Mus musculus GRCm38") with their tracks, most first
    genomes: list[tuple[str, int]] = field(default_factory=list)


def collection_tracks(base: str, collection: str, page_text: str | None,
                      with_genomes: bool = False) -> Members | None:
    """The collection's tracks on page `page_text` (1 when missing or not a page number), and
    `with_genomes` their genomes; None when no indexed track belongs to the collection."""
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
                   [ix.label(technique.keys[v]) for v in used],
                   genomes(ix, result.matches) if with_genomes else [])


def genomes(ix: FacetIndex, tracks: np.ndarray) -> list[tuple[str, int]]:
    """The species and assembly pairs of `tracks` (index positions), with their track counts,
    most tracks first: read from the index's combination columns, so a million tracks take
    one counting pass, not a query."""
    species, assembly = ix.fields["species"], ix.fields["assembly"]
    width = len(assembly.starts) - 1  # combinations of the assembly field
    cells = (len(species.starts) - 1) * width
    keys = species.column[tracks].astype(np.int64) * width + assembly.column[tracks]
    if cells <= max(len(keys), 1 << 20):  # a count per pair: one pass, no sort
        tally = np.bincount(keys, minlength=cells)
        pairs = np.flatnonzero(tally)
        counts = tally[pairs]
    else:
        pairs, counts = np.unique(keys, return_counts=True)
    found: Counter[str] = Counter()
    for pair, count in zip(pairs.tolist(), counts.tolist(), strict=True):
        of_species, of_assembly = divmod(pair, width)
        text = " ".join(filter(None, (_names(ix, species, of_species),
                                      _names(ix, assembly, of_assembly))))
        found[text or "genome not stated"] += count
    return sorted(found.items(), key=lambda item: (-item[1], item[0]))


def _names(ix: FacetIndex, facet: FieldIndex, combination: int) -> str:
    """The labels of one combination's values ("" for a track without one)."""
    values = facet.members[facet.starts[combination]:facet.starts[combination + 1]]
    return " / ".join(sorted(ix.label(facet.keys[v]) for v in values))
