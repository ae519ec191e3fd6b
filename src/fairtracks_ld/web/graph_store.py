"""`/rdf-graph-store`: the SPARQL 1.1 Graph Store HTTP Protocol (indirect graph identification).

GET/HEAD read a named graph (`?graph=<iri>`) or the default view (`?default`: the graphs a query
sees by default) from the current snapshot, in any RDF syntax. PUT (replace), POST (merge) and
DELETE write named graphs with the admin token (a POST naming no graph creates one under
`<base>graph-store/` and answers its address in `Location`), on the primary store (the writer:
one process at a time, so a busy store answers 503), and publish a snapshot so the change is
visible at once.

The graphs fairtracks-ld manages itself are refused for writing: document version graphs, their
validation reports, ontology graphs, the catalog, the closure and anything else under
`<base>graph/`; so is the default view, which is computed from the catalog. Those change by loading
documents or ontologies. Every graph written here is recorded in the catalog (`ft:GraphStoreGraph`,
with `dcterms:modified`). Such graphs are never part of the default view, so a write leaves the view
as it was.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, request, url_for

from fairtracks_ld.mapping.namespaces import PREFIXES
from fairtracks_ld.recovery import ours
from fairtracks_ld.store import REPORT_SUFFIX, TrackStore
from fairtracks_ld.web.auth import audit, authenticate
from fairtracks_ld.web.executor import CappedBuffer
from fairtracks_ld.web.negotiation import RDF_TYPES, choose, not_acceptable
from fairtracks_ld.writer_lock import StoreLocked, writing

blueprint = Blueprint("graph_store", __name__)

GRAPH_STORE_PATH = "/rdf-graph-store"
READ_TYPES = list(RDF_TYPES)  # Turtle first: the default
WRITE_TYPES = {**RDF_TYPES, "text/plain": ox.RdfFormat.N_TRIPLES,
               "application/x-turtle": ox.RdfFormat.TURTLE}
LOAD_INSTEAD = ("fairtracks-ld manages it; load a document (`fairtracks-ld load`) or an ontology "
                "instead")


class GraphStoreError(Exception):
    """A request this protocol refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _answer(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def _target() -> str | None:
    """The named graph the request is about, or None for the default view."""
    has_default = "default" in request.args
    graphs = request.args.getlist("graph")
    if has_default == bool(graphs) or len(graphs) > 1:
        raise GraphStoreError(400, "name exactly one graph: ?default or ?graph=<absolute IRI>")
    if has_default:
        return None
    try:
        graph = ox.NamedNode(graphs[0]).value
    except ValueError as failure:
        raise GraphStoreError(400, f"?graph= must be an absolute IRI: {failure}") from failure
    if ":" not in graph:
        raise GraphStoreError(400, f"?graph= must be an absolute IRI, not {graph!r}")
    return graph


@blueprint.route(GRAPH_STORE_PATH, methods=["GET", "HEAD", "PUT", "POST", "DELETE"])
def graph_store() -> Response:
    try:
        if request.method == "POST" and "default" not in request.args and (
                not request.args.getlist("graph")):
            return _write(_new_graph(), created=True)  # POST to the store itself (spec 5.5)
        graph = _target()
        if request.method in ("GET", "HEAD"):
            return _read(graph)
        return _write(graph)
    except GraphStoreError as failure:
        response = _answer(failure.status, failure.message)
        if failure.status == 503:
            response.headers["Retry-After"] = "5"
        return response


def _read(graph: str | None) -> Response:
    media = choose(READ_TYPES)
    if media is None:
        return not_acceptable(READ_TYPES)
    store = current_app.extensions["snapshots"].store()
    if graph is None:
        from fairtracks_ld.web.view import triples

        content = triples(store)
    elif store.has_graph(graph):
        content = (quad.triple for quad in store.graph_quads(graph))
    else:
        raise GraphStoreError(404, f"no graph {graph} in the store")
    limit = current_app.config["SETTINGS"].max_result_bytes
    out = CappedBuffer(limit)
    try:
        ox.serialize(content, out, format=RDF_TYPES[media], prefixes=PREFIXES)
    except OverflowError:
        raise GraphStoreError(413, f"the graph is larger than the server's limit of {limit:,} "
                                   "bytes; use the dumps (/dumps/all.nq.gz) or SPARQL with "
                                   "LIMIT") from None
    response = Response(b"".join(out.parts), mimetype=media)
    response.headers["Vary"] = "Accept"
    return response


def _payload(graph: str) -> list[ox.Triple]:
    """The request body's triples, relative IRIs resolved against the graph's IRI."""
    media = (request.mimetype or "").lower()
    if media not in WRITE_TYPES:
        raise GraphStoreError(415, f"unsupported content type {media or 'none'!r}; send one of "
                                   + ", ".join(RDF_TYPES))
    try:
        return [quad.triple for quad in ox.parse(
            request.get_data(), format=WRITE_TYPES[media], base_iri=graph,
            without_named_graphs=True, rename_blank_nodes=True)]
    except SyntaxError as failure:
        raise GraphStoreError(400, f"the {media} body does not parse: {failure}") from None


def _managed(store: TrackStore, graph: str) -> str | None:
    """Why fairtracks-ld manages this graph itself, or None when it is a graph users may write."""
    if graph.startswith(store.base + "graph/"):
        return f"{graph} is one of the store's own graphs (catalog, closure or staging)"
    if graph in {o.graph for o in store.ontologies()}:
        return f"{graph} is an ontology graph"
    versions = {v.graph for v in store.versions()}
    if graph in versions:
        return f"{graph} is a document version graph"
    if graph.removesuffix(REPORT_SUFFIX) in versions:
        return f"{graph} is the validation report of a document version"
    if ours(store, graph):  # what a write's sweep would take for its debris (recovery.py)
        return f"{graph} is named as the store names document versions and their graphs"
    return None


def _new_graph() -> str:
    """A fresh IRI for a graph the server names (under the store's base, outside graph/)."""
    base = current_app.extensions["snapshots"].store().base
    return f"{base}graph-store/{uuid.uuid4().hex}"


def _write(graph: str | None, created: bool = False) -> Response:
    refused = authenticate()
    if refused is not None:
        return refused
    if graph is None:
        raise GraphStoreError(403, "the default graph is the view computed from the catalog "
                                   f"(current document versions and ontologies); {LOAD_INSTEAD}, "
                                   "or write a named graph with ?graph=<iri>")
    payload = _payload(graph) if request.method in ("PUT", "POST") else []
    audit(f"Graph Store {request.method}", graph)
    settings = current_app.config["SETTINGS"]
    try:
        with writing(settings.store, command=f"Graph Store {request.method} (server)") as store:
            existed = _apply(store, graph, payload)
    except StoreLocked as failure:
        raise GraphStoreError(503, f"the store is busy: {failure}") from None
    if request.method != "DELETE" and not existed:
        response = Response(status=201)
        response.headers["Location"] = (
            url_for("graph_store.graph_store", graph=graph, _external=True) if created
            else request.url)
        return response
    return Response(status=204)


def _apply(store: TrackStore, graph: str, payload: list[ox.Triple]) -> bool:
    """Write the graph and its catalog record, then publish; whether the graph existed."""
    from fairtracks_ld.store.snapshots import publish

    reason = _managed(store, graph)
    if reason:
        raise GraphStoreError(403, f"{reason}: {LOAD_INSTEAD}")
    existed = store.has_graph(graph)
    if request.method == "DELETE" and not existed:
        raise GraphStoreError(404, f"no graph {graph} in the store")
    store.ox.update(_update_text(store, graph, request.method, payload), prefixes=PREFIXES)
    publish(store)
    return existed


def _update_text(store: TrackStore, graph: str, method: str, payload: list[ox.Triple]) -> str:
    """One SPARQL update (one transaction) doing the write and its catalog record."""
    cat = store.catalog
    forget = f"DELETE WHERE {{ GRAPH <{cat}> {{ <{graph}> ?p ?o }} }}"
    if method == "DELETE":
        return f"DROP GRAPH <{graph}> ; {forget}"
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    triples = ox.serialize(payload, format=ox.RdfFormat.N_TRIPLES).decode() if payload else ""
    replace = f"DROP SILENT GRAPH <{graph}> ; " if method == "PUT" else ""
    return (f"{replace}CREATE SILENT GRAPH <{graph}> ; "
            f"INSERT DATA {{ GRAPH <{graph}> {{ {triples} }} }} ; {forget} ; "
            f"INSERT DATA {{ GRAPH <{cat}> {{ <{graph}> a ft:GraphStoreGraph ; "
            f'dcterms:modified "{now}"^^xsd:dateTime }} }}')
