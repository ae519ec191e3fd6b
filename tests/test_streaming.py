"""Streaming load: a document mapped entity by entity in chunks gives exactly the graph of the
whole-document mapping, in any member order, and a refusal found after chunks were written
(a late duplicate local_id, a rule broken deep in the document) leaves the store as it was."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from conftest import BASE, write_json

from fairtracks_ld.load import DocumentError, load_document, load_sources
from fairtracks_ld.mapping import stream, unique
from fairtracks_ld.mapping.namespaces import FT, RDF_TYPE
from fairtracks_ld.mapping.notes import Note, Notes
from fairtracks_ld.mapping.prepare import prepare
from fairtracks_ld.mapping.stream import DocumentStream
from fairtracks_ld.mapping.to_rdf import quads_fast
from fairtracks_ld.sources import DocumentReader
from fairtracks_ld.standard import ONTOLOGY_TERM_CLASS
from fairtracks_ld.validation import Validator

SMALL = 3000  # bytes of JSON-LD per chunk: a few entities each


def canonical(quads: Iterable[ox.Quad]) -> set[ox.Quad]:
    """The quads with canonical blank node labels (RDF lists make blank nodes)."""
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return set(dataset)


def whole(document: dict[str, Any]) -> set[ox.Quad]:
    return canonical(quads_fast(prepare(document, BASE)))


def streamed(path: Path, chunk_bytes: int = SMALL,
             links: bool = True) -> tuple[DocumentStream, set[ox.Quad]]:
    with DocumentReader(str(path)) as reader:
        mapped = DocumentStream(reader, BASE, chunk_bytes=chunk_bytes, links=links)
        chunks = list(mapped.chunks())
    assert len(chunks) > 5
    graph = ox.NamedNode(mapped.prepared.graph)
    return mapped, canonical(ox.Quad(t.subject, t.predicate, t.object, graph)
                             for chunk in chunks
                             for t in ox.parse(chunk, format=ox.RdfFormat.N_TRIPLES))


def reordered(document: dict[str, Any]) -> dict[str, Any]:
    """The same document with the entity arrays first and the header last."""
    arrays = ("tracks", "samples", "experiments", "studies")
    return {**{k: document[k] for k in arrays}, **{k: v for k, v in document.items()
                                                    if k not in arrays}}


def test_chunks_make_the_graph_of_the_whole_mapping(tmp_path, generated):
    document = generated[0]
    prepared = prepare(document, BASE)
    mapped, quads = streamed(write_json(tmp_path / "d.json", document))
    assert mapped.prepared.graph == prepared.graph
    assert quads == whole(document)


def test_without_links_only_the_iri_links_and_annotation_classes_are_left_out(tmp_path,
                                                                              generated):
    """What the validation service loads: the shipped shapes read no `<key>_iri` link and no
    ontology annotation's rdf:type."""
    document = generated[0]
    _, quads = streamed(write_json(tmp_path / "d.json", document), links=False)
    links = {q for q in whole(document) if q.predicate.value.endswith("_iri")}
    classes = {q for q in whole(document) if q.predicate.value == RDF_TYPE
               and q.object.value == FT + ONTOLOGY_TERM_CLASS}
    assert links and classes
    assert quads == whole(document) - links - classes


def test_header_after_the_arrays_takes_two_passes_and_gives_the_same_graph(tmp_path, generated):
    document = generated[1]
    _, quads = streamed(write_json(tmp_path / "r.json", reordered(document)))
    assert quads == whole(document)


def test_a_document_without_doc_version_is_named_by_its_content(tmp_path, generated):
    document = json.loads(json.dumps(generated[2]))
    del document["doc_info"]["doc_version"]
    first, quads = streamed(write_json(tmp_path / "a.json", document))
    again = tmp_path / "b.json"
    again.write_text(json.dumps(reordered(document), indent=3))  # other order, other spacing
    second, _ = streamed(again)
    assert first.prepared.doc_version.startswith("sha256-")
    assert first.prepared.graph == second.prepared.graph == prepare(document, BASE).graph
    assert quads == whole(document)
    document["tracks"][3]["label_short"] = "changed"
    changed, _ = streamed(write_json(tmp_path / "c.json", document))
    assert changed.prepared.graph != first.prepared.graph


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(stream, "CHUNK_BYTES", SMALL)


