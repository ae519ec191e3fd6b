"""store/swap.py on a memory store: a graph replaced in bounded transactions, the view kept the
merge of its sources, a drop, and the staging graph a noted swap needs kept from the sweep.
The crashes (a kill at each stage) are in test_crash.py."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from conftest import BASE

from fairtracks_ld.faults import PAUSE_AT
from fairtracks_ld.graph_removal import REMOVE_BATCH
from fairtracks_ld.recovery import expected_graphs, orphan_graphs
from fairtracks_ld.store import TrackStore, current_view, swap

P = ox.NamedNode("urn:x:p")


def triples(n: int, start: int = 0) -> list[ox.Triple]:
    return [ox.Triple(ox.NamedNode(f"urn:x:s{i}"), P, ox.NamedNode(f"urn:x:o{i}"))
            for i in range(start, start + n)]


def held(store: TrackStore, graph: ox.NamedNode | ox.DefaultGraph) -> set[ox.Triple]:
    return {q.triple for q in store.ox.quads_for_pattern(None, None, None, graph)}


@pytest.fixture
def store() -> TrackStore:
    """The closure graph (a source of the view) holding 20 triples, the view too."""
    store = TrackStore(None, base=BASE)
    closure = ox.NamedNode(BASE + current_view.CLOSURE_PATH)
    store.ox.extend(ox.Quad(t.subject, t.predicate, t.object, g)
                    for t in triples(20) for g in (closure, ox.DefaultGraph()))
    return store


def fill_with(store: TrackStore, new: list[ox.Triple]):
    return lambda staging: store.ox.extend(
        ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(staging)) for t in new)


def test_a_source_is_replaced_in_bounded_transactions_and_the_view_follows(
        store, monkeypatch, capsys):
    closure = ox.NamedNode(BASE + current_view.CLOSURE_PATH)
    monkeypatch.setenv(REMOVE_BATCH, "5")
    monkeypatch.setenv(PAUSE_AT, "none")  # checkpoints are printed, none pauses
    new = triples(8) + triples(3, start=100)  # 12 leave, 3 enter
    swap.replace(store, closure.value, fill_with(store, new))
    passed = capsys.readouterr().err
    assert passed.count("checkpoint swap-removing") == 3  # 12 in transactions of 5
    assert passed.count("checkpoint swap-adding") == 1
    assert passed.count("checkpoint swap-unstaging") == 3  # the staging graph's 11, by 5
    assert held(store, closure) == set(new)
    assert held(store, ox.DefaultGraph()) == set(new)
    assert not swap.pending(store) and len(list(store.ox.named_graphs())) == 2  # + catalog


def test_a_triple_another_source_holds_stays_in_the_view(store):
    closure = BASE + current_view.CLOSURE_PATH
    shared = triples(1, start=5)[0]
    store.ox.update(f"INSERT DATA {{ GRAPH <{store.catalog}> {{ <urn:x:onto> a "
                    f"<{current_view.FT}OntologyGraph> }} GRAPH <urn:x:onto> {{ {shared} }} }}")
    swap.replace(store, closure, fill_with(store, []))
    assert held(store, ox.NamedNode(closure)) == set()
    assert store.has_graph(closure)  # empty, still there
    assert held(store, ox.DefaultGraph()) == {shared}


def test_a_drop_removes_the_graph_and_its_view_triples(store):
    closure = BASE + current_view.CLOSURE_PATH
    swap.drop(store, closure)
    assert not store.has_graph(closure) and not held(store, ox.DefaultGraph())
    assert not swap.pending(store)


def test_a_noted_swap_keeps_its_staging_graph_from_the_sweep_and_finishes(store):
    """As a kill right after the note leaves it: the staging graph is not debris, and
    finishing gives the new content."""
    closure = BASE + current_view.CLOSURE_PATH
    staging = swap.staging_graph(store)
    new = triples(4, start=50)
    fill_with(store, new)(staging)
    store.ox.update(f"INSERT DATA {{ GRAPH <{store.catalog}> {{ <{closure}> "
                    f"<{swap.REPLACED_BY}> <{staging}> }} }}")
    assert staging in expected_graphs(store) and not orphan_graphs(store)
    assert swap.finish(store) == 1
    assert held(store, ox.NamedNode(closure)) == set(new) == held(store, ox.DefaultGraph())
    assert not store.has_graph(staging) and swap.finish(store) == 0
