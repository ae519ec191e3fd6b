"""The on-disk store: versions, the current view, atomic loads, bulk loads, persistence."""

from __future__ import annotations

import copy
import gzip
import io
import json

import pyoxigraph as ox
import pytest
from conftest import BASE, write_json

from fairtracks_ld.load import load_sources
from fairtracks_ld.mapping.export import export_document
from fairtracks_ld.store import StoreError, TrackStore

TRACKS = "SELECT (COUNT(?t) AS ?n) WHERE { ?t a ft:Track }"


def count(store: TrackStore, sparql: str = TRACKS, all_graphs: bool = False) -> int:
    return int(next(iter(store.query(sparql, all_graphs=all_graphs)))["n"].value)


def snapshot(store: TrackStore) -> bytes:
    """Every quad of the store, canonically ordered."""
    out = io.BytesIO()
    store.ox.dump(out, format=ox.RdfFormat.N_QUADS)
    return b"\n".join(sorted(out.getvalue().splitlines()))


def new_version(document: dict, version: str, date: str) -> dict:
    doc = copy.deepcopy(document)
    doc["doc_info"]["doc_version"] = version
    doc["doc_info"]["doc_date"] = date
    return doc


def test_a_document_lives_in_its_own_graph_with_provenance(store, tmp_path, example):
    source = write_json(tmp_path / "doc.json", example)
    report = load_sources(store, [str(source)])
    assert report.ok
    (_, version, _, _), = report.loaded
    assert version.current and version.variant == "v1-current"
    assert version.doc_version == example["doc_info"]["doc_version"]
    assert version.doc_date == example["doc_info"]["doc_date"]
    assert version.source == str(source)
    assert version.loaded_at.endswith("Z")
    assert store.has_graph(version.graph)
    assert count(store) == 4


def test_new_versions_replace_old_ones_in_the_current_view_and_keep_history(
    store, tmp_path, example
):
    v1 = write_json(tmp_path / "v1.json", example)
    newer = new_version(example, "v2", "2021-01-01T00:00:00Z")
    newer["tracks"] = newer["tracks"][:2]
    v2 = write_json(tmp_path / "v2.json", newer)
    load_sources(store, [str(v1)])
    load_sources(store, [str(v2)])
    assert count(store) == 2  # no duplicates: only the current version is seen
    assert count(store, all_graphs=True) == 6  # both versions stay in the store
    history = store.versions()
    assert [v.doc_version for v in history] == [example["doc_info"]["doc_version"], "v2"]
    assert [v.current for v in history] == [False, True]
    old = history[0]
    exported = export_document(store.graph_quads(old.graph), old.document)
    assert exported == example  # an earlier version is still queryable and exportable


def test_an_older_version_loaded_later_does_not_become_current(store, tmp_path, example):
    newer = write_json(tmp_path / "new.json", new_version(example, "v9", "2030-01-01T00:00:00Z"))
    older = write_json(tmp_path / "old.json", example)
    load_sources(store, [str(newer)])
    report = load_sources(store, [str(older)])
    assert not report.loaded[0][1].current
    assert [v.doc_version for v in store.versions() if v.current] == ["v9"]


def test_reloading_the_same_version_replaces_it(store, tmp_path, example):
    path = write_json(tmp_path / "doc.json", example)
    load_sources(store, [str(path)])
    graph, = store.current_graphs()

    def size() -> tuple[int, int]:  # the version's triples and the view's
        view = count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
        return sum(1 for _ in store.graph_quads(graph.value)), view

    before = size()
    example["tracks"][0]["label_short"] = "changed"
    write_json(path, example)
    load_sources(store, [str(path)])  # stored once before: in a named graph now
    assert size() == before  # same size: replaced, not duplicated
    assert count(store, 'SELECT (COUNT(*) AS ?n) WHERE { ?t ft:label_short "changed" }') == 1
    assert len(store.versions()) == 1
    assert not any("/staging/" in g.value for g in store.ox.named_graphs())


