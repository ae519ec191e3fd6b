"""`/search`: faceted, ontology-aware track search for people, with GSuite and FAIRtracks JSON
export of the selection. Counts come from the in-memory facet index; the rows of a page are
fetched by SPARQL through the query workers, and the page shows that query and the SPARQL
equivalent of the whole search."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import numpy as np
from flask import Blueprint, Response, current_app, render_template, request, url_for

from fairtracks_ld.mapping.ensembl import MODEL as ENSEMBL
from fairtracks_ld.mapping.export import export_document
from fairtracks_ld.mapping.iris import local_id_of
from fairtracks_ld.search.engine import (
    Result,
    Search,
    SearchError,
    page_positions,
    parse_search,
    run_search,
)
from fairtracks_ld.search.fields import BY_NAME, FACETS
from fairtracks_ld.search.gsuite import gsuite
from fairtracks_ld.search.index import FacetIndex
from fairtracks_ld.search.rollup import rolled_up, used_values
from fairtracks_ld.search.sparql import COLUMNS, rows_query, search_query
from fairtracks_ld.store import members
from fairtracks_ld.web.executor import QueryError, QueryRequest
from fairtracks_ld.web.licence_headers import collection_terms

blueprint = Blueprint("search", __name__)
EXPORT_LIMIT = 100_000
BATCH = 500
GSUITE_METADATA = {"condensed": "type_of_condensed_data", "technique": "experiments->technique",
                   "target": "experiments->target", "cell_type": "samples->sample_type",
                   "species": "samples->species_name", "track": "track_iri",
                   "licence": "licence"}


def bad_request(message: str, status: int = 400) -> Response:
    return Response(json.dumps({"error": message}), status=status, mimetype="application/json")


def index() -> FacetIndex:
    return current_app.extensions["search_index"].get()


def request_args(exclude: tuple[str, ...] = ()) -> dict[str, list[str]]:
    return {k: request.args.getlist(k) for k in request.args if k not in exclude}


def search_url(search: Search, endpoint: str = "search.page", **changes: Any) -> str:
    """URL of `search` with a value added (`add=(field, key)`), removed, or another page."""
    pairs = search.args(changes.get("page"))
    pairs = [(k, v) for k, v in pairs if k != "page" or "page" in changes]
    if "add" in changes and changes["add"] not in pairs:
        pairs.append(changes["add"])
    if "remove" in changes:
        pairs = [p for p in pairs if p != changes["remove"]]
    return url_for(endpoint) + ("?" + urlencode(pairs) if pairs else "")


def page_rows_query(ix: FacetIndex, positions: np.ndarray) -> str:
    """The rows query of these index positions (their tracks, FROM their graphs, unless one
    is a version stored once: then from the view, which holds its triples); no tracks, no
    query."""
    if not len(positions):
        return ""
    graphs = ix.graphs_of(positions)
    if set(graphs) & members.stored_once(current_app.extensions["snapshots"].store()):
        graphs = []
    return rows_query([ix.tracks[i] for i in positions], graphs)


def fetch_rows(ix: FacetIndex, positions: np.ndarray) -> list[dict[str, str | None]]:
    """The table columns of the tracks at `positions` by SPARQL through the query workers, in
    their order."""
    found: dict[str, dict[str, str | None]] = {}
    for start in range(0, len(positions), BATCH):
        _, body = current_app.extensions["executor"].run(QueryRequest(
            query=page_rows_query(ix, positions[start:start + BATCH]),
            result_type="application/sparql-results+json", graph_type="text/turtle",
            bounded=True))
        for binding in json.loads(body)["results"]["bindings"]:
            row = {c: binding.get(c + "_", {}).get("value") for c in COLUMNS}
            found[binding["track"]["value"]] = row
    tracks = [ix.tracks[i] for i in positions]
    return [{"track": t, **found.get(t, dict.fromkeys(COLUMNS))} for t in tracks]


def value_entry(ix: FacetIndex, search: Search, field: str, value: int, count: int
                ) -> dict[str, Any]:
    facet = ix.fields[field]
    key = facet.keys[value]
    selected = key in search.filters.get(field, ())
    return {"key": key, "label": ix.label(key), "count": count, "selected": selected,
            "children": bool(facet.children.get(value)),
            "url": search_url(search, remove=(field, key)) if selected
            else search_url(search, add=(field, key))}


def facet_values(ix: FacetIndex, search: Search, result: Result, field: str,
                 within: list[int] | None = None) -> list[dict[str, Any]]:
    """Values of a field still possible (count > 0), most tracks first; `within` limits them
    (tree roots or one node's children)."""
    facet, counts = ix.fields[field], result.counts[field]
    candidates = np.arange(len(facet.keys)) if within is None else np.array(within, dtype=int)
    if len(candidates) == 0:
        return []
    keep = candidates[(counts[candidates] > 0) & ~facet.hidden[candidates]]
    keep = keep[np.lexsort((keep, -counts[keep]))]
    return [value_entry(ix, search, field, int(v), int(counts[v])) for v in keep]


def roots(ix: FacetIndex, field: str) -> list[int] | None:
    facet = ix.fields[field]
    if not facet.field.ontology:
        return None
    return [v for v, parents in facet.parents.items() if not parents]


def field_views(ix: FacetIndex, search: Search, result: Result, field: str
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """What a field lists first (the values documents use, most tracks first) and, for an
    ontology field, its roll-up tree's top (classes that divide nothing skipped)."""
    tree = roots(ix, field)
    if tree is None:
        return facet_values(ix, search, result, field), None
    facet, counts = ix.fields[field], result.counts[field]
    used = [{**entry, "children": False}  # a flat list: the tree is the roll-up view
            for entry in facet_values(ix, search, result, field, used_values(facet, counts))]
    return used, facet_values(ix, search, result, field, rolled_up(facet, counts, tree))


def _parse(extra: tuple[str, ...] = ()) -> tuple[FacetIndex, Search]:
    ix = index()
    return ix, parse_search(ix, request_args(), extra)


@blueprint.route("/search")
def page() -> Response | str:
    try:
        ix, search = _parse()
    except SearchError as error:
        return bad_request(str(error))
    result = run_search(ix, search)
    positions = page_positions(search, result)
    sparql_rows = page_rows_query(ix, positions)
    try:
        rows = fetch_rows(ix, positions)
    except QueryError as error:
        return bad_request(error.message, error.status)
    base = current_app.extensions["snapshots"].store().base
    for row in rows:  # IRIs under the base resolve here: link them on this server
        track = str(row["track"])
        row["href"] = "/" + track[len(base):] if track.startswith(base) else track
    facets = [(f, *field_views(ix, search, result, f.name)) for f in FACETS]
    chosen = [(BY_NAME[name], key, ix.label(key), search_url(search, remove=(name, key)))
              for name, keys in search.filters.items() for key in keys]
    pages = max(1, -(-result.total // search.size))
    return render_template(
        "search.html", search=search, result=result, rows=rows, facets=facets, chosen=chosen,
        sparql_search=search_query(search, ix), sparql_rows=sparql_rows, pages=pages,
        prev_url=search_url(search, page=search.page - 1) if search.page > 1 else None,
        next_url=search_url(search, page=search.page + 1) if search.page < pages else None,
        share_url=request.url, query=urlencode(search.args()), text=" ".join(search.words),
    )


@blueprint.route("/search/facets.json")
def facets_json() -> Response:
    """Every field's possible values with counts (`facets`; `used`: those documents annotate,
    as the page lists them first), the total, the page's tracks, the SPARQL equivalent to the
    search and the SPARQL that reads the page's table rows."""
    try:
        ix, search = _parse()
    except SearchError as error:
        return bad_request(str(error))
    result = run_search(ix, search)
    positions = page_positions(search, result)
    body = {"total": result.total, "search": search.args(),
            "tracks": [ix.tracks[i] for i in positions], "sparql": search_query(search, ix),
            "sparql_rows": page_rows_query(ix, positions),
            "facets": {f.name: facet_values(ix, search, result, f.name) for f in FACETS},
            "used": {f.name: field_views(ix, search, result, f.name)[0] for f in FACETS}}
    return Response(json.dumps(body), mimetype="application/json")


@blueprint.route("/search/children")
def children() -> Response:
    """The children of one value in a field's tree, with counts under the current search."""
    try:
        ix, search = _parse(extra=("field", "value"))
        field = request.args.get("field", "")
        if field not in ix.fields or not ix.fields[field].field.ontology:
            raise SearchError(f"field must be one of the ontology fields, not {field!r}")
        facet = ix.fields[field]
        value = request.args.get("value", "")
        if value not in facet.ids:
            raise SearchError(f"no track has {value!r} as {field}")
    except SearchError as error:
        return bad_request(str(error))
    result = run_search(ix, search)
    below = rolled_up(facet, result.counts[field], facet.children.get(facet.ids[value], []))
    found = facet_values(ix, search, result, field, below)
    return Response(json.dumps(found), mimetype="application/json")


@blueprint.route("/search/terms")
def terms() -> Response:
    """Autocompletion: values whose label or synonym contains the text, prefix matches first."""
    try:
        ix, search = _parse(extra=("text",))
    except SearchError as error:
        return bad_request(str(error))
    text = " ".join(request.args.get("text", "").lower().split())
    if not 1 <= len(text) <= 200:
        return bad_request("text must be 1 to 200 characters")
    best: dict[tuple[str, str], tuple[tuple[int, int, str], dict[str, Any]]] = {}
    for name, field, key, how in ix.names:
        where = name.find(text)
        if where < 0:
            continue
        value = ix.fields[field].ids[key]
        total = int(ix.totals[field][value])
        rank = (0 if where == 0 else 1, -total, name)
        if (field, key) not in best or rank < best[field, key][0]:
            best[field, key] = (rank, {
                "field": field, "field_title": BY_NAME[field].title, "key": key,
                "label": ix.label(key), "name": name, "how": how, "count": total,
                "url": search_url(search, add=(field, key))})
    found = [entry for _, entry in sorted(best.values(), key=lambda item: item[0])[:15]]
    return Response(json.dumps(found), mimetype="application/json")


def _selection() -> tuple[FacetIndex, np.ndarray] | Response:
    try:
        ix, search = _parse()
    except SearchError as error:
        return bad_request(str(error))
    result = run_search(ix, search, counts=False)
    if result.total > EXPORT_LIMIT:
        return bad_request(f"the selection holds {result.total:,} tracks; exports take at most "
                           f"{EXPORT_LIMIT:,}: narrow the search")
    return ix, result.matches


@blueprint.route("/search/export.gsuite")
def export_gsuite() -> Response:
    selection = _selection()
    if isinstance(selection, Response):
        return selection
    ix, matches = selection
    terms = collection_terms(ix, matches)
    rows = [{"uri": r["file_url"] or r["track"], "title": r["label"] or r["local_id"],
             "file_format": r["format"], "track_type": r["track_type"], "genome": r["assembly"],
             **r, "licence": terms[collection].summary}
            for r, collection in zip(fetch_rows(ix, matches), terms.of, strict=True)]
    response = Response(gsuite(rows, GSUITE_METADATA), mimetype="text/plain")
    terms.headers(response)
    response.headers["Content-Disposition"] = 'attachment; filename="selection.gsuite"'
    return response


@blueprint.route("/search/export.json")
def export_json() -> Response:
    """The selection as a FAIRtracks document: its collection's, with only the selected tracks
    and the experiments, samples and studies they refer to."""
    selection = _selection()
    if isinstance(selection, Response):
        return selection
    ix, matches = selection
    column = ix.fields["collection"]
    members = {column.keys[m] for c in set(column.column[matches].tolist())
               for m in column.members[column.starts[c]:column.starts[c + 1]]}
    if len(members) != 1:
        return bad_request(f"a FAIRtracks document holds one collection; the selection spans "
                           f"{len(members)}: choose one collection")
    store = current_app.extensions["snapshots"].store()
    versions = [v for v in store.versions() if v.current and v.collection in members]
    if any(v.variant == ENSEMBL for v in versions):
        return bad_request("Ensembl tracks have no FAIRtracks document: export them as GSuite "
                           "(export.gsuite) or read them from the TrackFind-compatible API")
    if len(versions) != 1:
        return bad_request("the collection is stored as several documents; export them with "
                           "`fairtracks-ld export`")
    document = export_document(store.graph_quads(versions[0].graph), versions[0].document)
    tracks = {local_id_of(ix.tracks[i]) for i in matches}
    response = Response(json.dumps(subset(document, tracks),
                                   indent=1), mimetype="application/json")
    collection_terms(ix, matches).headers(response)
    response.headers["Content-Disposition"] = 'attachment; filename="selection.json"'
    return response


def subset(document: Mapping[str, Any], tracks: set[str]) -> dict[str, Any]:
    """`document` with only the tracks named and what they refer to."""
    kept = [t for t in document.get("tracks", []) if t.get("local_id") in tracks]
    experiments = [e for e in document.get("experiments", [])
                   if e.get("local_id") in {t.get("experiment_ref") for t in kept}]
    samples = [s for s in document.get("samples", [])
               if s.get("local_id") in {e.get("sample_ref") for e in experiments}]
    studies = [s for s in document.get("studies", [])
               if s.get("local_id") in {e.get("study_ref") for e in experiments}]
    return {**document, "studies": studies, "experiments": experiments, "samples": samples,
            "tracks": kept}
