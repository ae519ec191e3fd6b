"""A replica's facet index (`serve --backend`), built from the backend over SPARQL, is the one the
local store builds, field by field: on Virtuoso and on `oxigraph serve`, with each version
graph's properties read in pages; and a version graph's segment is read whole from a Virtuoso
that cuts answers short (its ResultSetMaxRows), as every deployment's Virtuoso does past its
limit."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from conftest import B_CELL, BASE, annotate, term, write_json
from servers import oxigraph
from servers import oxigraph_serve as serve_oxigraph
from test_search_refresh import EXTRA, SPECIAL, assert_same
from virtuoso import virtuoso

from fairtracks_ld.load import load_sources
from fairtracks_ld.ontology.install import add_ontology
from fairtracks_ld.search.index import build_index
from fairtracks_ld.search.reader import Segment, read_segment
from fairtracks_ld.store import TrackStore
from fairtracks_ld.web.backend import dataset
from fairtracks_ld.web.backend.dataset import BackendReader, RemoteStore
from fairtracks_ld.web.backend.endpoint import Endpoint

UNUSED = "urn:fairtracks-ld:test-unused"
ROW_LIMIT = 10  # the cutting Virtuoso's ResultSetMaxRows: a version graph has 40-50 tracks


@pytest.fixture(scope="module")
def local(generated, tmp_path_factory) -> Iterator[tuple[TrackStore, Path]]:
    """A store of a small ontology and the generated documents, a sample of one a B cell (the
    ontology names its ancestor: the index reads the name there), and its N-Quads dump (the
    shipped bundle's would be 450 MB)."""
    folder = tmp_path_factory.mktemp("replica-index")
    store = TrackStore(folder / "store", base=BASE)
    (folder / "extra.ttl").write_text(EXTRA)
    add_ontology(store, str(folder / "extra.ttl"))
    documents = [annotate(generated[0], samples={0: {"cell_type": term(B_CELL, "B cell")}}),
                 *generated[1:]]
    paths = [str(write_json(folder / f"document-{n}.json", d)) for n, d in enumerate(documents)]
    assert load_sources(store, paths).ok
    (folder / "dump").mkdir()
    with open(folder / "dump" / "all.nq", "wb") as output:
        store.dump(output, ox.RdfFormat.N_QUADS)
    yield store, folder


@pytest.fixture(scope="module")
def virtuoso_url(local) -> Iterator[str]:
    folder = local[1]
    with virtuoso(folder / "virtuoso", extra_dirs=(folder / "dump",)) as server:
        server.bulk_load(folder / "dump", "*.nq", UNUSED)
        yield server.sparql_url


@pytest.fixture(scope="module")
def oxigraph_url(local) -> Iterator[str]:
    folder = local[1]
    subprocess.run([oxigraph(), "load", "--location", str(folder / "oxigraph"), "--file",
                    str(folder / "dump" / "all.nq")], check=True, capture_output=True,
                   timeout=300)
    with serve_oxigraph(folder / "oxigraph") as (base, _):
        yield f"{base}/query"


@pytest.fixture(scope="module")
def cutting_url(local) -> Iterator[str]:
    """A Virtuoso answering at most ROW_LIMIT rows (triples) a query."""
    folder = local[1]
    with virtuoso(folder / "cutting", extra_dirs=(folder / "dump",),
                  max_rows=ROW_LIMIT) as server:
        server.bulk_load(folder / "dump", "*.nq", UNUSED)
        yield server.sparql_url


@pytest.mark.parametrize("engine", ["virtuoso", "oxigraph"])
def test_a_replica_builds_the_index_the_local_store_builds(local, engine, request,
                                                          monkeypatch):
    """Pages of 7 triples: every property of a version graph is read over several."""
    monkeypatch.setattr(dataset, "PAGE_TRIPLES", 7)
    url = request.getfixturevalue(f"{engine}_url")
    remote = BackendReader(Endpoint(url, timeout=120)).store()
    built = build_index(remote, "remote")
    here = build_index(local[0], "local")
    assert built.graphs == here.graphs and len(built.tracks) == len(here.tracks) > 100
    assert ("special cell", "sample_type", SPECIAL, "label") in built.names
    # Virtuoso writes an xsd:dateTime back without its fractional seconds' trailing zeros
    assert_same(dataclasses.replace(built, versions=here.versions), here)


def _per_track(segment: Segment) -> tuple:
    return (segment.tracks, segment.text,
            {name: [combos[c] for c in column] for name, (column, combos)
             in segment.combos.items()})


@pytest.mark.parametrize("page", [1000, 25])
def test_a_segment_is_read_whole_past_the_engines_row_limit(local, cutting_url, page,
                                                             monkeypatch):
    """Virtuoso cuts an answer at its ResultSetMaxRows, silently: the properties of a version
    graph are counted, then read in pages of the rows it gives (its limit, below the page
    size asked: 1000; within a page size of 25 triples: 25 asked, 10 given)."""
    monkeypatch.setattr(dataset, "PAGE_TRIPLES", page)
    store = local[0]
    endpoint = Endpoint(cutting_url, timeout=120)
    remote = RemoteStore(endpoint, "cutting", store.base)
    graph = next(v.graph for v in store.versions() if v.current)
    cut = endpoint.solutions(f"SELECT * WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    assert len(list(cut)) == ROW_LIMIT  # the engine does cut
    segment = read_segment(remote, graph)
    assert len(segment.tracks) > 3 * ROW_LIMIT
    assert _per_track(segment) == _per_track(read_segment(store, graph))
