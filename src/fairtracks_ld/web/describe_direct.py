"""The commonest linked-data requests answered in the front door, without Flask: queries at
`/sparql` whose only parameter is `query` (a `DESCRIBE` of constant IRIs evaluated here, any
other query by query_direct) and dereferencing a resource as RDF.

Routing, the request object, the response object and their hooks cost more CPU than reading
the store for these requests (docs/scheduling.md). Here the answer is made from the WSGI environ
with the same functions the Flask routes use (negotiation, cache keys and ETags, the inline
query executor, the resource's description (`resources.description`: `resources.describe`'s
triples as the quads read) and `resources.rdf_body`) and sent with the same status,
headers in the same order and the same body as the route would send. Only the plain shapes are
taken; anything else (HEAD, `If-None-Match`, parameters besides `query`, a browser asking for
the query page, HTML or JSON-LD, an unknown or withdrawn IRI) returns None and goes to Flask.
tests/test_describe_direct.py compares both answers request by request.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from flask import Request
from werkzeug.utils import get_content_type

from fairtracks_ld.web import resources, sparql, tombstone
from fairtracks_ld.web.cache import Answer, etag_of
from fairtracks_ld.web.executor import GRAPH_FORMATS, QueryRequest, execute
from fairtracks_ld.web.form_field import only_field
from fairtracks_ld.web.negotiation import HTML, best_offer
from fairtracks_ld.web.query_direct import DirectQueries
from fairtracks_ld.web.request_parts import FORM

_SPACE = r"[ \t\r\n]+"
_IRI = r'<[^<>"{}|^`\\\x00-\x20]*>'
_ABSOLUTE_IRI = r'<[A-Za-z][A-Za-z0-9+.-]*:[^<>"{}|^`\\\x00-\x20]*>'
_DESCRIBE = re.compile(  # DESCRIBE of absolute IRIs after PREFIXes: no BASE, SERVICE, escapes
    f"(?:PREFIX{_SPACE}(?:[A-Za-z][A-Za-z0-9_-]*)?:(?:{_SPACE})?{_IRI}{_SPACE})*"
    f"DESCRIBE(?:{_SPACE}{_ABSOLUTE_IRI})+")
_DEREFERENCED = ("/collection/", "/graph/")
_DIRECT_MEDIA = frozenset(media for media in resources.OFFERS
                          if media not in (HTML, "application/ld+json"))
_ROOTS_KEPT = 64
_roots: dict[tuple, str] = {}  # (kind, environ values) → werkzeug's URL

Wire = tuple[str, list[tuple[str, str]], bytes]  # status, headers (CORS not yet added), body


class DirectAnswers:
    """Answers plain queries and dereferencing requests for a Flask app on local snapshots."""

    def __init__(self, app: Any) -> None:
        self.snapshots = app.extensions["snapshots"]
        self.executor = app.extensions["executor"]
        self.cache = app.extensions["cache"]
        settings = app.config["SETTINGS"]
        self.allowed = not settings.backend
        self.queries = DirectQueries(app) if self.allowed else None

    def answer(self, environ: dict[str, Any], body: bytes | None) -> Wire | None:
        """The answer the application would send, or None to let it answer. `body`: a form
        POST's body, already read (None when it was not)."""
        if not self.allowed or "HTTP_IF_NONE_MATCH" in environ:
            return None
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        try:
            if path == "/sparql":
                return self._query(environ, method, body)
            if method == "GET" and path.startswith(_DEREFERENCED) and "//" not in path and \
                    not environ.get("QUERY_STRING"):
                return self._dereference(environ)
        except FileNotFoundError:  # no snapshot: the application says why
            return None
        return None

    def _query(self, environ: dict[str, Any], method: str, body: bytes | None) -> Wire | None:
        """sparql.endpoint for `query=…` (its only parameter) by GET or form POST: a plain
        DESCRIBE here, any other query by query_direct."""
        accept = environ.get("HTTP_ACCEPT", "")
        if method == "GET":
            query = _only_query(environ.get("QUERY_STRING", ""))
            if query is None or sparql.wants_page(accept):
                return None
        elif method == "POST" and body is not None and not environ.get("QUERY_STRING") and \
                environ.get("CONTENT_TYPE") == FORM:
            query = _only_query(body.decode("utf-8", "replace"))
        else:
            return None
        if not query:
            return None
        base_iri = _url(environ, "root") + "sparql"
        if _DESCRIBE.fullmatch(query) and "ancestor" not in query:  # see _describe
            described = self._describe(query, accept, base_iri)
            if described is not None:
                return described
        return self.queries.answer(environ, query, accept, base_iri)

    def _describe(self, query: str, accept: str, base_iri: str) -> Wire | None:
        """A DESCRIBE of constant IRIs (read by _DESCRIBE), evaluated here as an RDF answer;
        None for anything else (an error, no RDF format accepted).

        The text _DESCRIBE matched is PREFIX declarations and `DESCRIBE` of absolute IRIs,
        without escapes: it cannot hold SERVICE, LOAD or a function call, so the SERVICE policy
        has nothing to refuse and the answer is repeatable (cached, with an ETag) however its
        IRIs are spelled; the route's own checks (policy.check_query, repeatable) agree."""
        result_type, graph_type = sparql.negotiated(accept, None)
        if graph_type is None:
            return None
        request = QueryRequest(query=query,  # _DESCRIBE read it: constants only, inline
                               result_type=result_type or "application/sparql-results+json",
                               graph_type=graph_type, default_graphs=None, named_graphs=None,
                               base_iri=base_iri, bounded=True)
        store = self.snapshots.store()  # one readlink: the query runs on this very store
        snapshot = os.path.basename(store.path)
        key = sparql.query_key(request)
        limit = self.executor.max_bytes
        try:
            answer, hit = self.cache.answer(
                snapshot, key, lambda: Answer(*execute(store, request, limit, whole=True)),
                max_share=sparql.CACHED_SHARE)
        except Exception:  # a QueryError or any failure: query_direct answers with it
            return None
        if answer.media not in GRAPH_FORMATS:  # DESCRIBE's answer is a graph: never a 406
            return None
        return "200 OK", [("Content-Type", _content_type(answer.media)),
                          ("Content-Length", str(len(answer.body))), ("Vary", "Accept"),
                          ("X-Cache", "hit" if hit else "miss"),
                          ("ETag", f'"{etag_of(snapshot, key)}"')], answer.body

    def _dereference(self, environ: dict[str, Any]) -> Wire | None:
        """resources.resource for a described, not withdrawn IRI asked for as RDF (not HTML,
        not JSON-LD), with no parameters and no format suffix."""
        media = best_offer(tuple(resources.OFFERS), environ.get("HTTP_ACCEPT", ""))
        if media not in _DIRECT_MEDIA:
            return None
        store = self.snapshots.store()
        raw = environ["RAW_URI"]
        path = raw if "?" not in raw and "#" not in raw else urlsplit(raw).path
        snapshot = os.path.basename(store.path)
        key = ("resource", _url(environ, "host"), path, media, None)
        iri = store.base + path.lstrip("/")

        def render() -> Answer | None:
            triples = resources.description(store, iri)
            if not triples or tombstone.find_with_suffix(store, iri, None) is not None:
                return None
            return Answer(media, resources.rdf_body(triples, media))

        answer, hit = self.cache.answer(snapshot, key, render)
        if answer is None or answer.links:
            return None
        return "200 OK", [("Content-Type", _content_type(answer.media)),
                          ("Content-Length", str(len(answer.body))),
                          ("X-Cache", "hit" if hit else "miss"),
                          ("Content-Location", resources.content_location(path, answer.media)),
                          ("ETag", f'"{etag_of(snapshot, key)}"'), ("Vary", "Accept")
                          ], answer.body


def _only_query(text: str) -> str | None:
    """The value of the only parameter, `query`, of a query string or form body; None for any
    other parameters, or escapes Werkzeug and urllib might read differently."""
    query = only_field(text, "query")
    return None if query is None or "\ufffd" in query else query


def _content_type(media: str) -> str:
    """The Content-Type Flask sends for `Response(mimetype=media)`."""
    return get_content_type(media, "utf-8")


def _url(environ: dict[str, Any], kind: str) -> str:
    """`request.url_root` ("root") or `request.host_url` ("host"), as request_parts caches
    them: built by Werkzeug once per distinct set of the environ values they read (a dict's
    get and set are atomic: no lock; emptied past _ROOTS_KEPT sets)."""
    key = (kind, environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"),
           environ.get("SERVER_NAME"), environ.get("SERVER_PORT"), environ.get("SCRIPT_NAME"))
    url = _roots.get(key)
    if url is None:
        request = Request(environ)
        url = request.url_root if kind == "root" else request.host_url
        if len(_roots) >= _ROOTS_KEPT:
            _roots.clear()
        _roots[key] = url
    return url
