"""Versions stored once (store/members.py): a new collection's version is written into the view
only, with its member quads and its record as its exact copy; a version that leaves the view gets
its named graph back; a failed, refused or killed write takes everything back."""

from __future__ import annotations

import copy
import gc
from pathlib import Path

import pyoxigraph as ox
import pytest
from conftest import BASE, write_json
from test_crash import kill, paused, run

from fairtracks_ld import recovery
from fairtracks_ld.generate import generate_documents
from fairtracks_ld.load import load_sources
from fairtracks_ld.mapping.namespaces import FT, RDF
from fairtracks_ld.store import TrackStore, members, records
from fairtracks_ld.withdrawal import withdraw
from fairtracks_ld.writer_lock import writer_lock
from fairtracks_ld.writing import open_store


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, Path]:
    """One generated document, its next version, another document of the same collection (which
    the standard refuses, but --allow-invalid stores), and an invalid one of a collection of
    its own."""
    folder = tmp_path_factory.mktemp("once-docs")
    first, = generate_documents(tracks=120, seed=21, tracks_per_document=120)
    second = copy.deepcopy(first)
    second["doc_info"]["doc_version"] = "2"
    second["doc_info"]["doc_date"] = "2030-01-01T00:00:00Z"
    second["tracks"] = second["tracks"][:100]
    sibling = copy.deepcopy(first)
    sibling["doc_info"]["local_id"] = "sibling-doc"
    sibling["doc_info"]["doc_version"] = "sibling-1"
    for key in ("studies", "experiments", "samples", "tracks"):
        sibling[key] = []
    invalid, = generate_documents(tracks=30, seed=22, tracks_per_document=30)
    invalid["tracks"][0]["file_format"]["term_id"] = "http://purl.obolibrary.org/obo/CL_0000236"
    return {name: write_json(folder / f"{name}.json", doc) for name, doc in
            (("first", first), ("second", second), ("sibling", sibling), ("invalid", invalid))}


def load(path: Path, *sources: Path, **options) -> None:
    store = open_store(path, base=BASE)
    with writer_lock(path):
        report = load_sources(store, [str(s) for s in sources], **options)
    assert report.ok, report.failed + report.refused
    del store


def dataset(path: Path) -> set[str]:
    """Every quad of the store, as text (blank nodes included: none in these documents)."""
    store = TrackStore(path, base=BASE)
    found = {str(q) for q in store.ox}
    del store
    return found


def record_triples(store: TrackStore, version: str) -> set[ox.Triple]:
    path = records.path_of(store, version)
    assert path is not None
    return {q.triple for block in records.blocks(path)
            for q in ox.parse(block, format=ox.RdfFormat.N_TRIPLES)}


def current(store: TrackStore, document_name: str = "") -> str:
    graphs = [v.graph for v in store.versions() if v.current and document_name in v.document]
    assert len(graphs) == 1, graphs
    return graphs[0]


def test_a_new_collection_is_stored_once(tmp_path, documents):
    path = tmp_path / "store"
    load(path, documents["first"])
    store = TrackStore(path, base=BASE)
    version = current(store)
    assert members.stored_once(store) == {version}
    assert not store.ox.contains_named_graph(ox.NamedNode(version))
    assert store.has_graph(version) and version in store.graph_names()
    kept = record_triples(store, version)
    assert {q.triple for q in store.graph_quads(version)} == kept
    subjects = {t.subject for t in kept}
    assert all(isinstance(s, ox.NamedNode) for s in subjects)
    described = {q.subject for q in store.ox.quads_for_pattern(
        None, ox.NamedNode(members.DESCRIBED_IN), ox.NamedNode(version),
        ox.NamedNode(members.graph(store)))}
    assert described == {ox.NamedNode(members.entity(s.value)) for s in subjects}
    assert len(described) < len(subjects)  # nested nodes (`<e#…>`) have no member quad
    in_view = {q.triple for s in subjects
               for q in store.ox.quads_for_pattern(s, None, None, ox.DefaultGraph())}
    assert in_view == kept  # the view holds exactly the version's triples about its members
    tracks = members.in_graph(store, version, f"?t a <{FT}Track>", "?t")
    count = next(iter(store.ox.query(f"SELECT (COUNT(*) AS ?n) {{ {tracks} }}")))["n"]
    assert int(count.value) == 120
    assert not members.unfinished(store)


