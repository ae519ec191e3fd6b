"""One external SPARQL 1.1 endpoint over HTTP: a pooled session, time limits, and the endpoint's
failures turned into errors a web answer can carry (502, 504), never a traceback.

Every request is a form POST (`query`, `default-graph-uri`, `named-graph-uri`): a current view of
a hundred graphs does not fit in a URL, and nothing else of the client's request (Virtuoso's
`should-sponge`, `timeout`, `debug` parameters) is ever forwarded.
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterable

import pyoxigraph as ox
import requests
from requests.adapters import HTTPAdapter

# XML, not JSON: Virtuoso 7 writes JSON results three to four times slower (its CPU per describing
# query: 8.6 ms as JSON, 2.2 ms as XML; docs/backends.md), and its TSV header is no TSV header.
# pyoxigraph's XML reader trims spaces around a literal's text, so `keep_spaces` writes them as
# character references first (what a reader keeps).
SELECT_TYPE = "application/sparql-results+xml"
GRAPH_TYPE = "application/n-triples"
RESULT_PARSERS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "application/xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_PARSERS = {
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/plain": ox.RdfFormat.N_TRIPLES,
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-quads": ox.RdfFormat.N_QUADS,
}
# Virtuoso echoes each `named-graph-uri` of a request as a response header (X-SPARQL-named-graph),
# and Python's HTTP client (under requests) refuses a response of more than 100 headers: a store
# of ~50 document versions (284 catalog graphs at 1M generated tracks) broke every query naming
# graphs. The limit guards a client against a hostile server flooding headers; the backend is
# the operator's own engine, and a request names at most every graph its catalog knows.
http.client._MAXHEADERS = max(http.client._MAXHEADERS, 100_000)
VIRTUOSO_ASK = ox.Variable("__ASK_RETVAL")  # Virtuoso 7 answers ASK as a one-cell table
# Virtuoso labels blank nodes `nodeID://b123`, which is no blank node label: `b123` is
VIRTUOSO_BNODE = re.compile(rb'(?<=<bnode>)nodeID://|(?<="bnode", "value": ")nodeID://')
# and its JSON writes xsd:boolean values as 1 and 0, which are no booleans
VIRTUOSO_BOOLEAN = re.compile(
    rb'(?<="datatype": "http://www.w3.org/2001/XMLSchema#boolean", "value": ")([01])"')


# a literal whose text starts or ends with spaces (`<literal/>`, empty, has none); the search
# starts only at `<literal`: a pattern starting at any run of spaces tried every one of the
# answer's (1 s of the 20k-track facet index's 4 s of Python, on IRI-only answers)
EDGE_SPACES = re.compile(rb"(<literal(?:\s[^>]*[^/])?>)([ \t\n\r][^<]*|[^<]*[ \t\n\r])(</literal>)")
SPACES = b" \t\n\r"


def keep_spaces(body: bytes) -> bytes:
    """XML results whose literals keep their leading and trailing spaces when read."""
    def referenced(found: re.Match[bytes]) -> bytes:
        opening, text, closing = found.groups()
        inner = text.strip(SPACES)
        leading = text[:len(text) - len(text.lstrip(SPACES))]
        trailing = text[len(leading) + len(inner):]
        return (opening + b"".join(b"&#%d;" % char for char in leading) + inner +
                b"".join(b"&#%d;" % char for char in trailing) + closing)
    return EDGE_SPACES.sub(referenced, body)


class BackendError(Exception):
    """The backend failed: `status` is what the web answer says (502 failed, 504 too slow,
    400 the backend refused the query as invalid)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Endpoint:
    """A SPARQL endpoint shared by the threads of one server process."""

    def __init__(self, url: str, timeout: float = 30.0, connections: int = 16) -> None:
        self.url = url
        self.timeout = timeout
        self._local = threading.local()
        self._connections = connections

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self._connections)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        return session

    def post(self, query: str, accept: str, default_graphs: Iterable[str] | None = None,
             named_graphs: Iterable[str] | None = None,
             timeout: float | None = None) -> tuple[str, bytes]:
        """(media type, body) of the endpoint's answer; BackendError for any failure."""
        form: list[tuple[str, str]] = [("query", query)]
        form += [("default-graph-uri", g) for g in default_graphs or ()]
        form += [("named-graph-uri", g) for g in named_graphs or ()]
        limit = self.timeout if timeout is None else max(0.1, timeout)
        try:
            answer = self._session().post(self.url, data=form, headers={"Accept": accept},
                                          timeout=limit)
        except requests.Timeout:
            raise BackendError(504, f"the SPARQL backend {self.url} did not answer within "
                                    f"{limit:g} s") from None
        except requests.RequestException as failure:
            raise BackendError(502, f"the SPARQL backend {self.url} cannot be reached: "
                                    f"{type(failure).__name__}") from None
        if answer.status_code != 200:
            said = " ".join(answer.text.split())[:500]
            status = 400 if answer.status_code == 400 else 502
            raise BackendError(status, f"the SPARQL backend answered {answer.status_code}: "
                                       f"{said}")
        media = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return media, answer.content

    def solutions(self, query: str, default_graphs: Iterable[str] | None = None,
                  named_graphs: Iterable[str] | None = None,
                  timeout: float | None = None) -> ox.QuerySolutions | ox.QueryBoolean:
        """A SELECT or ASK answer, parsed."""
        media, body = self.post(query, SELECT_TYPE, default_graphs, named_graphs, timeout)
        return parse_results(media, body)

    def triples(self, query: str, default_graphs: Iterable[str] | None = None,
                named_graphs: Iterable[str] | None = None,
                timeout: float | None = None) -> list[ox.Triple]:
        """A CONSTRUCT or DESCRIBE answer, parsed."""
        return [quad.triple for quad in self.quads(query, default_graphs, named_graphs,
                                                   timeout)]

    def quads(self, query: str, default_graphs: Iterable[str] | None = None,
              named_graphs: Iterable[str] | None = None,
              timeout: float | None = None) -> list[ox.Quad]:
        """A CONSTRUCT or DESCRIBE answer, parsed, as quads of the default graph: what the
        parser gives (a reader of many triples makes no second object of each)."""
        media, body = self.post(query, f"{GRAPH_TYPE}, text/turtle;q=0.5", default_graphs,
                                named_graphs, timeout)
        return parse_quads(media, body)

    def reachable(self) -> str | None:
        """None when the endpoint answers a trivial query, else why not."""
        try:
            self.solutions("ASK { }", timeout=min(self.timeout, 10))
        except BackendError as failure:
            return failure.message
        return None


