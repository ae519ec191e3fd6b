"""The one-graph copy of a snapshot's view (web/flatview.py): same answers as the graph list,
old versions and the catalog left out, blank nodes intact, used only for queries naming no
graphs, and pruned once its snapshot is no longer current."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from servers import EXAMPLES, cli

from fairtracks_ld.snapshots import current_snapshot
from fairtracks_ld.store import PREFIXES, TrackStore
from fairtracks_ld.web.executor import QueryRequest, execute
from fairtracks_ld.web.flatview import answerable, build, flat_path, prune

BASE = "http://127.0.0.1:9/"
JSON = "application/sparql-results+json"


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("flat") / "store"
    cli(store, BASE, "load", "--allow-invalid", *EXAMPLES)
    return current_snapshot(store)


def rows(store: ox.Store, query: str, **options) -> set[tuple[str, ...]]:
    return {tuple(str(term) for term in row)
            for row in store.query(query, prefixes=PREFIXES, **options)}


def test_the_copy_answers_like_the_graph_list(snapshot):
    flat = ox.Store.read_only(str(build(snapshot)))
    source = TrackStore(snapshot, read_only=True)
    view = {"default_graph": source.default_graphs()}
    triples = "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER(!isBlank(?s) && !isBlank(?o)) }"
    assert rows(flat, triples) == rows(source.ox, triples, **view)
    tracks = "SELECT (COUNT(DISTINCT ?t) AS ?n) WHERE { ?t a ft:Track }"
    assert rows(flat, tracks) == rows(source.ox, tracks, **view) == {('"8"^^<http://www.w3.org/'
                                                                      '2001/XMLSchema#integer>',)}
    # the catalog is not in it
    assert not flat.query("ASK { ?g a ft:DocumentVersion }", prefixes=PREFIXES)
    # blank nodes keep their identity: RDF lists still read from head to tail
    lists = ("SELECT ?t ?id WHERE { ?t ft:raw_file_ids ?l . ?l rdf:rest*/rdf:first ?id }")
    assert rows(flat, lists) == rows(source.ox, lists, **view)
    assert len(rows(flat, lists)) >= 8


def test_only_queries_naming_no_graphs_use_the_copy(snapshot):
    source = TrackStore(snapshot, read_only=True)
    marker = ox.Store()
    marker.add(ox.Quad(ox.NamedNode("http://example.org/only-in-copy"),
                       ox.NamedNode("http://example.org/p"), ox.Literal("x")))
    ask = "ASK { <http://example.org/only-in-copy> ?p ?o }"
    _, body = execute(source, QueryRequest(ask, JSON, "text/turtle"), 10**6, marker)
    assert b"true" in body
    named = "ASK { GRAPH ?g { ?d ft:current_version ?v } }"
    assert not answerable(named) and not answerable("SELECT * FROM <x> { ?s ?p ?o }")
    assert answerable(ask)
    _, body = execute(source, QueryRequest(named, JSON, "text/turtle"), 10**6, None)
    assert b"true" in body
    catalog = "ASK { ?d ft:current_version ?v }"  # true only in the catalog graph
    _, body = execute(source, QueryRequest(catalog, JSON, "text/turtle",
                                           default_graphs=[BASE + "graph/catalog"]), 10**6, marker)
    assert b"true" in body  # default-graph-uri given: the snapshot answers, not the copy


def test_copies_of_earlier_snapshots_are_pruned(snapshot, monkeypatch):
    folder = snapshot.parent
    old = folder / "1"
    stale = flat_path(old)
    stale.mkdir()
    (folder / "1.view.lock").touch()
    prune(folder)
    assert not stale.exists()  # its snapshot is gone
    assert flat_path(snapshot).is_dir()  # the current one stays
    old.mkdir()
    stale.mkdir()
    prune(folder)
    assert stale.exists()  # its snapshot may still be read: kept for the grace period
    long_ago = time.time() - 3600
    os.utime(stale, (long_ago, long_ago))
    prune(folder)
    assert not stale.exists()
