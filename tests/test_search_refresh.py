"""A new snapshot's facet index is made from the previous one (the new versions' tracks merged
in, superseded ones dropped, ontology answers reused): over a sequence of writes (new
documents, a replaced version with other values and fewer tracks, a withdrawal, an ontology
reload) it equals, field by field, the index built from scratch; the writer leaves each
version's segment on disk before it returns, so no server reads the graph; and the merge places
tracks as one sort of all of them would, a track in two versions included."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
from conftest import B_CELL, CEREBELLUM, annotate, copy_store, term, write_json

from fairtracks_ld.load import load_sources
from fairtracks_ld.search import merge, segments
from fairtracks_ld.search.index import FacetIndex, FieldIndex, build_index
from fairtracks_ld.search.reader import read_segment

SPECIAL = "http://example.org/extra#Special"
EXTRA = f"""@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<http://example.org/extra> a owl:Ontology ; owl:versionIRI <http://example.org/extra/1> .
<{SPECIAL}> a owl:Class ; rdfs:label "special cell" .
<{B_CELL}> a owl:Class ; rdfs:subClassOf <{SPECIAL}> .
"""


def matched(facet: FieldIndex) -> list[tuple[str, ...]]:
    """Per track, the value keys it matches (combination numbers are the build's own)."""
    of_combination = [tuple(facet.keys[m] for m in facet.members[start:end])
                      for start, end in zip(facet.starts[:-1], facet.starts[1:], strict=True)]
    return [of_combination[c] for c in facet.column]


def assert_same(refreshed: FacetIndex, scratch: FacetIndex) -> None:
    assert refreshed.tracks == scratch.tracks
    assert refreshed.text == scratch.text
    assert (refreshed.line_starts == scratch.line_starts).all()
    assert refreshed.graphs == scratch.graphs and refreshed.versions == scratch.versions
    assert (refreshed.track_graph == scratch.track_graph).all()
    assert refreshed.labels == scratch.labels and refreshed.names == scratch.names
    assert refreshed.fields.keys() == scratch.fields.keys()
    for name, facet in scratch.fields.items():
        other = refreshed.fields[name]
        assert other.keys == facet.keys and other.ids == facet.ids, name
        assert (other.hidden == facet.hidden).all() and (other.direct == facet.direct).all()
        assert other.parents == facet.parents and other.children == facet.children, name
        assert other.stands_for == facet.stands_for, name
        assert matched(other) == matched(facet), name
        assert sorted(other.combos, key=sorted) == sorted(facet.combos, key=sorted), name
        assert (refreshed.totals[name] == scratch.totals[name]).all(), name


def next_version(document: dict, day: int) -> dict:
    """A later version of a document: another date and version, its first sample a B cell,
    its last ten tracks gone, its first track relabelled."""
    doc = annotate(document, samples={0: {"cell_type": term(B_CELL, "B cell")}})
    doc["doc_info"]["doc_date"] = f"2031-01-{day:02d}T00:00:00Z"
    doc["doc_info"]["doc_version"] = f"v{day}"
    doc["tracks"] = doc["tracks"][:-10]
    doc["tracks"][0]["label_short"] = "relabelled after the replacement"
    return doc


@pytest.fixture(scope="module")
def writes(bundle_template, generated, tmp_path_factory):
    """A store and the writes to make in turn, each a function of it."""
    folder = tmp_path_factory.mktemp("refresh")
    store = copy_store(bundle_template, folder / "store")
    first, second, third = generated[0], generated[1], generated[3]  # v1-current, master

    def load(document: dict, name: str):
        def write(store):
            assert load_sources(store, [str(write_json(folder / name, document))]).ok
        return write

    def withdraw(store):
        from fairtracks_ld.withdrawal import withdraw as withdrawn
        withdrawn(store, second["collection_info"]["local_id"], None, "a test", "tests")

    def add_ontology(store):  # B cell gets a new ancestor: the closure changes
        from fairtracks_ld.ontology.install import add_ontology as added
        (folder / "extra.ttl").write_text(EXTRA)
        added(store, str(folder / "extra.ttl"))

    other = annotate(first, samples={1: {"organism_part": term(CEREBELLUM, "cerebellum")}},
                     collection="other")
    steps = [load(first, "first.json"), load(second, "second.json"), load(other, "other.json"),
             load(next_version(first, 2), "first-v2.json"), withdraw,
             load(third, "third.json"), add_ontology,
             load(next_version(first, 3), "first-v3.json")]
    return store, steps, folder


def test_each_refresh_equals_a_build_from_scratch(writes):
    store, steps, folder = writes
    previous = build_index(store, "empty")
    assert previous.tracks == []
    for number, step in enumerate(steps):
        step(store)
        refreshed = build_index(store, f"after {number}", folder / "segments", previous)
        scratch = build_index(store, f"after {number}")
        assert_same(refreshed, scratch)
        previous = refreshed
    assert "relabelled after the replacement" in previous.text
    assert B_CELL in previous.fields["sample_type"].ids
    assert SPECIAL in previous.fields["sample_type"].ids


def test_the_writer_leaves_the_segment_of_what_it_wrote(bundle_template, generated, tmp_path):
    store = copy_store(bundle_template, tmp_path / "store")
    assert load_sources(store, [str(write_json(tmp_path / "d.json", generated[2]))]).ok
    version, = (v for v in store.versions() if v.current)
    saved = segments.load(segments.folder_of(tmp_path / "store"), version.graph,
                          version.loaded_at)
    assert saved is not None
    assert saved.tracks == read_segment(store, version.graph).tracks
    assert len(saved.tracks) == len(generated[2]["tracks"])


def test_the_writer_leaves_a_version_over_its_bound_to_the_servers(bundle_template, generated,
                                                                  tmp_path):
    store = copy_store(bundle_template, tmp_path / "store")
    assert load_sources(store, [str(write_json(tmp_path / "d.json", generated[2]))]).ok
    version, = (v for v in store.versions() if v.current)
    folder = segments.folder_of(tmp_path / "store")
    for saved in folder.glob("*.npz"):
        saved.unlink()
    tracks = segments.track_count(store, version.graph, 10**6)
    assert tracks == len(generated[2]["tracks"])
    assert segments.track_count(store, version.graph, 3) == 3  # counted up to the threshold
    segments.prepare(store, [version], most_tracks=tracks - 1)
    assert segments.load(folder, version.graph, version.loaded_at) is None
    segments.prepare(store, [version], most_tracks=tracks)
    assert segments.load(folder, version.graph, version.loaded_at) is not None


def test_the_merge_orders_tracks_as_one_sort_of_all_of_them():
    rng = random.Random(5)
    names = [f"t{rng.randrange(400):03d}" for _ in range(600)]  # many IRIs in two versions
    graph = np.array([rng.randrange(6) for _ in names], dtype=np.int32)
    everything = sorted(range(len(names)), key=lambda i: (names[i], graph[i]))
    kept = [i for i in everything if graph[i] % 2 == 0]  # versions 0, 2, 4 held before
    new = sorted((i for i in range(len(names)) if graph[i] % 2), key=lambda i: graph[i])
    order = merge.merged_order([names[i] for i in kept], graph[kept],
                               [names[i] for i in new], graph[new])
    assert merge.gather([kept, new], order) == everything
    assert merge.gather([[], [names[i] for i in new]],
                        merge.merged_order([], graph[:0], [names[i] for i in new], graph[new])) \
        == sorted(names[i] for i in new)


def test_a_copy_of_an_index_is_not_changed_by_a_refresh(writes):
    """The previous index stays as it was (a request may still be answering from it)."""
    store, _, _ = writes
    before = build_index(store, "before")
    kept = copy.deepcopy((before.tracks, before.text,
                          {n: f.column.copy() for n, f in before.fields.items()}))
    build_index(store, "again", None, before)
    assert (before.tracks, before.text) == kept[:2]
    assert all((f.column == kept[2][n]).all() for n, f in before.fields.items())


class _CountingOx:
    """A real store's pyoxigraph handle that notes the terms each term query names."""

    def __init__(self, inner) -> None:
        self.inner, self.asked = inner, []

    def query(self, text: str, **options):
        if "VALUES ?term {" in text:
            values = text.partition("VALUES ?term {")[2].partition("}")[0]
            self.asked.append(set(values.replace("<", " ").replace(">", " ").split()))
        return self.inner.query(text, **options)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_ancestor_lookups_answer_each_batch_as_the_store_asking_new_terms_only(
        bundle_template, tmp_path):
    """The index's lookups give every batch of terms what reasoning.stored_ancestors gives it
    (obsolete terms and their replacements included), and a batch with one new term asks the
    store about that term alone."""
    from fairtracks_ld import reasoning
    from fairtracks_ld.search.lookups import Lookups

    store = copy_store(bundle_template, tmp_path / "store")
    obsolete = reasoning.replacements(store)
    replacing = sorted({new for new in obsolete.values() if new})
    classes = sorted(row["c"].value for row in store.ox.query(
        "SELECT DISTINCT ?c WHERE { GRAPH ?g { ?c a <http://www.w3.org/2002/07/owl#Class> } "
        "FILTER isIRI(?c) } LIMIT 3000"))
    assert len(obsolete) > 20 and replacing and len(classes) > 1000
    pool = sorted(obsolete)[:300] + replacing[:300] + classes
    chosen = random.Random(7)
    lookups = Lookups(("test",))
    batch: set[str] = set()
    for _ in range(12):
        batch = set(chosen.sample(pool, 200)) | set(chosen.sample(sorted(batch or pool), 20))
        assert lookups.ancestors(store, batch) == reasoning.stored_ancestors(store)(batch)
    counting = _CountingOx(store.ox)
    store.ox = counting
    new = next(t for t in classes if t not in lookups.descends)
    grown = batch | {new}
    answer = lookups.ancestors(store, grown)
    assert counting.asked == [{new}, {new}]  # obsolete?, then its ancestors: nothing more
    store.ox = counting.inner
    assert answer == reasoning.stored_ancestors(store)(grown)