def snapshot(store) -> tuple[list[str], bytes]:
    graphs = sorted(g.value for g in store.ox.named_graphs())
    return graphs, store.ox.dump(format=ox.RdfFormat.N_QUADS)


@pytest.mark.parametrize("bulk", [False, True])
def test_a_late_duplicate_local_id_removes_what_was_written(store, tmp_path, generated,
                                                            small_chunks, bulk):
    assert load_sources(store, [str(write_json(tmp_path / "ok.json", generated[3]))]).ok
    before = snapshot(store)
    document = json.loads(json.dumps(generated[0]))
    document["tracks"][40]["local_id"] = document["tracks"][0]["local_id"]
    path = write_json(tmp_path / "dup.json", document)
    with pytest.raises(DocumentError, match=r"/tracks/40/local_id: duplicate track local_id"):
        load_document(store, str(path), Validator(store), bulk=bulk)
    assert snapshot(store) == before


def test_a_duplicate_of_a_folded_local_id_is_found_with_both_pointers(store, tmp_path,
                                                                       generated, monkeypatch):
    """Older local_ids are kept as sorted 64-bit hashes (mapping/unique.py): a duplicate of one
    of them is still refused, naming the first holder; distinct ids are never taken for one."""
    monkeypatch.setattr(unique, "RECENT", 4)  # fold every 4 ids
    document = json.loads(json.dumps(generated[0]))
    assert load_sources(store, [str(write_json(tmp_path / "ok.json", document))]).ok
    document["doc_info"]["doc_version"] = "duplicated"
    document["tracks"][41]["local_id"] = document["tracks"][2]["local_id"]
    path = write_json(tmp_path / "dup.json", document)
    with pytest.raises(DocumentError, match=r"/tracks/41/local_id: duplicate track local_id "
                                            r".* \(also at /tracks/2\)"):
        load_document(store, str(path))


def test_seen_ids_recheck_a_hash_match_against_the_id_itself():
    seen = unique.SeenIds(recent=3)
    ids = [f"track-{i}" for i in range(50)]
    for position, local_id in enumerate(ids):
        assert seen.get(local_id) is None
        seen.add(local_id, position)
    assert [seen.get(local_id) for local_id in ids] == list(range(50)) and len(seen) == 50

    class SameHash(str):  # another id whose 64-bit hash is that of a folded one
        def __hash__(self) -> int:
            return hash("track-5")

    assert seen.get(SameHash("track-x")) is None and seen.get(SameHash("track-5")) == 5


def test_a_rule_broken_deep_in_the_document_is_refused_with_its_pointer(store, tmp_path,
                                                                       generated, small_chunks):
    before = snapshot(store)
    document = json.loads(json.dumps(generated[0]))
    document["tracks"][37]["raw_file_ids"] = ["encode:ENCFF000AAA", "encode: ENCFF207FGO"]
    path = write_json(tmp_path / "bad.json", document)
    with pytest.raises(DocumentError) as refused:
        load_document(store, str(path), Validator(store))
    report = refused.value.validation
    assert report is not None and [f.pointer for f in report.violations] == [
        "/tracks/37/raw_file_ids/1"]
    assert snapshot(store) == before
    loaded = load_document(store, str(path), Validator(store), allow_invalid=True)
    assert loaded.validation is not None and not loaded.validation.valid


def test_bulk_and_plain_streaming_loads_store_the_same_graph(tmp_path, generated, small_chunks):
    from fairtracks_ld.store import TrackStore

    path = str(write_json(tmp_path / "g.json", generated[4]))
    graphs = []
    for bulk in (False, True):
        store = TrackStore(tmp_path / f"store-{bulk}", base=BASE)
        report = load_sources(store, [path], bulk=bulk)
        assert report.ok, report.failed
        graph = report.loaded[0].version.graph
        graphs.append(canonical(store.graph_quads(graph)))
        assert graphs[-1] == whole(generated[4])
    assert graphs[0] == graphs[1]