def loaded_once(path: Path, documents: dict[str, Path]) -> tuple[str, set[ox.Triple]]:
    """The first document loaded (stored once): its version and its record's triples."""
    load(path, documents["first"])
    store = TrackStore(path, base=BASE)
    first = current(store)
    kept = record_triples(store, first)
    del store
    return first, kept


def test_a_lost_record_is_read_back_from_the_view_nested_nodes_included(tmp_path, documents):
    path = tmp_path / "store"
    first, kept = loaded_once(path, documents)
    nested = {t.subject.value for t in kept if "#" in t.subject.value}
    assert nested  # checksums, annotations, list cells: no member quad of their own
    store = TrackStore(path, base=BASE)
    assert {members.version_of(store, node) for node in nested} == {first}
    record = records.path_of(store, first)
    assert record is not None
    record.unlink()
    assert {q.triple for q in store.graph_quads(first)} == kept
    assert len(list(members.typed(store, first, FT + "Track"))) == 120


def test_a_version_leaving_the_view_gets_its_named_graph_back(tmp_path, documents):
    path = tmp_path / "store"
    first, kept = loaded_once(path, documents)
    load(path, documents["second"])
    store = TrackStore(path, base=BASE)
    second = current(store)
    assert second != first
    assert not members.stored_once(store)  # the collection had a current version
    assert {q.triple for q in store.ox.quads_for_pattern(
        None, None, None, ox.NamedNode(first))} == kept
    assert not list(store.ox.quads_for_pattern(None, None, None,
                                               ox.NamedNode(members.graph(store))))
    view = {q.triple for q in store.ox.quads_for_pattern(None, None, None, ox.DefaultGraph())}
    assert record_triples(store, second) <= view
    gone = kept - record_triples(store, second)
    assert gone and not gone & view  # the 20 tracks the second version dropped


def test_a_sibling_document_and_a_withdrawal_restore_too(tmp_path, documents):
    path = tmp_path / "store"
    load(path, documents["first"])
    store = TrackStore(path, base=BASE)
    first = current(store)
    del store
    load(path, documents["sibling"], allow_invalid=True)  # shares the collection: invalid
    store = TrackStore(path, base=BASE)
    assert not members.stored_once(store)
    assert store.ox.contains_named_graph(ox.NamedNode(first))
    del store
    path2 = tmp_path / "store2"
    load(path2, documents["first"])
    store = open_store(path2, base=BASE)
    with writer_lock(path2):
        withdraw(store, "gen-21-0", None, "a test", "tests")
    assert not members.stored_once(store)
    assert store.ox.contains_named_graph(ox.NamedNode(first))  # history keeps its graph
    assert not list(store.ox.quads_for_pattern(ox.NamedNode(first.split("/document/")[0]),
                                               None, None, ox.DefaultGraph()))


def test_a_refused_document_leaves_the_store_exactly_as_it_was(tmp_path, documents):
    path = tmp_path / "store"
    load(path, documents["first"])
    before = dataset(path)
    store = open_store(path, base=BASE)
    with writer_lock(path):
        report = load_sources(store, [str(documents["invalid"])])
    assert report.refused and not report.ok
    assert not records.unnamed(store)
    del store, report
    gc.collect()
    assert dataset(path) == before


def test_a_load_killed_while_writing_once_is_taken_back_by_the_next_writer(tmp_path,
                                                                           documents):
    path = tmp_path / "store"
    load(path, documents["first"])
    before = dataset(path)
    process, _ = paused(path, "bulk-write", "load", str(documents["invalid"]),
                        "--allow-invalid")
    kill(process)
    store = TrackStore(path, base=BASE)
    assert members.unfinished(store)  # its note: the view holds part of it
    assert recovery.find(store).stored_once == 1
    del store
    doctor = run(path, "doctor")
    assert doctor.returncode == 1 and "debris of an interrupted write" in doctor.stdout
    store = open_store(path, base=BASE)
    with writer_lock(path):
        recovery.sweep(store)
    assert not records.unnamed(store)
    del store
    assert dataset(path) == before


def test_a_restore_killed_halfway_is_finished_by_the_next_writer(tmp_path, documents):
    path = tmp_path / "store"
    first, kept = loaded_once(path, documents)
    process, _ = paused(path, "restoring", "load", str(documents["second"]))
    kill(process)
    store = open_store(path, base=BASE)
    assert members.unfinished(store) == [first]
    with writer_lock(path):
        recovery.sweep(store)
    assert not members.stored_once(store) and not members.unfinished(store)
    assert {q.triple for q in store.ox.quads_for_pattern(
        None, None, None, ox.NamedNode(first))} == kept
    marks = store.ox.quads_for_pattern(None, ox.NamedNode(RDF + "type"),
                                       ox.NamedNode(members.STORED_ONCE), None)
    assert not list(marks)


