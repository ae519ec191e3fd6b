"""RDF dumps: the whole dataset and each collection as gzip N-Quads, streamed in batches."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from itertools import islice

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, stream_with_context

from fairtracks_ld.mapping.iris import local_id_of
from fairtracks_ld.web.errors import error_response
from fairtracks_ld.withdrawal import hidden_graphs

blueprint = Blueprint("dumps", __name__)
BATCH = 20_000


def gzip_nquads(quads: Iterable[ox.Quad]) -> Iterator[bytes]:
    """Serialise and gzip quads batch by batch: memory stays flat however big the dump."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip container
    iterator = iter(quads)
    while batch := list(islice(iterator, BATCH)):
        chunk = compressor.compress(ox.serialize(batch, format=ox.RdfFormat.N_QUADS))
        if chunk:
            yield chunk
    yield compressor.flush()


def _download(quads: Iterable[ox.Quad], name: str) -> Response:
    response = Response(stream_with_context(gzip_nquads(quads)),
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
    quads = (quad for quad in store.ox.quads_for_pattern(None, None, None, None)
             if isinstance(quad.graph_name, ox.NamedNode) and quad.graph_name not in hidden)
    return _download(quads, "fairtracks-ld")


@blueprint.route("/dumps/collection/<collection>.nq.gz")
def dump_collection(collection: str) -> Response:
    """The current version graph(s) of one collection."""
    store = current_app.extensions["snapshots"].store()
    graphs = [v.graph for v in store.versions()
              if v.current and local_id_of(v.collection) == collection]
    if not graphs:
        return error_response(404, f"404 Not Found: no collection {collection!r}")

    def quads() -> Iterator[ox.Quad]:
        for graph in graphs:
            yield from store.graph_quads(graph)

    return _download(quads(), collection)
