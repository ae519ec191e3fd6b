"""Faceted, ontology-aware track search over an in-memory facet index built from the store.

SPARQL facet counts over a million tracks take seconds in Oxigraph; the search page needs them
in well under a second. So each server process keeps a compact index per store snapshot
(`index.py`): per field, each track's combination of values and each combination's ancestor
terms, as numpy arrays. Filters and counts are array operations; the rows a page shows are
fetched by SPARQL (`sparql.py`), which the page displays next to the equivalent search query.
"""
