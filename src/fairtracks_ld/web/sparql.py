"""`/sparql`: the SPARQL 1.1 Protocol (query via GET, form POST and direct POST; update by token).

Results are negotiated from `Accept` (q-values honoured) or `format=`; the default graph is the
store's current view unless the request names `default-graph-uri`s. Queries run in killable worker
processes (see executor), so a heavy query cannot stall the server or outlive its time limit.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, request

from fairtracks_ld.web.executor import (
    GRAPH_FORMATS,
    RESULT_FORMATS,
    QueryError,
    QueryRequest,
)
from fairtracks_ld.web.federation import check_services

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
    return Response(message + "\n", status=status, mimetype="text/plain")


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
        check_services(query, settings.service_allow_list)
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
    if (media in RESULT_FORMATS and result_type is None) or (
            media in GRAPH_FORMATS and graph_type is None):
        return error(406, f"this query's results are {media}-like; the request does not accept "
                          "any media type for them")
    response = Response(body, mimetype=media)
    response.headers["Vary"] = "Accept"
    return response


def _update(update: str) -> Response:
    """SPARQL Update on the primary store, only for the configured admin token."""
    settings = current_app.config["SETTINGS"]
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not settings.admin_token:
        return error(403, "this endpoint is read-only (no admin token is configured)")
    if not hmac.compare_digest(token.encode(), settings.admin_token.encode()):
        return error(401, "SPARQL Update needs the admin token (Authorization: Bearer …)")
    from fairtracks_ld.snapshots import publish
    from fairtracks_ld.store import PREFIXES, TrackStore
    from fairtracks_ld.writer_lock import StoreLocked, writer_lock

    try:
        with writer_lock(settings.store, command="SPARQL Update (server)"):
            store = TrackStore(settings.store)
            try:
                store.ox.update(update, prefixes=PREFIXES)
                store.mark_modified()  # any graph may have changed: views start afresh
                publish(store)
            finally:
                del store
    except StoreLocked as failure:
        return error(503, str(failure))
    except SyntaxError as failure:
        return error(400, f"SPARQL syntax error: {failure}")
    except OSError as failure:
        return error(503, f"the store cannot be written now: {failure}")
    return Response(status=204)
