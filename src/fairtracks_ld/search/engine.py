"""A search: filters on fields (values OR-ed within a field, fields AND-ed), free text over track
labels, a page. Facet counts are disjunctive: a field's own filter does not narrow its counts, so
its other values stay offered; every other field's values are counted among the matches."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fairtracks_ld.ontology.iris import canonical_iri, curie_to_iri
from fairtracks_ld.search.fields import BY_NAME
from fairtracks_ld.search.index import FacetIndex, FieldIndex

MAX_SIZE = 500
MAX_VALUES = 20  # values per field in one search
MAX_WORDS = 10


class SearchError(ValueError):
    """A search that cannot run as asked (answered with 400 and this message)."""


@dataclass(frozen=True)
class Search:
    """A validated search: value keys the index knows, lowercased words, 1-based page."""

    filters: dict[str, tuple[str, ...]]
    words: tuple[str, ...] = ()
    page: int = 1
    size: int = 25

    def args(self, page: int | None = None) -> list[tuple[str, str]]:
        """The query-string pairs that reproduce this search (its shareable URL)."""
        pairs = [(name, key) for name, keys in self.filters.items() for key in keys]
        if self.words:
            pairs.append(("q", " ".join(self.words)))
        if (page or self.page) != 1:
            pairs.append(("page", str(page or self.page)))
        if self.size != 25:
            pairs.append(("size", str(self.size)))
        return pairs


def _integer(name: str, text: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise SearchError(f"{name} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


def resolve_value(index: FacetIndex, field: str, given: str) -> str:
    """The index key for a value as given: IRI, CURIE (ontology fields) or exact text."""
    facet = index.fields[field]
    key = given.strip()
    if facet.field.ontology and key not in facet.ids:
        key = curie_to_iri(key) or key
    if facet.field.iris:
        key = canonical_iri(key) if canonical_iri(key) in facet.ids else key
    if key not in facet.ids:
        raise SearchError(f"no track has {given!r} as {field} (give an IRI or CURIE the value "
                          f"lists offer)" if facet.field.iris else
                          f"no track has {given!r} as {field}")
    return key


def parse_search(index: FacetIndex, args: Mapping[str, list[str]],
                 extra: tuple[str, ...] = ()) -> Search:
    """Check a query string (`field=value` repeated, `q`, `page`, `size`); names in `extra`
    belong to the caller and are ignored."""
    unknown = sorted(set(args) - set(BY_NAME) - {"q", "page", "size", *extra})
    if unknown:
        raise SearchError(f"unknown parameter(s) {', '.join(unknown)}; fields: "
                          f"{', '.join(BY_NAME)}; also q, page, size")
    filters: dict[str, tuple[str, ...]] = {}
    for name in BY_NAME:
        given = [v for v in args.get(name, []) if v.strip()]
        if len(given) > MAX_VALUES:
            raise SearchError(f"at most {MAX_VALUES} values per field")
        if given:
            filters[name] = tuple(dict.fromkeys(resolve_value(index, name, v) for v in given))
    words = tuple(" ".join(args.get("q", [])).lower().split())
    if len(words) > MAX_WORDS:
        raise SearchError(f"at most {MAX_WORDS} words of free text")
    page = _integer("page", (args.get("page") or ["1"])[-1], 1, 10**9)
    size = _integer("size", (args.get("size") or ["25"])[-1], 1, MAX_SIZE)
    return Search(filters, words, page, size)


@dataclass
class Result:
    """Matching tracks (indices into the index, in IRI order) and per-field value counts."""

    matches: np.ndarray
    counts: dict[str, np.ndarray]

    @property
    def total(self) -> int:
        return len(self.matches)


def _text_mask(index: FacetIndex, word: str) -> np.ndarray:
    mask = np.zeros(len(index.tracks), dtype=bool)
    positions = np.fromiter((m.start() for m in re.finditer(re.escape(word), index.text)),
                            dtype=np.int64)
    mask[np.searchsorted(index.line_starts, positions, side="right") - 1] = True
    return mask


def _field_mask(facet: FieldIndex, keys: tuple[str, ...]) -> np.ndarray:
    values = np.array([facet.ids[k] for k in keys], dtype=np.int64)
    return facet.combination_mask(values)[facet.column]


def run_search(index: FacetIndex, search: Search, counts: bool = True) -> Result:
    """The tracks a search matches, and (with `counts`) the value counts of every field."""
    masks = {name: _field_mask(index.fields[name], keys) for name, keys in search.filters.items()}
    common = np.ones(len(index.tracks), dtype=bool)
    for word in search.words:
        common &= _text_mask(index, word)
    everything = common.copy()
    for mask in masks.values():
        everything &= mask
    matches = np.flatnonzero(everything)
    found: dict[str, np.ndarray] = {}
    if counts:
        for name, facet in index.fields.items():
            if name not in masks:
                found[name] = facet.counts(matches)
                continue
            others = common.copy()
            for other, mask in masks.items():
                if other != name:
                    others &= mask
            found[name] = facet.counts(np.flatnonzero(others))
    return Result(matches, found)


def page_positions(search: Search, result: Result) -> np.ndarray:
    """The index positions of the page's tracks."""
    start = (search.page - 1) * search.size
    return result.matches[start:start + search.size]

