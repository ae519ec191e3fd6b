"""Records (store/records.py): each document version graph kept as a zstd N-Triples file the
catalog names, on a real store loaded by the real CLI: the record holds the very graph (blank
nodes included), dumps read it, a supersede removes from the view exactly what reading the store
removes, a refused load leaves none, a withdrawn version keeps its own, an ontology refresh
leaves them all."""

from __future__ import annotations

import copy
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
import zstandard
from conftest import BASE, copy_folder, write_json
from servers import free_port, serve

from fairtracks_ld.generate import generate_documents
from fairtracks_ld.mapping.export import export_document
from fairtracks_ld.mapping.namespaces import FT
from fairtracks_ld.recovery import find
from fairtracks_ld.search import exports, reader
from fairtracks_ld.store import TrackStore, current_view, members, records
from fairtracks_ld.store.snapshots import current_snapshot

TRACKS = 300


def cli(store: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                           "--base-iri", BASE, *args], capture_output=True, timeout=600)


def loaded(store: Path, *paths: Path) -> None:
    result = cli(store, "load", *map(str, paths))
    assert result.returncode == 0, result.stderr.decode()


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> tuple[Path, Path]:
    """A generated document and a later version of it (every tenth track relabelled)."""
    folder = tmp_path_factory.mktemp("documents")
    first, = generate_documents(tracks=TRACKS, seed=1, tracks_per_document=TRACKS)
    second = copy.deepcopy(first)
    second["doc_info"]["doc_version"] = "2"
    second["doc_info"]["doc_date"] = "2031-01-01T00:00:00Z"
    for track in second["tracks"][::10]:
        track["label_short"] = track["label_short"][:15] + " (changed)"
    return write_json(folder / "first.json", first), write_json(folder / "second.json", second)


@pytest.fixture(scope="module")
def template(tmp_path_factory, documents) -> Path:
    """A store holding the first version (with the ontology bundle), published."""
    folder = tmp_path_factory.mktemp("records")
    loaded(folder / "store", documents[0])
    return folder


@pytest.fixture
def store(template, tmp_path) -> Path:
    return copy_folder(template, tmp_path)


def quads(data: bytes, fmt: ox.RdfFormat = ox.RdfFormat.N_TRIPLES) -> set:
    """Parsed as written: blank-node labels kept, so equal sets are the very same graphs."""
    return set(ox.parse(data, format=fmt))


def record_of(store: TrackStore, graph: str) -> bytes:
    path = records.path_of(store, graph)
    assert path is not None, f"no record of {graph}"
    return b"".join(records.blocks(path))


def graph_of(store: TrackStore, graph: str) -> set:
    return {ox.Quad(q.subject, q.predicate, q.object) for q in store.graph_quads(graph)}


def test_a_record_written_from_the_store_keeps_its_blank_nodes(store):
    """A graph holding blank nodes (a store loaded before list cells were skolemised, whose
    records `doctor --repair` writes from the store) is recorded with the store's own labels."""
    opened = TrackStore(store, base=BASE)
    version, = opened.versions()
    graph = ox.NamedNode(version.graph)
    owner = next(q.subject for q in opened.graph_quads(version.graph))
    cell, rest = ox.BlankNode(), ox.BlankNode()
    rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    opened.ox.extend([
        ox.Quad(owner, ox.NamedNode(BASE + "vocab#old_list"), cell, graph),
        ox.Quad(cell, ox.NamedNode(rdf + "first"), ox.Literal("a"), graph),
        ox.Quad(cell, ox.NamedNode(rdf + "rest"), rest, graph),
        ox.Quad(rest, ox.NamedNode(rdf + "first"), ox.Literal("b"), graph),
        ox.Quad(rest, ox.NamedNode(rdf + "rest"), ox.NamedNode(rdf + "nil"), graph)])
    records.write_from_store(opened, version.graph)
    kept = quads(record_of(opened, version.graph))
    assert kept == graph_of(opened, version.graph)
    assert sum(isinstance(q.subject, ox.BlankNode) for q in kept) == 4


def test_a_load_records_the_version_graph_as_the_store_holds_it(template):
    """The version graph only: its validation report and the closure are derived, not records."""
    store = TrackStore(template / "store", base=BASE, read_only=True)
    version, = store.versions()
    held, kept = graph_of(store, version.graph), quads(record_of(store, version.graph))
    assert held and kept == held
    assert set(records.names(store)) == {version.graph}
    files = list(records.folder(store.path).rglob("*"))
    assert all(f.suffixes[-2:] == [".nt", ".zst"] for f in files if f.is_file())


