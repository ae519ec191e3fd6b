"""RDF dumps: the whole dataset and each collection as gzip N-Quads, streamed in batches; a
graph with a record (store/records.py) is copied from it instead of read from the store."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from itertools import islice

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, stream_with_context

from fairtracks_ld.mapping.iris import local_id_of
from fairtracks_ld.store import TrackStore, records
from fairtracks_ld.web.errors import error_response
from fairtracks_ld.withdrawal import hidden_graphs

blueprint = Blueprint("dumps", __name__)
BATCH = 20_000


def _serialised(quads: Iterable[ox.Quad]) -> Iterator[bytes]:
    """Quads as N-Quads, batch by batch: memory stays flat however big the graph."""
    iterator = iter(quads)
    while batch := list(islice(iterator, BATCH)):
        yield ox.serialize(batch, format=ox.RdfFormat.N_QUADS)


def _gzip(blocks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip container
    for block in blocks:
        if chunk := compressor.compress(block):
            yield chunk
    yield compressor.flush()


def graph_nquads(store: TrackStore, graph: str) -> Iterator[bytes]:
    """One named graph as N-Quads blocks: from its record when it has one, else the store."""
    recorded = records.path_of(store, graph)
    if recorded is None:
        yield from _serialised(store.graph_quads(graph))
        return
    for block in records.blocks(recorded):
        yield records.as_nquads(block, graph)


def _download(graphs: Iterable[str], store: TrackStore, name: str) -> Response:
    blocks = (block for graph in graphs for block in graph_nquads(store, graph))
    response = Response(stream_with_context(_gzip(blocks)),
                        mimetype="application/n-quads")
    response.headers["Content-Encoding"] = "identity"
    response.headers["Content-Type"] = "application/gzip"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.nq.gz"'
    return response


@blueprint.route("/dumps/all.nq.gz")
def dump_all() -> Response:
    """Every named graph of the store: current and earlier versions, ontologies, catalog; not
    the graphs of withdrawn documents (they stay in the store, see fairtracks_ld.withdrawal),
    nor the default graph, the merge of the current ones (see fairtracks_ld.store.current_view)."""
    store = current_app.extensions["snapshots"].store()
    hidden = hidden_graphs(store)
    graphs = [g.value for g in store.ox.named_graphs() if g not in hidden]
    return _download(graphs, store, "fairtracks-ld")


@blueprint.route("/dumps/collection/<collection>.nq.gz")
def dump_collection(collection: str) -> Response:
    """The current version graph(s) of one collection."""
    store = current_app.extensions["snapshots"].store()
    graphs = [v.graph for v in store.versions()
              if v.current and local_id_of(v.collection) == collection]
    if not graphs:
        return error_response(404, f"404 Not Found: no collection {collection!r}")
    return _download(graphs, store, collection)
