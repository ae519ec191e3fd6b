"""The one-graph copy of a snapshot's view (web/flatview.py): same answers as the graph list,
old versions and the catalog left out, blank nodes intact, used only for queries naming no
graphs, and pruned once its snapshot is no longer current."""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from conftest import annotate, write_json
from servers import EXAMPLES, cli

from fairtracks_ld.snapshots import current_snapshot, publish
from fairtracks_ld.store import PREFIXES, TrackStore
from fairtracks_ld.web import flatview
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


def triples(path: Path) -> set[str]:
    return {str(quad) for quad in ox.Store.read_only(str(path))}


def from_scratch(snapshot: Path, folder: Path) -> set[str]:
    flatview._copy(TrackStore(snapshot, read_only=True), folder / "view")
    return triples(folder / "view")


def refuse(*_args) -> None:
    raise AssertionError("this path must not be taken")


def test_a_later_copy_is_the_earlier_one_brought_up_to_date(tmp_path, example, monkeypatch):
    store = tmp_path / "store"
    cli(store, BASE, "load", str(write_json(tmp_path / "v1.json", example)))
    first = build(current_snapshot(store))
    old_label = example["tracks"][0]["label_short"]
    assert any(old_label in t for t in triples(first))
    newer = copy.deepcopy(example)  # a new version: one label changed, the rest shared
    newer["doc_info"]["doc_version"] = "v2"
    newer["doc_info"]["doc_date"] = "2030-01-01T00:00:00Z"
    newer["tracks"][0]["label_short"] = "renamed in v2"
    other = annotate(example, collection="other")  # and a new document, same labels
    cli(store, BASE, "load", str(write_json(tmp_path / "v2.json", newer)),
        str(write_json(tmp_path / "other.json", other)))
    snapshot = current_snapshot(store)
    monkeypatch.setattr(flatview, "_copy", refuse)
    updated = triples(build(snapshot))
    monkeypatch.undo()
    assert updated == from_scratch(snapshot, tmp_path)  # blank nodes included, by label
    assert any("renamed in v2" in t for t in updated)
    assert {t.split()[0] for t in updated if f'"{old_label}"' in t} == {  # the new document's
        t.split()[0] for t in updated if f'"{old_label}"' in t and "/collection/other/" in t}


def test_a_sparql_update_makes_the_next_copy_start_afresh(tmp_path, example, monkeypatch):
    store = tmp_path / "store"
    cli(store, BASE, "load", str(write_json(tmp_path / "v1.json", example)))
    build(current_snapshot(store))
    writable = TrackStore(store)
    writable.ox.update("INSERT DATA { <http://example.org/s> <http://example.org/p> 1 }")
    writable.mark_modified()
    snapshot = publish(writable)
    del writable
    monkeypatch.setattr(flatview, "_update", refuse)
    assert any("http://example.org/s" in t for t in triples(build(snapshot)))


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
