"""`/sparql`: the SPARQL 1.1 Protocol (query via GET, form POST and direct POST; update by token).

Results are negotiated from `Accept` (q-values honoured) or `format=`/`output=` (Fuseki's short
names, read per query form); the default graph is the store's current view unless the request
names `default-graph-uri`s; relative IRIs resolve against the endpoint's IRI. Update requests may
name their dataset (`using-graph-uri`, `using-named-graph-uri`), written into the update's text.
Queries run in killable worker processes behind admission control (see executor, admission), so
a heavy query cannot stall the server or outlive its time limit; updates too (see updates).
DESCRIBE of constant IRIs is answered in the server thread. Answers are cached per snapshot (see
cache) when the query gives the same answer every time on the same data (see sparql.repeatable:
no NOW(), RAND(), UUID(), BNODE(), SERVICE): a repeated query costs no worker; each cached or
cacheable answer says `X-Cache: hit` or `miss` and carries an ETag (304 on If-None-Match).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import lru_cache

from flask import Blueprint, Response, current_app, redirect, request, url_for
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from fairtracks_ld.sparql import graph_rewrite, virtual
from fairtracks_ld.sparql.extensions import ExtensionError, check_standard
from fairtracks_ld.sparql.graph_rewrite import GraphRewriteRefused
from fairtracks_ld.sparql.policy import PolicyError, check_query, check_update
from fairtracks_ld.sparql.repeatable import repeatable
from fairtracks_ld.sparql.update_dataset import UpdateDatasetError, with_update_dataset
from fairtracks_ld.store import members
from fairtracks_ld.web.auth import audit, authenticate
from fairtracks_ld.web.cache import Answer, etag_of
from fairtracks_ld.web.clients import client_of
from fairtracks_ld.web.errors import error_response
from fairtracks_ld.web.executor import (
    GRAPH_FORMATS,
    RESULT_FORMATS,
    QueryError,
    QueryRequest,
)
from fairtracks_ld.web.request_parts import Fields, fields, site_root

blueprint = Blueprint("sparql", __name__)
CACHED_SHARE = 16  # an answer is cached when it takes at most 1/16 of the cache's bytes

# Short names for `format=` / `output=`, as Apache Jena Fuseki and SPARQLWrapper use them. A
# name is read for the query form it applies to: `xml` is SPARQL XML results for SELECT/ASK and
# RDF/XML for CONSTRUCT/DESCRIBE, and a name that does not apply to the form (`csv` for
# CONSTRUCT) leaves the choice to `Accept`. Full media types are accepted as well.
RESULT_NAMES = {
    "json": "application/sparql-results+json", "srj": "application/sparql-results+json",
    "xml": "application/sparql-results+xml", "srx": "application/sparql-results+xml",
    "csv": "text/csv", "tsv": "text/tab-separated-values", "text": "text/tab-separated-values",
    "application/json": "application/sparql-results+json",
    "application/xml": "application/sparql-results+xml",
}
GRAPH_NAMES = {
    "turtle": "text/turtle", "ttl": "text/turtle", "n3": "text/turtle",
    "nt": "application/n-triples", "ntriples": "application/n-triples",
    "n-triples": "application/n-triples", "text": "application/n-triples",
    "nq": "application/n-quads", "nquads": "application/n-quads",
    "n-quads": "application/n-quads", "trig": "application/trig",
    "jsonld": "application/ld+json", "json-ld": "application/ld+json",
    "json": "application/ld+json", "application/json": "application/ld+json",
    "xml": "application/rdf+xml", "rdf": "application/rdf+xml", "rdfxml": "application/rdf+xml",
    "rdf+xml": "application/rdf+xml", "application/xml": "application/rdf+xml",
    "text/n3": "text/turtle", "text/rdf+n3": "text/turtle",
    "text/plain": "application/n-triples",
}
# What `Accept` may name besides the exact media types (older or generic names).
RESULT_ACCEPT_ALIASES = {"application/json": "application/sparql-results+json",
                         "application/xml": "application/sparql-results+xml"}
GRAPH_ACCEPT_ALIASES = {"application/json": "application/ld+json",
                        "application/xml": "application/rdf+xml",
                        "text/n3": "text/turtle", "text/rdf+n3": "text/turtle",
                        "application/x-turtle": "text/turtle"}


def error(status: int, message: str, retry_after: int | None = None) -> Response:
    response = error_response(status, message)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def client() -> str:
    """The client this request counts against for per-client limits (see clients)."""
    return client_of(request.remote_addr, request.headers.get("X-Forwarded-For"),
                     current_app.extensions["trusted_proxies"])


def _client_unless_inline(query_request: QueryRequest) -> str:
    """The client, for a query that may pass admission control; "" for one answered inline,
    which never does (a cold DESCRIBE need not read X-Forwarded-For and the trusted proxies)."""
    return "" if current_app.extensions["executor"].inline(query_request) else client()


def _format_parameter(params: Fields) -> str | None:
    """The `format=` or `output=` parameter (query string or form), if any."""
    for name in ("format", "output"):
        value = next((v for v in params.all(name) if v), None)
        if value:
            return value.strip()
    return None


def _negotiate(wanted: str | None) -> tuple[str | None, str | None]:
    """(result type, graph type) for the request: the best media type for solutions and for
    graphs, None where it accepts none of them."""
    return negotiated(request.headers.get("Accept", ""), wanted)


@lru_cache(maxsize=256)
def negotiated(accept: str, wanted: str | None) -> tuple[str | None, str | None]:
    """Negotiation depends on the Accept header and `format=` only: clients send few distinct
    ones, so each is parsed once per process."""
    accepted = parse_accept_header(accept, MIMEAccept)
    return (_best(accepted, wanted, RESULT_FORMATS, RESULT_NAMES, RESULT_ACCEPT_ALIASES,
                  "application/sparql-results+json"),
            _best(accepted, wanted, GRAPH_FORMATS, GRAPH_NAMES, GRAPH_ACCEPT_ALIASES,
                  "text/turtle"))


def _best(accepted: MIMEAccept, wanted: str | None, choices: dict, names: dict[str, str],
          aliases: dict[str, str], default: str) -> str | None:
    """Best media type among `choices`; None when the request accepts none of them."""
    if wanted:
        media = names.get(wanted.lower(), wanted.lower())
        if media in choices:
            return media
    if not accepted:
        return default
    offers = [default, *[m for m in choices if m != default], *aliases]
    best = accepted.best_match(offers)
    return aliases.get(best, best) if best else None


@lru_cache(maxsize=256)
def wants_page(accept: str) -> bool:
    """A browser's navigation: `text/html` named, and preferred to every format an answer can
    be sent in (a browser's `*/*;q=0.8` or `application/xml;q=0.9` count as less wanted)."""
    accepted = parse_accept_header(accept, MIMEAccept)
    html = max((q for value, q in accepted if value.lower() == "text/html"), default=0)
    answers = (*RESULT_FORMATS, *GRAPH_FORMATS, *RESULT_ACCEPT_ALIASES, *GRAPH_ACCEPT_ALIASES)
    return html > 0 and all(accepted.quality(media) < html for media in answers)


def _to_query_page(query: str | None) -> Response:
    """People opening the endpoint (or a query link) in a browser get the query editor, the
    query in a tab of its own, instead of a 406 or a results file to save."""
    response = redirect(url_for("query_page.query_page", query=query), 303)
    response.headers["Vary"] = "Accept"
    return response


def _check_format_parameter(wanted: str | None) -> None:
    if wanted and wanted.lower() not in {*RESULT_NAMES, *GRAPH_NAMES, *RESULT_FORMATS,
                                         *GRAPH_FORMATS}:
        raise QueryError(406, f"unknown format {wanted!r}; use one of "
                              + ", ".join(sorted({*RESULT_NAMES, *GRAPH_NAMES})))


def _check_charset() -> None:
    """The protocol allows UTF-8 request bodies only."""
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise QueryError(400, f"the request body must be UTF-8, not {charset}")


def _text(body: bytes) -> str:
    """A direct POST body as text."""
    _check_charset()
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as failure:
        raise QueryError(400, f"the request body is not valid UTF-8: {failure}") from failure


def _single(values: list[str], name: str) -> str | None:
    if len(values) > 1:
        raise QueryError(400, f"more than one {name} parameter; send one per request")
    return values[0] if values else None


def _protocol_parts(params: Fields) -> tuple[str | None, str | None]:
    """(query, update) from whichever of the protocol's request forms was used."""
    content_type = (request.mimetype or "").lower()
    if request.method in ("GET", "HEAD"):
        if "update" in params.args:
            raise QueryError(400, "SPARQL Update must be sent with POST, never GET")
        return _single(params.args.get("query", []), "query"), None
    if content_type == "application/sparql-query":
        return _text(request.get_data()), None
    if content_type == "application/sparql-update":
        return None, _text(request.get_data())
    if content_type == "application/x-www-form-urlencoded":
        _check_charset()
        query = _single(params.form.get("query", []), "query")
        update = _single(params.form.get("update", []), "update")
        if query is not None and update is not None:
            raise QueryError(400, "a request carries either a query or an update, not both")
        return query, update
    raise QueryError(415, f"unsupported content type {content_type!r} for a SPARQL request; "
                          "use application/sparql-query, application/sparql-update or "
                          "application/x-www-form-urlencoded")


def _base_iri() -> str:
    """The base IRI relative IRIs in a request resolve against: the endpoint's own IRI (what
    `url_for("sparql.endpoint", _external=True)` builds, without the routing map)."""
    return site_root() + "sparql"


def _graphs(params: Fields, name: str) -> list[str] | None:
    return params.all(name) or None


@blueprint.route("/sparql", methods=["GET", "HEAD", "POST", "OPTIONS"])
def endpoint() -> Response:
    if request.method == "OPTIONS":
        return Response(status=204)
    arrived = time.monotonic()
    try:
        params = fields()
        query, update = _protocol_parts(params)
        if update is not None:
            return _update(update, arrived, params)
        if request.method in ("GET", "HEAD") and _format_parameter(params) is None and \
                wants_page(request.headers.get("Accept", "")):
            return _to_query_page(query)
        if query is None:
            from fairtracks_ld.web.description import service_description

            return service_description()
        settings = current_app.config["SETTINGS"]
        base_iri = _base_iri()
        check_query(query, settings.service_allow_list, base=base_iri)
        if settings.backend:  # only standard SPARQL reaches an external store
            check_standard(query, base=base_iri)
        wanted = _format_parameter(params)
        _check_format_parameter(wanted)
        query = virtual.rewrite(query, base=base_iri)  # track → ancestor predicates
        defaults, named = _graphs(params, "default-graph-uri"), _graphs(params, "named-graph-uri")
        if not settings.backend:  # GRAPH over versions stored once (a backend has their graphs)
            query, defaults, named = members.rewrite_query(
                query, current_app.extensions["snapshots"].store(), defaults, named,
                base=base_iri)
        result_type, graph_type = _negotiate(wanted)
        if result_type is None and graph_type is None:
            return error(406, "none of the accepted media types can carry SPARQL results; use "
                              + ", ".join([*RESULT_FORMATS, *GRAPH_FORMATS]))
        query_request = QueryRequest(
            query=query,
            result_type=result_type or "application/sparql-results+json",
            graph_type=graph_type or "text/turtle",
            default_graphs=defaults,
            named_graphs=named,
            base_iri=base_iri,
        )
        executor = current_app.extensions["executor"]
        if not settings.backend and repeatable(query):  # a local snapshot never changes
            return _cached(query_request, result_type, graph_type,  # inline or not, on a miss
                           lambda: executor.run(query_request, _client_unless_inline(
                               query_request), arrived))
        if executor.inline(query_request):  # a backend's DESCRIBE, cached per catalog state
            return _cached(query_request, result_type, graph_type,
                           lambda: executor.run(query_request))
        media, body = executor.run(query_request, client(), arrived)
    except QueryError as failure:
        return error(failure.status, failure.message, failure.retry_after)
    except PolicyError as refused:
        return error(403, refused.message)
    except ExtensionError as refused:
        return error(400, refused.message)
    except GraphRewriteRefused as refused:
        return error(400, str(refused))
    return _answer(media, body, result_type, graph_type)


def _answer(media: str, body: bytes, result_type: str | None,
            graph_type: str | None) -> Response:
    if (media in RESULT_FORMATS and result_type is None) or (
            media in GRAPH_FORMATS and graph_type is None):
        return error(406, f"this query's results are {media}-like; the request does not accept "
                          "any media type for them")
    response = Response(body, mimetype=media)
    response.headers["Vary"] = "Accept"
    return response


def _cached(query_request: QueryRequest, result_type: str | None, graph_type: str | None,
            run: Callable[[], tuple[str, bytes]]) -> Response:
    """A query's answer from the per-snapshot cache (see cache), made by `run` on a miss (a
    QueryError from it is raised, never cached); 304 when the client holds the current
    answer. Only for queries whose answer cannot change on the same snapshot (see repeatable)."""
    snapshot = os.path.basename(current_app.extensions["snapshots"].store().path)
    key = query_key(query_request)
    etag = etag_of(snapshot, key)
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        answer, hit = current_app.extensions["cache"].answer(
            snapshot, key, lambda: Answer(*run()), max_share=CACHED_SHARE)
        response = _answer(answer.media, answer.body, result_type, graph_type)
        if response.status_code != 200:
            return response
        response.headers["X-Cache"] = "hit" if hit else "miss"
    response.set_etag(etag)
    response.headers["Vary"] = "Accept"
    return response


def query_key(query_request: QueryRequest) -> tuple:
    """What a query's cached answer (and its ETag) is kept under."""
    return ("query", query_request.query, query_request.graph_type, query_request.result_type,
            query_request.base_iri, _graph_key(query_request.default_graphs),
            _graph_key(query_request.named_graphs))


def _graph_key(graphs: list[str] | None) -> tuple[str, ...] | None:
    return None if graphs is None else tuple(graphs)


def _update(update: str, arrived: float, params: Fields) -> Response:
    """SPARQL Update on the primary store, only for the admin token (see auth), with a time
    limit counted from `arrived` (see updates). A server with a backend takes no updates."""
    if current_app.config["SETTINGS"].backend:
        from fairtracks_ld.web.backend.web import READ_ONLY

        return error(405, f"SPARQL Update is not accepted: {READ_ONLY}")
    refused = authenticate()
    if refused is not None:
        return refused
    settings = current_app.config["SETTINGS"]
    if params.args.get("query"):
        return error(400, "a request carries either a query or an update, not both")
    try:
        update = with_update_dataset(update, params.all("using-graph-uri"),
                                     params.all("using-named-graph-uri"))
        check_update(update, settings.service_allow_list, base=_base_iri())
        store = current_app.extensions["snapshots"].store()
        graph_rewrite.check_update(update, members.stored_once(store), members.graph(store),
                                   base=_base_iri())
    except (UpdateDatasetError, GraphRewriteRefused) as failure:
        return error(400, str(failure))
    except PolicyError as failure:
        return error(403, failure.message)
    audit("SPARQL Update", update)
    try:
        current_app.extensions["updates"].run(update, _base_iri(), arrived)
    except QueryError as failure:
        return error(failure.status, failure.message, failure.retry_after)
    return Response(status=204)