def held_once(store: TrackStore, version: str) -> set[ox.Quad]:
    """What the store holds of a version stored once, read from the store (not its record): the
    view's triples about the nodes of the entities the members graph lists for it."""
    node = ox.NamedNode(version)
    listed = {m.subject.value for m in store.ox.quads_for_pattern(
        None, ox.NamedNode(members.DESCRIBED_IN), node, ox.NamedNode(members.graph(store)))}
    return {ox.Quad(q.subject, q.predicate, q.object, node)
            for q in store.ox.quads_for_pattern(None, None, None, ox.DefaultGraph())
            if isinstance(q.subject, ox.NamedNode) and members.entity(q.subject.value) in listed}


def test_dumps_read_from_records_equal_the_store(store):
    path = store
    opened = TrackStore(path, base=BASE, read_only=True)
    version, = opened.versions()
    whole = io.BytesIO()
    opened.ox.dump(whole, ox.RdfFormat.N_QUADS)
    held = held_once(opened, version.graph)  # stored once: the view's triples of its members
    expected = quads(whole.getvalue(), ox.RdfFormat.N_QUADS) | held
    one = io.BytesIO()
    opened.ox.dump(one, ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(version.graph))
    one.write(ox.serialize([q.triple for q in held], format=ox.RdfFormat.N_TRIPLES))
    del opened
    dumped = cli(path, "dump")
    assert dumped.returncode == 0, dumped.stderr.decode()
    assert quads(dumped.stdout, ox.RdfFormat.N_QUADS) == expected
    graph = cli(path, "dump", "--format", "nt", "--graph", version.graph)
    assert quads(graph.stdout) == quads(one.getvalue())
    port = free_port()
    with serve(path, port) as base:
        answer = requests.get(base + "dumps/all.nq.gz", timeout=120)
    served = quads(gzip.decompress(answer.content), ox.RdfFormat.N_QUADS)
    assert served == {q for q in expected if isinstance(q.graph_name, ox.NamedNode)}


def test_a_segment_read_from_the_record_equals_one_read_from_the_store(template, monkeypatch):
    opened = TrackStore(template / "store", base=BASE, read_only=True)
    version, = opened.versions()
    assert records.path_of(opened, version.graph) is not None
    predicates = [FT + prop for prop in reader.PROPERTIES]
    filtered = {ox.Triple(t.subject, t.predicate, t.object)
                for t in records.graph_triples(opened, version.graph, predicates)}
    assert filtered == {q.triple for q in opened.graph_quads(version.graph)
                        if q.predicate.value in predicates}
    from_record = reader.read_segment(opened, version.graph)
    monkeypatch.setattr(records, "path_of", lambda store, graph: None)
    from_store = reader.read_segment(opened, version.graph)
    assert len(from_record.tracks) == TRACKS and from_record.tracks == from_store.tracks
    assert from_record.text == from_store.text and all(from_record.text)
    for field, (column, combinations) in from_store.combos.items():
        got, got_combinations = from_record.combos[field]
        assert [combinations[i] for i in column] == [got_combinations[i] for i in got]
    assert all(column.any() for column, _ in from_store.combos.values())  # every field read


def test_an_export_read_from_the_record_equals_one_from_the_store(template):
    """The API's export parses the record without the lines it never reads (types, `_iri`
    links): the same document as exporting the whole graph from the store."""
    opened = TrackStore(template / "store", base=BASE, read_only=True)
    version, = opened.versions()
    document = exports.exported(opened, version)
    assert len(document["tracks"]) == TRACKS
    assert document == export_document(opened.graph_quads(version.graph), version.document)


def test_a_record_name_no_writer_gave_is_not_trusted(store, tmp_path):
    """The catalog is a graph (editable by hand, or by a SPARQL Update before the update's
    records are forgotten): a name pointing outside the records folder never makes a dump
    read that file; the graph is read from the store instead."""
    outside = tmp_path / "secret.nt.zst"
    outside.write_bytes(zstandard.ZstdCompressor().compress(b"<urn:a> <urn:b> <urn:c> .\n"))
    opened = TrackStore(store, base=BASE)
    version, = opened.versions()
    relative = os.path.relpath(outside, records.folder(store))
    opened.ox.update(records.naming(opened, {version.graph: relative}))
    assert records.path_of(opened, version.graph) is None
    assert version.graph not in records.names(opened)
    held = graph_of(opened, version.graph)
    del opened
    dumped = cli(store, "dump", "--format", "nt", "--graph", version.graph)
    assert dumped.returncode == 0, dumped.stderr.decode()
    assert quads(dumped.stdout) == held and b"urn:a" not in dumped.stdout


