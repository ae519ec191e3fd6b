"""RDF dumps: the whole dataset and each collection as gzip N-Quads, streamed in batches; a
graph with a record (store/records.py) is copied from it instead of read from the store."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

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


def _graph_nquads(store: TrackStore, graph: str, recorded: Path | None) -> Iterator[bytes]:
    """One named graph as N-Quads blocks: copied from its `recorded` file, else the store's."""
    if recorded is None:
        yield from _serialised(store.graph_quads(graph))
        return
    for block in records.blocks(recorded):
        yield records.as_nquads(block, graph)


def _download(blocks: Iterable[bytes], name: str) -> Response:
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
    nor the default graph, the merge of the current ones (see fairtracks_ld.store.current_view).
    A store with records (store/records.py) is dumped graph by graph, the recorded ones copied
    from their files; one without (an external backend answers the whole dump itself, see
    web/backend) by one pass over its quads."""
    store = current_app.extensions["snapshots"].store()
    hidden = hidden_graphs(store)
    recorded = records.files(store)
    if recorded:
        return _download((block for graph in store.graph_names()  # versions stored once too
                          if ox.NamedNode(graph) not in hidden
                          for block in _graph_nquads(store, graph, recorded.get(graph))),
                         "fairtracks-ld")
    quads = (quad for quad in store.ox.quads_for_pattern(None, None, None, None)
             if isinstance(quad.graph_name, ox.NamedNode) and quad.graph_name not in hidden)
    return _download(_serialised(quads), "fairtracks-ld")


@blueprint.route("/dumps/collection/<collection>.nq.gz")
def dump_collection(collection: str) -> Response:
    """The current version graph(s) of one collection."""
    store = current_app.extensions["snapshots"].store()
    graphs = [v.graph for v in store.versions()
              if v.current and local_id_of(v.collection) == collection]
    if not graphs:
        return error_response(404, f"404 Not Found: no collection {collection!r}")
    recorded = records.files(store)
    return _download((block for graph in graphs
                      for block in _graph_nquads(store, graph, recorded.get(graph))), collection)
