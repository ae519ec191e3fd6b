"""The OpenAPI 3.1 description of `/api/v1`, including how it differs from TrackFind."""

from __future__ import annotations

from typing import Any

from fairtracks_ld import __version__
from fairtracks_ld.search.filters import __doc__ as FILTER_SYNTAX

DIFFERENCES = (
    "Compatible with TrackFind's v1 API. Repository = the host of a collection's "
    "source_repo_url; hub = a collection (its local_id). Differences: `query` is not an SQL "
    "fragment but the structured filter syntax below (TrackFind's "
    "`samples.content->'sample_type'->'cell_line'->'term_label' ? 'H1-hESC'` is written "
    "`samples->sample_type->cell_line->term_label = 'H1-hESC'`); no user text ever reaches a "
    "query language. Beyond TrackFind, `UNDER` filters by an ontology term or any of its "
    "descendants, from the ontologies loaded in the store "
    "(`samples->sample_type->cell_type->term_id UNDER 'lymphocyte'` finds B and T cells); "
    "TrackFind matches terms only as written. Bad parameters, unknown terms included, get 400 "
    "with a JSON body {\"error\": …}."
)


def _param(name: str, where: str, description: str, required: bool = False,
           schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema or {"type": "string"}}


REPO = _param("repository", "path", "repository name (from /repositories)")
HUB = _param("hub", "path", "hub name: a collection's local_id (from /hubs/{repository})")
CATEGORY = _param("category", "path", "tracks, experiments, samples, studies, collection_info "
                                      "or doc_info")
QUERY = _param("query", "query", "structured filter, UNDER for ontology descendants (see the "
                                  "API description)")
LIST = {"type": "array", "items": {"type": "string"}}


def _get(summary: str, params: list[dict[str, Any]], schema: dict[str, Any],
         extra: dict[str, Any] | None = None) -> dict[str, Any]:
    content = {"application/json": {"schema": schema}, **(extra or {})}
    return {"get": {"summary": summary, "parameters": params, "responses": {
        "200": {"description": "OK", "content": content},
        "400": {"description": "bad parameter", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"error": {"type": "string"}}}}}},
        "404": {"description": "unknown repository or hub"}}}}


def openapi() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "fairtracks-ld TrackFind-compatible API", "version": __version__,
                 "description": DIFFERENCES + "\n\nFilter syntax:\n" + (FILTER_SYNTAX or "")},
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/repositories": _get("repository names", [], LIST),
            "/hubs/{repository}": _get("hub names of a repository", [REPO], LIST),
            "/metamodel/{repository}/{hub}": _get(
                "attribute tree per category, with values", [
                    REPO, HUB,
                    _param("flat", "query", "true: category → {'a->b': [values]}",
                           schema={"type": "boolean", "default": False}),
                    _param("attributesFilter", "query", "keep attribute paths containing this"),
                    _param("valuesFilter", "query", "keep values containing this (any case)"),
                ], {"type": "object"}),
            "/categories/{repository}/{hub}": _get("categories present", [REPO, HUB], LIST),
            "/attributes/{repository}/{hub}/{category}": _get(
                "attribute names under a path", [
                    REPO, HUB, CATEGORY,
                    _param("path", "query", "a->b nesting below the category")], LIST),
            "/values/{repository}/{hub}/{category}": _get(
                "distinct values at a path", [
                    REPO, HUB, CATEGORY,
                    _param("path", "query", "a->b->c attribute path", required=True),
                    _param("filter", "query", "keep values containing this (any case)"),
                    QUERY], LIST),
            "/search/{repository}/{hub}": _get(
                "tracks matching a filter, each joined with its experiment, sample and study",
                [REPO, HUB, {**QUERY, "required": True},
                 _param("categories", "query", "comma list of categories to include"),
                 _param("limit", "query", "at most this many results (0: all)",
                        schema={"type": "integer", "minimum": 0, "default": 0}),
                 _param("attributes", "query", "GSuite: extra columns, comma list of "
                                               "category->a->b paths")],
                {"type": "array", "items": {"type": "object"}},
                {"text/plain": {"schema": {"type": "string", "description":
                                           "GSuite, for Accept: text/plain"}}}),
        },
    }
