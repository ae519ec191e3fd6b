"""Plain SPARQL queries answered in the front door, without Flask: any query sent to `/sparql`
by GET or form POST with `query` as its only parameter.

Flask's routing, request context, response object and Werkzeug's header structures cost a
lookup about a quarter of its server CPU, more than the query's own work in the server process
(docs/scheduling.md). The steps are sparql.endpoint's, on the WSGI environ: the SERVICE policy,
the ancestor rewrite, negotiation, the per-snapshot cache and its ETag for repeatable queries,
and the query executor with its admission control, per-client limits and time limit counted
from arrival (a query still runs inline only when the executor says so). The answer is sent
with Flask's status, headers in the same order and body; an error raised once the query was
handed to the executor is made by sparql.error in a request context of this environ, so its
body and headers are Flask's too. A request the policy refuses, or whose `Accept` names no
result format, goes to Flask before anything ran (it answers 403 / 406 as always).
tests/test_describe_direct.py compares both answers request by request.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from werkzeug.utils import get_content_type

from fairtracks_ld.sparql import virtual
from fairtracks_ld.sparql.graph_rewrite import GraphRewriteRefused
from fairtracks_ld.sparql.policy import PolicyError, check_query
from fairtracks_ld.sparql.repeatable import repeatable
from fairtracks_ld.store import members
from fairtracks_ld.web import sparql
from fairtracks_ld.web.cache import Answer, etag_of
from fairtracks_ld.web.clients import client_of
from fairtracks_ld.web.executor import GRAPH_FORMATS, RESULT_FORMATS, QueryError, QueryRequest

log = logging.getLogger("fairtracks_ld.web")
JSON_RESULTS = "application/sparql-results+json"

Wire = tuple[str, list[tuple[str, str]], bytes]  # status, headers (CORS not yet added), body


class DirectQueries:
    """sparql.endpoint for plain queries of a Flask app on local snapshots."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.snapshots = app.extensions["snapshots"]
        self.executor = app.extensions["executor"]
        self.cache = app.extensions["cache"]
        self.trusted = app.extensions["trusted_proxies"]
        self.allow_list = app.config["SETTINGS"].service_allow_list

    def answer(self, environ: dict[str, Any], query: str, accept: str,
               base_iri: str) -> Wire | None:
        """The answer Flask would send for `query`, or None to let Flask answer (before
        anything ran). `base_iri`: the endpoint's IRI (request.url_root + "sparql")."""
        arrived = time.monotonic()
        try:
            check_query(query, self.allow_list, base=base_iri)
        except PolicyError:
            return None
        query = virtual.rewrite(query, base=base_iri)
        try:  # GRAPH over versions stored once
            query, _, _ = members.rewrite_query(query, self.snapshots.store(), base=base_iri)
        except GraphRewriteRefused:
            return None  # Flask answers it (400)
        result_type, graph_type = sparql.negotiated(accept, None)
        if result_type is None and graph_type is None:
            return None
        request = QueryRequest(query=query, result_type=result_type or JSON_RESULTS,
                               graph_type=graph_type or "text/turtle", default_graphs=None,
                               named_graphs=None, base_iri=base_iri)
        try:
            if repeatable(query):
                return self._cached(environ, request, result_type, graph_type, arrived)
            media, body = self.executor.run(request, self._client(environ), arrived)
        except QueryError as failure:
            return self._error(environ, failure.status, failure.message, failure.retry_after)
        except Exception:  # as Flask's handler for unexpected errors: logged, a plain 500
            log.exception("unexpected error answering %s /sparql", environ["REQUEST_METHOD"])
            return self._error(environ, 500, "500 Internal Server Error: the server failed to "
                                             "answer this request; the error is in the "
                                             "server's log")
        return self._answer(environ, media, body, result_type, graph_type)

    def _cached(self, environ: dict[str, Any], request: QueryRequest, result_type: str | None,
                graph_type: str | None, arrived: float) -> Wire:
        """sparql._cached without If-None-Match (such requests go to Flask)."""
        snapshot = os.path.basename(self.snapshots.store().path)
        key = sparql.query_key(request)

        def run() -> Answer:
            client = "" if self.executor.inline(request) else self._client(environ)
            return Answer(*self.executor.run(request, client, arrived))

        answer, hit = self.cache.answer(snapshot, key, run, max_share=sparql.CACHED_SHARE)
        wire = self._answer(environ, answer.media, answer.body, result_type, graph_type)
        if wire[0] == "200 OK":
            wire[1].extend([("X-Cache", "hit" if hit else "miss"),
                            ("ETag", f'"{etag_of(snapshot, key)}"')])
        return wire

    def _answer(self, environ: dict[str, Any], media: str, body: bytes,
                result_type: str | None, graph_type: str | None) -> Wire:
        """sparql._answer: the body, or 406 when its kind of result is not accepted."""
        if (media in RESULT_FORMATS and result_type is None) or (
                media in GRAPH_FORMATS and graph_type is None):
            return self._error(environ, 406, f"this query's results are {media}-like; the "
                                             "request does not accept any media type for them")
        return "200 OK", [("Content-Type", get_content_type(media, "utf-8")),
                          ("Content-Length", str(len(body))), ("Vary", "Accept")], body

    def _client(self, environ: dict[str, Any]) -> str:
        """sparql.client: who the request counts against (see clients)."""
        return client_of(environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"),
                         self.trusted)

    def _error(self, environ: dict[str, Any], status: int, message: str,
               retry_after: int | None = None) -> Wire:
        """Flask's error answer (sparql.error: plain text or JSON as `Accept` prefers)."""
        with self.app.request_context(environ):
            response = sparql.error(status, message, retry_after)
        return response.status, response.headers.to_wsgi_list(), response.get_data()
