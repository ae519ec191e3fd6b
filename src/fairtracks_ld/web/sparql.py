"""`/sparql`: the SPARQL 1.1 Protocol (query via GET, form POST and direct POST; update by token).

Results are negotiated from `Accept` (q-values honoured) or `format=`; the default graph is the
store's current view unless the request names `default-graph-uri`s. Queries run in killable worker
processes (see executor), so a heavy query cannot stall the server or outlive its time limit.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from fairtracks_ld.sparql.policy import PolicyError, check_query, check_update, mentions_network
from fairtracks_ld.web.auth import audit, authenticate
from fairtracks_ld.web.errors import error_response
from fairtracks_ld.web.executor import (
    GRAPH_FORMATS,
    RESULT_FORMATS,
    QueryError,
    QueryRequest,
)

blueprint = Blueprint("sparql", __name__)

FORMAT_ALIASES = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "turtle": "text/turtle",
    "ttl": "text/turtle",
    "ntriples": "application/n-triples",
    "nt": "application/n-triples",
    "jsonld": "application/ld+json",
    "rdfxml": "application/rdf+xml",
}


def error(status: int, message: str) -> Response:
    return error_response(status, message)


def _negotiate(choices: dict, default: str) -> str | None:
    """Best supported media type for the request; None when Accept excludes them all."""
    wanted = request.args.get("format") or request.form.get("format")
    if wanted:
        media = FORMAT_ALIASES.get(wanted, wanted)
        return media if media in choices else None
    if not request.accept_mimetypes:
        return default
    aliases = {"application/json": "application/sparql-results+json",
               "application/xml": "application/sparql-results+xml"}
    offers = [default, *[m for m in choices if m != default], *aliases]
    best = request.accept_mimetypes.best_match(offers)
    return aliases.get(best, best) if best else None


def _protocol_parts() -> tuple[str | None, str | None]:
    """(query, update) from whichever of the protocol's request forms was used."""
    content_type = (request.mimetype or "").lower()
    if request.method == "GET":
        queries = request.args.getlist("query")
        if len(queries) > 1:
            raise QueryError(400, "more than one query parameter")
        return (queries[0] if queries else None), None
    if content_type == "application/sparql-query":
        return request.get_data(as_text=True), None
    if content_type == "application/sparql-update":
        return None, request.get_data(as_text=True)
    if content_type == "application/x-www-form-urlencoded":
        return request.form.get("query"), request.form.get("update")
    raise QueryError(415, f"unsupported content type {content_type!r} for a SPARQL request")


def _graphs(name: str) -> list[str] | None:
    values = request.args.getlist(name) + request.form.getlist(name)
    return values or None


@blueprint.route("/sparql", methods=["GET", "POST", "OPTIONS"])
def endpoint() -> Response:
    if request.method == "OPTIONS":
        return Response(status=204)
    try:
        query, update = _protocol_parts()
        if update is not None:
            return _update(update)
        if query is None:
            from fairtracks_ld.web.description import service_description

            return service_description()
        settings = current_app.config["SETTINGS"]
        check_query(query, settings.service_allow_list)
        result_type = _negotiate(RESULT_FORMATS, "application/sparql-results+json")
        graph_type = _negotiate(GRAPH_FORMATS, "text/turtle")
        if result_type is None and graph_type is None:
            return error(406, "none of the accepted media types can carry SPARQL results; use "
                              + ", ".join([*RESULT_FORMATS, *GRAPH_FORMATS]))
        media, body = current_app.extensions["executor"].run(QueryRequest(
            query=query,
            result_type=result_type or "application/sparql-results+json",
            graph_type=graph_type or "text/turtle",
            default_graphs=_graphs("default-graph-uri"),
            named_graphs=_graphs("named-graph-uri"),
        ))
    except QueryError as failure:
        return error(failure.status, failure.message)
    except PolicyError as refused:
        return error(403, refused.message)
    if (media in RESULT_FORMATS and result_type is None) or (
            media in GRAPH_FORMATS and graph_type is None):
        return error(406, f"this query's results are {media}-like; the request does not accept "
                          "any media type for them")
    response = Response(body, mimetype=media)
    response.headers["Vary"] = "Accept"
    return response


def _update(update: str) -> Response:
    """SPARQL Update on the primary store, only for the admin token (see auth)."""
    refused = authenticate()
    if refused is not None:
        return refused
    settings = current_app.config["SETTINGS"]
    try:
        check_update(update, settings.service_allow_list)
    except PolicyError as failure:
        return error(403, failure.message)
    audit("SPARQL Update", update)
    from fairtracks_ld.snapshots import publish
    from fairtracks_ld.store import TrackStore

    try:
        store = TrackStore(settings.store)
    except OSError as failure:
        return error(503, f"the store is busy (another process is writing): {failure}")
    try:
        refused = _apply(store, update)
        if refused is not None:
            return refused
        store.mark_modified()  # any graph may have changed: copies of the view start afresh
        publish(store)
    finally:
        del store
    return Response(status=204)


def _apply(store, update: str) -> Response | None:
    """Run the update; the error answer when Oxigraph refuses it (None when it ran)."""
    from fairtracks_ld.store import PREFIXES

    try:
        store.ox.update(update, prefixes=PREFIXES)
    except SyntaxError as failure:
        return error(400, f"SPARQL syntax error: {failure}")
    except RuntimeError as failure:  # Oxigraph's refusals: graph exists, graph missing, ...
        return error(400, f"the update failed: {failure}")
    except OSError as failure:
        if not mentions_network(update):
            raise
        return error(502, f"LOAD or SERVICE failed: {failure}")
    return None