def loaded_named(path: Path, documents: dict[str, Path], monkeypatch) -> None:
    """The first document loaded with a named graph (FAIRTRACKS_LD_STORE_ONCE=0), as earlier
    layouts wrote every version."""
    monkeypatch.setenv(members.SWITCH, "0")
    load(path, documents["first"])
    monkeypatch.delenv(members.SWITCH)


def test_migrate_stores_once_what_kept_a_named_graph(tmp_path, documents, monkeypatch):
    """A store written with named graphs (FAIRTRACKS_LD_STORE_ONCE=0, or a supersede) is
    converted by `migrate`: same view, same version triples, no named graph left."""
    path = tmp_path / "store"
    loaded_named(path, documents, monkeypatch)
    load(path, documents["second"])  # a supersede: written with a named graph
    store = TrackStore(path, base=BASE)
    second = current(store)
    assert store.ox.contains_named_graph(ox.NamedNode(second)) and not members.stored_once(store)
    view = {q.triple for q in store.ox.quads_for_pattern(None, None, None, ox.DefaultGraph())}
    kept = record_triples(store, second)
    del store
    migrated = run(path, "migrate")
    assert migrated.returncode == 0 and "1 version(s) stored once (1 converted" in \
        migrated.stdout, migrated.stdout + migrated.stderr
    store = TrackStore(path, base=BASE)
    assert members.stored_once(store) == {second}
    assert not store.ox.contains_named_graph(ox.NamedNode(second))
    assert {q.triple for q in store.graph_quads(second)} == kept
    assert {q.triple for q in store.ox.quads_for_pattern(
        None, None, None, ox.DefaultGraph())} == view
    del store
    assert run(path, "doctor").returncode == 0


def test_a_conversion_killed_while_it_drops_the_graph_is_finished(tmp_path, documents,
                                                                  monkeypatch):
    path = tmp_path / "store"
    loaded_named(path, documents, monkeypatch)
    monkeypatch.setenv("FAIRTRACKS_LD_REMOVE_BATCH", "50")
    process, _ = paused(path, "dropping", "migrate")
    kill(process)
    store = TrackStore(path, base=BASE)
    version = current(store)
    assert members.unfinished(store) == [version]
    del store
    assert run(path, "migrate").returncode == 0  # its sweep finishes the drop
    store = TrackStore(path, base=BASE)
    assert members.stored_once(store) == {version} and not members.unfinished(store)
    assert not store.ox.contains_named_graph(ox.NamedNode(version))


def test_a_conversion_killed_while_it_writes_members_is_taken_back(tmp_path, documents,
                                                                     monkeypatch):
    path = tmp_path / "store"
    loaded_named(path, documents, monkeypatch)
    before = dataset(path)
    process, _ = paused(path, "members-writing", "migrate")
    kill(process)
    store = TrackStore(path, base=BASE)
    version = current(store)
    assert members.unfinished(store) == [version] and not members.stored_once(store)
    assert store.ox.contains_named_graph(ox.NamedNode(version))  # it still answers
    del store
    with writer_lock(path):
        store = open_store(path, base=BASE)
        assert members.sweep(store) == 1
        del store
    gc.collect()
    assert dataset(path) == before  # its member quads and its note taken back


def test_optimize_stores_once_a_version_that_superseded_another(tmp_path, documents):
    path = tmp_path / "store"
    first, _ = loaded_once(path, documents)
    load(path, documents["second"])  # a supersede: written with a named graph
    store = TrackStore(path, base=BASE)
    second = current(store)
    kept = record_triples(store, second)
    assert not members.stored_once(store)
    del store
    optimized = run(path, "optimize")
    assert optimized.returncode == 0, optimized.stderr
    assert "1 version(s) now stored once" in optimized.stdout
    store = TrackStore(path, base=BASE)
    assert members.stored_once(store) == {second} and not members.unfinished(store)
    assert not store.ox.contains_named_graph(ox.NamedNode(second))
    assert {q.triple for q in store.graph_quads(second)} == kept
    assert store.ox.contains_named_graph(ox.NamedNode(first))  # history keeps its graph