def view(path: Path) -> tuple[set, int]:
    """The view's triples without a blank node, and how many have one (their labels are the
    load's own, so two loads of the same document differ there)."""
    store = TrackStore(path, base=BASE, read_only=True)
    named, blank = set(), 0
    for quad in store.ox.quads_for_pattern(None, None, None, ox.DefaultGraph()):
        if isinstance(quad.subject, ox.BlankNode) or isinstance(quad.object, ox.BlankNode):
            blank += 1
        else:
            named.add(quad)
    sources = set()
    for graph in current_view.sources(store):
        sources |= graph_of(store, graph)
    whole = {ox.Quad(q.subject, q.predicate, q.object)
             for q in store.ox.quads_for_pattern(None, None, None, ox.DefaultGraph())}
    assert whole == sources  # the view is exactly the merge of its sources
    del store
    return named, blank


def test_a_supersede_removes_from_the_view_what_reading_the_store_removes(
        store, template, tmp_path, documents):
    """The same two loads on two copies: one removes the leaving version by its record, the
    other (its records forgotten, as a store written before records) by reading the store."""
    (tmp_path / "without").mkdir()
    without = copy_folder(template, tmp_path / "without")
    opened = TrackStore(without, base=BASE)
    graphs = list(records.names(opened))
    records.forget(opened, graphs)
    assert all(records.path_of(opened, g) is None for g in graphs)
    del opened
    for path in (store, without):
        loaded(path, documents[1])
    by_record, by_store = view(store), view(without)
    assert by_record == by_store
    opened = TrackStore(store, base=BASE, read_only=True)
    old, new = opened.versions()
    assert not old.current and new.current
    assert records.path_of(opened, old.graph) is not None  # history keeps its record
    assert len(records.names(opened)) == 2  # the two versions' graphs
    del opened


def test_a_refused_load_leaves_no_record_and_a_withdrawn_version_keeps_its_own(
        store, tmp_path, documents):
    before = sorted(records.folder(store).rglob("*"))
    broken = json.loads(documents[0].read_text())
    del broken["tracks"][0]["file_url"]
    result = cli(store, "load", str(write_json(tmp_path / "broken.json", broken)))
    assert result.returncode != 0
    assert sorted(records.folder(store).rglob("*")) == before
    opened = TrackStore(store, base=BASE, read_only=True)
    version, = opened.versions()
    collection = version.collection.rsplit("/", 1)[-1]
    del opened
    withdrawn = cli(store, "withdraw", collection, "--reason", "test")
    assert withdrawn.returncode == 0, withdrawn.stderr.decode()
    opened = TrackStore(store, base=BASE, read_only=True)
    assert records.path_of(opened, version.graph) is not None
    assert not find(opened)
    del opened
    assert current_snapshot(store) is not None


def files(path: Path) -> set[Path]:
    return {p for p in records.folder(path).rglob("*") if p.is_file()}


def assert_recorded_as_held(path: Path) -> None:
    store = TrackStore(path, base=BASE, read_only=True)
    graphs = {g.value for g in store.ox.named_graphs()}
    for graph in records.names(store):
        assert graph in graphs
        assert quads(record_of(store, graph)) == graph_of(store, graph)
    del store
    doctor = cli(path, "doctor")
    assert doctor.returncode == 0, doctor.stdout.decode()


def test_a_reload_names_new_records_and_removes_the_former_ones(store, documents):
    before = files(store)
    again = cli(store, "load", str(documents[0]))
    assert again.returncode == 0 and b"checkpoint" not in again.stderr
    after = files(store)
    assert len(after) == 1 and not after & before
    assert_recorded_as_held(store)


def test_an_ontology_refresh_leaves_the_version_records_as_they_were(store, documents):
    """A closure rewritten from scratch changes no version graph (nothing derived from the
    ontologies is stored per version), so every record stays, under the same name."""
    loaded(store, documents[1])
    opened = TrackStore(store, base=BASE, read_only=True)
    named = records.names(opened)
    kept = files(store)
    del opened
    refreshed = cli(store, "reason", "--full")
    assert refreshed.returncode == 0, refreshed.stderr.decode()
    opened = TrackStore(store, base=BASE, read_only=True)
    assert records.names(opened) == named and len(named) == 2
    del opened
    assert files(store) == kept
    assert_recorded_as_held(store)


def test_a_value_a_document_repeats_is_recorded_once_as_the_graph_holds_it(tmp_path, example):
    """`raw_file_ids` naming one file twice: the mapper writes the link twice, the graph (a set)
    and the record hold it once, so the record's triple count is the graph's."""
    document = copy.deepcopy(example)
    ids = document["tracks"][0]["raw_file_ids"]
    ids.append(ids[0])
    path = tmp_path / "store"
    loaded(path, write_json(tmp_path / "repeats.json", document))
    store = TrackStore(path, base=BASE, read_only=True)
    version, = store.versions()
    assert records.triples(records.path_of(store, version.graph)) == len(
        graph_of(store, version.graph))
    del store