@pytest.mark.parametrize("bulk", [False, True])
@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b"[1, 2, 3]",
        json.dumps({"@schema": "https://example.org/schema.json"}).encode(),
        b'{"@schema": "https://raw.githubusercontent.com/fairtracks/fairtracks_standard/v1/'
        b'current/json/schema/fairtracks.schema.json", "collection_info": {"local_id": "c"}, '
        b'"tracks": [{"local_id": "x"}, {"local_id": "x"}]}',
        b'{"@schema": "https://raw.githubusercontent.com/fairtracks/fairtracks_standard/v1/'
        b'current/json/schema/fairtracks.schema.json", "collection_info": {"local_id": "c"}, '
        b'"tracks": [{"local_id": "x", "label_long": "\\ud800"}]}',
        b"\xff\xfe not utf-8",
    ],
)
def test_a_failed_load_leaves_the_store_exactly_as_it_was(
    store, tmp_path, example, content, bulk
):
    load_sources(store, [str(write_json(tmp_path / "good.json", example))])
    before = snapshot(store)
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    report = load_sources(store, [str(bad)], bulk=bulk)
    assert not report.ok and not report.loaded
    (error,) = report.not_loaded  # refused (breaks the standard) or failed (unreadable)
    assert error.source == str(bad) and error.message
    assert snapshot(store) == before


def test_a_bad_document_in_a_batch_does_not_stop_the_others(store, tmp_path, generated):
    paths = [str(write_json(tmp_path / f"g{i}.json", d)) for i, d in enumerate(generated[:3])]
    (tmp_path / "broken.json").write_text("{")
    report = load_sources(store, [paths[0], str(tmp_path / "broken.json"), *paths[1:]],
                          bulk=True)
    assert len(report.loaded) == 3 and len(report.failed) == 1
    assert "broken.json: malformed JSON (premature EOF)" in str(report.failed[0])


def test_bulk_and_transactional_loads_store_the_same_data(tmp_path, generated):
    paths = [str(write_json(tmp_path / f"g{i}.json", d)) for i, d in enumerate(generated)]
    one = TrackStore(tmp_path / "one", base=BASE)
    two = TrackStore(tmp_path / "two", base=BASE)
    load_sources(one, paths, bulk=False)
    load_sources(two, paths, bulk=True)
    data = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(!isBlank(?s) && !isBlank(?o)) }"
    assert set(one.query(data)) == set(two.query(data))
    assert count(one) == count(two) == sum(len(d["tracks"]) for d in generated)
    assert [v.graph for v in one.versions()] == [v.graph for v in two.versions()]


def test_bulk_load_of_a_replaced_version_goes_through_the_transaction(store, tmp_path, example):
    path = str(write_json(tmp_path / "doc.json", example))
    load_sources(store, [path], bulk=True)
    report = load_sources(store, [path, path], bulk=True)
    assert report.ok and len(report.loaded) == 2
    assert count(store) == 4 and len(store.versions()) == 1


def test_gzip_files_and_folders_load(store, tmp_path, generated):
    folder = tmp_path / "corpus"
    folder.mkdir()
    with gzip.open(folder / "a.json.gz", "wt") as handle:
        json.dump(generated[0], handle)
    write_json(folder / "b.json", generated[1])
    (folder / "notes.txt").write_text("ignored")
    from fairtracks_ld.sources import expand_sources

    sources = expand_sources([str(folder)])
    assert [s.rsplit("/", 1)[1] for s in sources] == ["a.json.gz", "b.json"]
    assert load_sources(store, sources).ok


def test_the_store_persists_on_disk_and_keeps_its_base(tmp_path, example):
    path = tmp_path / "store"
    store = TrackStore(path, base="https://tracks.example.org/ld")
    load_sources(store, [str(write_json(tmp_path / "doc.json", example))])
    del store
    reopened = TrackStore(path)
    assert reopened.base == "https://tracks.example.org/ld/"
    assert count(reopened) == 4
    del reopened
    read_only = TrackStore(path, read_only=True)
    assert count(read_only) == 4
    del read_only
    with pytest.raises(StoreError, match="created with base IRI"):
        TrackStore(path, base=BASE)