def parse_results(media: str, body: bytes) -> ox.QuerySolutions | ox.QueryBoolean:
    """SPARQL results as pyoxigraph reads them; Virtuoso's ASK table becomes a boolean."""
    fmt = RESULT_PARSERS.get(media)
    if fmt is None:
        raise BackendError(502, f"the SPARQL backend answered {media or 'no media type'}, "
                                "not SPARQL results")
    if b"nodeID://" in body:
        body = VIRTUOSO_BNODE.sub(b"", body)
    if b'#boolean", "value": "' in body:
        body = VIRTUOSO_BOOLEAN.sub(lambda m: b'true"' if m[1] == b"1" else b'false"', body)
    if fmt == ox.QueryResultsFormat.XML:
        body = keep_spaces(body)
    try:
        parsed = ox.parse_query_results(body, format=fmt)
    except SyntaxError as failure:
        raise BackendError(502, f"the SPARQL backend's results cannot be read: {failure}"
                           ) from None
    if isinstance(parsed, ox.QuerySolutions) and parsed.variables == [VIRTUOSO_ASK]:
        rows = list(parsed)
        value = bool(rows) and rows[0][VIRTUOSO_ASK] is not None and \
            rows[0][VIRTUOSO_ASK].value not in ("0", "false")
        return ox.parse_query_results(b'{"head":{},"boolean":%s}' % (b"true" if value else
                                                                      b"false"),
                                      format=ox.QueryResultsFormat.JSON)
    return parsed


def parse_quads(media: str, body: bytes) -> list[ox.Quad]:
    fmt = GRAPH_PARSERS.get(media)
    if fmt is None:
        raise BackendError(502, f"the SPARQL backend answered {media or 'no media type'}, "
                                "not RDF")
    try:
        return list(ox.parse(body, format=fmt))
    except SyntaxError as failure:
        raise BackendError(502, f"the SPARQL backend's RDF cannot be read: {failure}") from None