def test_whole_document_rules_agree_across_chunks_load_validate_and_whole_mapping(
        tmp_path, generated, small_chunks):
    """The rules that need the whole document (references, uniqueness across the store,
    ontology ancestry) find the same problems when the document is written in many small
    chunks (load, and `validate`'s scratch store on disk) as when it is mapped whole into an
    in-memory store, or streamed into one as the validation service does; a reference to an
    entity in another chunk is no problem. The in-memory stores validate in their default
    graph, the others in the version graph: the W3C reports are the same."""
    from fairtracks_ld.store import TrackStore
    from fairtracks_ld.validation import validate_documents

    store = TrackStore(tmp_path / "store", base=BASE)
    other = generated[1]
    assert load_sources(store, [str(write_json(tmp_path / "other.json", other))]).ok
    document = json.loads(json.dumps(generated[0]))
    tracks, experiments = document["tracks"], document["experiments"]
    tracks[-1]["experiment_ref"] = experiments[0]["local_id"]  # first chunk, from the last
    tracks[40]["experiment_ref"] = "gen:no-such-experiment"  # dangling
    experiments[-1]["sample_ref"] = "gen:no-such-sample"  # dangling, from another array
    experiments[1]["technique"] = {"term_id": "http://purl.obolibrary.org/obo/OBI_0100051",
                                   "term_label": "specimen"}  # not a planned process
    document["studies"][0]["local_id"] = other["studies"][0]["local_id"]  # taken in the store
    path = str(write_json(tmp_path / "rules.json", document))

    def seen(report) -> list[tuple[str, str, str]]:
        return [(f.severity, f.pointer, f.message) for f in report.findings]

    def shacl(report) -> set[ox.Quad]:
        assert report.report is not None
        return canonical(ox.Quad(t.subject, t.predicate, t.object)
                         for t in report.report.triples())

    whole_report = Validator(store).document(document)
    streamed_report = Validator(store).streamed(json.loads(json.dumps(document)))
    [validated] = validate_documents([path], store=store)
    with pytest.raises(DocumentError) as refused:
        load_document(store, path, Validator(store), bulk=True)
    loaded = refused.value.validation
    assert loaded is not None
    assert seen(loaded) == seen(validated) == seen(whole_report) == seen(streamed_report)
    assert shacl(loaded) == shacl(validated) == shacl(whole_report) == shacl(streamed_report)
    assert len(loaded.report.results) == len(streamed_report.report.results)
    pointers = {f.pointer for f in loaded.violations}
    assert {"/tracks/40/experiment_ref", f"/experiments/{len(experiments) - 1}/sample_ref",
            "/experiments/1/technique/term_id", "/studies/0/local_id"} <= pointers
    assert not any(f.pointer == f"/tracks/{len(tracks) - 1}/experiment_ref"
                   for f in loaded.findings)


def test_no_shipped_shape_reads_what_the_service_leaves_out():
    """The validation service's scratch load leaves out `<key>_iri` links and the rdf:type of
    ontology annotations because no shape reads them: a shape that starts to must fail here,
    so that the service's shortcut is dropped with it."""
    shapes = Path(__file__).resolve().parents[1] / "shapes"
    for path in [*shapes.glob("*.ttl"), *shapes.glob("*/*.ttl")]:
        text = path.read_text()
        assert ONTOLOGY_TERM_CLASS not in text, path.name
        assert "_iri" not in text, path.name


def test_compact_notes_give_back_every_note_as_it_was():
    """A note is kept as numbers (mapping/notes.py): pointers of every shape come back."""
    pointers = ["/tracks/0/assembly_id", "/tracks/12345/raw_file_ids/3", "", "/doc_info",
                "/tracks/007/x", "/a{}b/5", "/studies/5", "/tracks/99999999999999999999/x"]
    notes = [Note(p, "info" if i % 2 else "warning", f"message {i % 3}")
             for i, p in enumerate(pointers)]
    compact = Notes(notes)
    compact.append(Note("/samples/2/x", "info", "later"))
    notes.append(Note("/samples/2/x", "info", "later"))
    assert list(compact) == notes and compact == notes and len(compact) == len(notes)
    assert compact[-1] == notes[-1] and compact[2:4] == notes[2:4]
    compact.extend(notes[:2])
    assert list(compact) == [*notes, *notes[:2]]


def test_a_streamed_document_has_the_notes_of_the_whole_mapping(tmp_path, generated):
    document = generated[0]
    mapped, _ = streamed(write_json(tmp_path / "d.json", document))
    assert isinstance(mapped.prepared.notes, Notes) and len(mapped.prepared.notes) > 0
    assert list(mapped.prepared.notes) == list(prepare(document, BASE).notes)
