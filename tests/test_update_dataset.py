"""The update-dataset rewrite (using-graph-uri / using-named-graph-uri), checked by running the
rewritten updates on a real in-memory Oxigraph store."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from fairtracks_ld.sparql.update_dataset import (
    UpdateDatasetError,
    declares_update_dataset,
    with_update_dataset,
)

EX = "http://example.org/"
G1, G2, OUT = EX + "g1", EX + "g2", EX + "out"


@pytest.fixture
def store() -> ox.Store:
    store = ox.Store()
    store.update(f"""INSERT DATA {{
        GRAPH <{G1}> {{ <{EX}a> <{EX}p> "one" }}
        GRAPH <{G2}> {{ <{EX}b> <{EX}p> "two" }}
        <{EX}c> <{EX}p> "default" }}""")
    return store


def _subjects(store: ox.Store, graph: str) -> set[str]:
    return {q.subject.value for q in store.quads_for_pattern(None, None, None, ox.NamedNode(graph))}


def test_modify_reads_the_protocol_default_graph(store):
    update = (f"INSERT {{ GRAPH <{OUT}> {{ ?s a <{EX}Seen> }} }} WHERE {{ ?s <{EX}p> ?o }}")
    store.update(with_update_dataset(update, [G1], []))
    assert _subjects(store, OUT) == {EX + "a"}


def test_named_graphs_and_several_operations(store):
    update = (f"PREFIX ex: <{EX}>\nCLEAR SILENT GRAPH <{OUT}> ;\n"
              f"INSERT {{ GRAPH <{OUT}> {{ ?s ex:in ?g }} }} WHERE {{ GRAPH ?g {{ ?s ex:p ?o }} }}")
    store.update(with_update_dataset(update, [], [G2]))
    assert _subjects(store, OUT) == {EX + "b"}


def test_delete_where_becomes_a_modify_with_using(store):
    # USING <g2> makes g2 the pattern's default graph: the store's own default graph is not
    # read, so its triple stays (the template deletes from it, where g2's triple never was)
    store.update(with_update_dataset(f"DELETE WHERE {{ ?s <{EX}p> ?o }}", [G2], []))
    default = {q.subject.value for q in store.quads_for_pattern(None, None, None,
                                                                 ox.DefaultGraph())}
    assert default == {EX + "c"}
    assert _subjects(store, G2) == {EX + "b"}
    store.update(with_update_dataset(f"DELETE WHERE {{ GRAPH ?g {{ ?s <{EX}p> ?o }} }}", [],
                                     [G1]))
    assert _subjects(store, G1) == set()


def test_keywords_in_strings_iris_comments_and_names_are_not_keywords(store):
    update = (f'# WITH <x> USING <y>\nINSERT {{ GRAPH <{OUT}> {{ ?where <{EX}says> "WITH" }} }}'
              f" WHERE {{ ?where <{EX}p> ?using }}")
    assert not declares_update_dataset(update)
    rewritten = with_update_dataset(update, [G1], [])
    assert rewritten.count(f"USING <{G1}>") == 1
    store.update(rewritten)
    assert _subjects(store, OUT) == {EX + "a"}


def test_data_operations_are_left_alone():
    update = f'INSERT DATA {{ <{EX}a> <{EX}p> "WHERE" }}'
    assert with_update_dataset(update, [G1], [G2]) == update


@pytest.mark.parametrize("update", [
    f"WITH <{G1}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}",
    f"DELETE {{ ?s ?p ?o }} USING <{G1}> WHERE {{ ?s ?p ?o }}",
    f"CLEAR ALL ; insert {{ ?s ?p ?o }} using named <{G1}> where {{ ?s ?p ?o }}",
])
def test_a_dataset_in_both_places_is_refused(update):
    assert declares_update_dataset(update)
    with pytest.raises(UpdateDatasetError, match="USING or WITH"):
        with_update_dataset(update, [G2], [])


def test_graph_names_must_be_absolute_iris():
    with pytest.raises(UpdateDatasetError, match="absolute IRI"):
        with_update_dataset("INSERT { } WHERE { }", ["http://x> } ; DROP ALL ; <y"], [])
