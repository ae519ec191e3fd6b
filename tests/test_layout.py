"""The storage layout: the current view stored once, as a set, in the default graph; kept up to
date by loads, replacements, withdrawals and ontology changes; migration of earlier stores;
disk use by part."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from conftest import BASE, write_json
from servers import cli, free_port, serve

from fairtracks_ld import reasoning
from fairtracks_ld.load import load_sources
from fairtracks_ld.mapping import annotations
from fairtracks_ld.store import StoreError, TrackStore, current_view
from fairtracks_ld.withdrawal import withdraw

OLD_LAYOUT = Path(__file__).parent / "data" / "old-layout.nq.gz"
SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
FT = "https://w3id.org/fairtracks-ld/vocab#"


def answers(store: TrackStore, s: str, p: str, o: str) -> int:
    """How many times the current view answers one triple pattern."""
    rows = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ {s} {p} {o} }}")
    return int(next(iter(rows))["n"].value)


def distinct_source_triples(store: TrackStore) -> set[ox.Triple]:
    return {q.triple for g in store.view_sources() if store.has_graph(g)
            for q in store.graph_quads(g)}


def test_a_triple_two_ontologies_hold_is_answered_once_and_stays_while_one_holds_it(store):
    shared = f"<http://e/a> <{SUBCLASS}> <http://e/b> ."
    store.load_ontology(f"{shared} <http://e/x> <http://e/p> <http://e/y> .".encode(),
                        "http://e/onto-a", None, "a.ttl")
    store.load_ontology(shared.encode(), "http://e/onto-b", None, "b.ttl")
    pattern = ("<http://e/a>", f"<{SUBCLASS}>", "<http://e/b>")
    assert answers(store, *pattern) == 1
    assert current_view.size(store) == len(distinct_source_triples(store))  # VoID's count
    store.load_ontology(b"<http://e/x> <http://e/p> <http://e/y> .", "http://e/onto-a", None,
                        "a2.ttl")  # a new release of A no longer says it: B still does
    assert answers(store, *pattern) == 1
    store.load_ontology(b"<http://e/z> <http://e/p> <http://e/y> .", "http://e/onto-b", None,
                        "b2.ttl")
    assert answers(store, *pattern) == 0
    assert answers(store, "<http://e/x>", "<http://e/p>", "<http://e/y>") == 1
    assert current_view.stale(store) == 0


def test_a_triple_two_documents_state_survives_replacing_and_withdrawing_one(
        store, tmp_path, example):
    other = copy.deepcopy(example)
    other["doc_info"]["local_id"] = "1"  # a second document of the same collection
    other["tracks"] = other["tracks"][:1]
    load_sources(store, [str(write_json(tmp_path / "a.json", example)),
                         str(write_json(tmp_path / "b.json", other))], validate=False)
    collection = ox.NamedNode(store.versions()[0].collection)
    stated = list(store.ox.quads_for_pattern(collection, None, None, ox.DefaultGraph()))
    assert stated  # both documents describe their collection
    kept_track = ox.NamedNode(f"{collection.value}/track/{example['tracks'][0]['local_id']}")
    gone_track = ox.NamedNode(f"{collection.value}/track/{example['tracks'][-1]['local_id']}")
    newer = copy.deepcopy(example)
    newer["doc_info"].update(doc_version="2", doc_date="2030-01-01T00:00:00Z")
    newer["tracks"] = newer["tracks"][1:2]
    load_sources(store, [str(write_json(tmp_path / "a2.json", newer))], validate=False)
    assert next(store.ox.quads_for_pattern(gone_track, None, None, ox.DefaultGraph()),
                None) is None  # only the replaced version said it
    assert next(store.ox.quads_for_pattern(kept_track, None, None, ox.DefaultGraph()),
                None) is not None  # the other document says it too
    withdraw(store, "encode_example", "0", "test", "alice")
    assert list(store.ox.quads_for_pattern(collection, None, None, ox.DefaultGraph())) == stated
    assert current_view.size(store) == len(distinct_source_triples(store))
    withdraw(store, "encode_example", "1", "test", "alice")
    assert not list(store.ox.quads_for_pattern(collection, None, None, ox.DefaultGraph()))
    assert current_view.stale(store) == 0


def test_an_older_version_stays_out_of_the_view_but_answers_with_graph(store, tmp_path, example):
    newer = copy.deepcopy(example)
    newer["doc_info"].update(doc_version="2", doc_date="2030-01-01T00:00:00Z")
    newer["tracks"] = newer["tracks"][:1]
    load_sources(store, [str(write_json(tmp_path / "new.json", newer)),
                         str(write_json(tmp_path / "old.json", example))], validate=False)
    old = next(v for v in store.versions() if not v.current)
    tracks = "SELECT (COUNT(*) AS ?n) WHERE { ?t a ft:Track }"
    assert int(next(iter(store.query(tracks)))["n"].value) == 1
    in_graph = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{old.graph}> {{ ?t a ft:Track }} }}"
    assert int(next(iter(store.query(in_graph)))["n"].value) == len(example["tracks"])


def test_an_earlier_layout_migrates_on_the_first_write_and_readers_are_told(tmp_path):
    """tests/data/old-layout.nq.gz: a store written by the code before this layout (a version
    graph with its companion, the catalog, no default graph), restored quad for quad."""
    path = tmp_path / "store"
    old = ox.Store(str(path))
    with gzip.open(OLD_LAYOUT, "rb") as dump:
        old.bulk_load(dump, format=ox.RdfFormat.N_QUADS)
    assert not any(True for _ in old.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    old.flush()
    del old
    snapshot = tmp_path / "snapshot"
    ox.Store.read_only(str(path)).backup(str(snapshot))
    with pytest.raises(StoreError, match="migrate"):
        TrackStore(snapshot, base=BASE, read_only=True)
    result = cli(path, BASE, "migrate")
    assert result.returncode == 0, result.stderr
    assert "triples in the current view" in result.stdout
    store = TrackStore(path, base=BASE)
    assert not current_view.needs_migration(store)
    assert current_view.stale(store) == 0
    assert int(next(iter(store.query(
        "SELECT (COUNT(*) AS ?n) WHERE { ?t a ft:Track }")))["n"].value) == 8
    assert_no_stored_links(store)


def assert_no_stored_links(store: TrackStore) -> None:
    """No ancestor link is stored, on tracks or on the entities carrying annotations, and no
    version has a companion graph; the track predicates' paths answer through the closure;
    the view holds exactly its sources."""
    assert not current_view.links_outdated(store)
    assert not any(g.value.endswith(reasoning.INFERRED_SUFFIX) for g in store.ox.named_graphs())
    assert not store.query(f"ASK {{ GRAPH ?g {{ ?s ?p ?o FILTER(STRENDS(STR(?p), \"_ancestor\") "
                           f"&& STRSTARTS(STR(?p), \"{FT}\")) }} }}", all_graphs=True)
    assert not store.query(f"ASK {{ ?s ?p ?o FILTER(STRENDS(STR(?p), \"_ancestor\") "
                           f"&& STRSTARTS(STR(?p), \"{FT}\")) }}")
    assert answers(store, "?t", annotations.TRACK_PATHS[FT + "file_format_ancestor"], "?f") > 0
    assert answers(store, "?t", annotations.TRACK_PATHS[FT + "sample_type_ancestor"], "?c") > 0
    assert current_view.stale(store) == 0
    assert len(distinct_source_triples(store)) == current_view.size(store)


def stored_links(path: Path, example: dict, tmp_path: Path, layout: str | None) -> None:
    """A store as a layout with stored ancestor links left it: every track linked to every
    ancestor of its annotations, in its companion and the view, and the closure's
    ft:link_layout `layout` (None: no record, as before carrier links)."""
    assert cli(path, BASE, "load", str(write_json(tmp_path / "doc.json", example))
               ).returncode == 0
    store = TrackStore(path, base=BASE)
    for version in store.versions():
        companion = reasoning.inferred_graph(version.graph)
        for name, track_path in annotations.TRACK_PATHS.items():
            store.ox.update(f"""INSERT {{ GRAPH <{companion}> {{ ?t <{name}> ?a }} ?t <{name}> ?a }}
                WHERE {{ ?t a ft:Track ; {track_path} ?a }}""", prefixes={"ft": FT})
        store.ox.update(f"""DELETE {{ GRAPH <{companion}> {{ ?s ?p ?o }} ?s ?p ?o }} WHERE {{
            GRAPH <{companion}> {{ ?s ?p ?o FILTER STRSTARTS(STR(?p), "{FT}own_") }} }} ;
            DELETE WHERE {{ GRAPH <{store.catalog}> {{ ?closure ft:link_layout ?l }} }}""",
                        prefixes={"ft": FT})
    if layout is not None:
        store.ox.update(f"""INSERT DATA {{ GRAPH <{store.catalog}> {{
            <{reasoning.closure_graph(store)}> ft:link_layout {ox.Literal(layout)} }} }}""",
                        prefixes={"ft": FT})
    assert current_view.links_outdated(store)
    store.ox.flush()


@pytest.mark.parametrize("layout", [None, "carrier"])
def test_stored_links_are_dropped_by_migrate(tmp_path, example, layout):
    path = tmp_path / "store"
    stored_links(path, example, tmp_path, layout)
    snapshot = tmp_path / "snapshot"
    ox.Store.read_only(str(path)).backup(str(snapshot))
    with pytest.raises(StoreError, match="migrate"):  # a reader would miss the links: told
        TrackStore(snapshot, base=BASE, read_only=True)
    before = int(next(iter(ox.Store.read_only(str(snapshot)).query(
        f"SELECT (COUNT(*) AS ?n) WHERE {{ ?t <{FT}sample_type_ancestor> ?c }}")))[0].value)
    assert before > 0
    result = cli(path, BASE, "migrate")
    assert result.returncode == 0, result.stderr
    store = TrackStore(path, base=BASE, read_only=True)
    assert_no_stored_links(store)
    after = annotations.TRACK_PATHS[FT + "sample_type_ancestor"]
    assert answers(store, "?t", after, "?c") == before  # the same answers, none stored
    assert cli(path, BASE, "doctor").returncode == 0


def test_a_write_to_a_store_with_stored_links_migrates_it_first(tmp_path, example):
    path = tmp_path / "store"
    stored_links(path, example, tmp_path, "carrier")
    other = copy.deepcopy(example)
    other["doc_info"]["doc_version"] = "v2"
    assert cli(path, BASE, "load", str(write_json(tmp_path / "v2.json", other))
               ).returncode == 0
    assert_no_stored_links(TrackStore(path, base=BASE, read_only=True))


def test_stats_show_disk_use_by_part(tmp_path, example):
    path = tmp_path / "store"
    assert cli(path, BASE, "load", str(write_json(tmp_path / "doc.json", example))
               ).returncode == 0
    view_copy = tmp_path / "store.snapshots" / "123.view"  # an earlier layout's view copy
    view_copy.mkdir()
    (view_copy / "000001.sst").write_bytes(b"x" * 10_000)
    stats = json.loads(cli(path, BASE, "stats").stdout)
    disk = stats["disk_bytes"]
    assert disk["store"] > 0 and disk["other"] >= 10_000 and disk["snapshots"] >= 0
    assert disk["records"] > 0  # the version's records, not counted in the store's folder
    assert disk["total"] == sum(v for k, v in disk.items() if k != "total")
    assert stats["current_view_triples"] > 0
    assert cli(path, BASE, "migrate").returncode == 0  # publishes: old copies are collected
    assert not view_copy.exists()


def test_a_load_is_queryable_the_moment_it_returns(tmp_path, example):
    path = tmp_path / "store"
    assert cli(path, BASE, "load", str(write_json(tmp_path / "a.json", example))
               ).returncode == 0
    port = free_port()
    with serve(path, port) as base:
        newer = copy.deepcopy(example)
        newer["doc_info"].update(doc_version="2", doc_date="2030-01-01T00:00:00Z")
        newer["tracks"][0]["label_short"] = "seen at once"
        assert cli(path, BASE, "load", str(write_json(tmp_path / "b.json", newer))
                   ).returncode == 0
        answer = requests.get(base + "sparql", params={
            "query": 'SELECT ?t WHERE { ?t ft:label_short "seen at once" }'},
            headers={"Accept": "application/sparql-results+json"}, timeout=30)
        assert len(answer.json()["results"]["bindings"]) == 1
        count = requests.get(base + "sparql", params={
            "query": "SELECT (COUNT(*) AS ?n) WHERE { ?t a ft:Track }"},
            headers={"Accept": "application/sparql-results+json"}, timeout=30)
        n = int(count.json()["results"]["bindings"][0]["n"]["value"])
        assert n == len(newer["tracks"])  # the old version's tracks are not answered twice
