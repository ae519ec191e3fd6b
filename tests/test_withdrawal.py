"""Withdrawal in the store itself: the catalog record, the current view (the default graph, in
the published snapshot too), the dumps' hidden graphs, reinstatement."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from fairtracks_ld import licences, withdrawal
from fairtracks_ld.store.snapshots import publish
from fairtracks_ld.submission import publish_document
from fairtracks_ld.withdrawal import WithdrawalError, withdraw


@pytest.fixture
def published(store, example):
    return publish_document(store, example, "submission:test", "alice")


def test_withdrawal_leaves_the_view_but_not_the_store(store, published):
    graph = published.version.graph
    track = ox.NamedNode(graph.split("/document/")[0] + "/track/encode:ENCFF625ZYB")
    before = publish(store)
    assert any(True for _ in ox.Store.read_only(str(before)).quads_for_pattern(
        track, None, None, ox.DefaultGraph()))
    collection = published.version.collection
    store.ox.update(licences.catalog_update(store.catalog, collection,
                                            licences.parse_terms("CC0-1.0")))
    done = withdraw(store, published.collection, None, "  wrong   cohort ", "alice")
    assert licences.licence_of(store, collection).spdx_id == "CC0-1.0"  # stated terms stay
    assert done.reason == "wrong cohort" and done.graphs == (graph,)
    assert ox.NamedNode(graph) not in store.current_graphs()
    assert not any(True for _ in store.query(f"SELECT * {{ {track} ?p ?o }}"))
    assert store.has_graph(graph)  # the history stays
    assert ox.NamedNode(graph) in withdrawal.hidden_graphs(store)
    after = publish(store)
    assert not any(True for _ in ox.Store.read_only(str(after)).quads_for_pattern(
        track, None, None, ox.DefaultGraph()))
    with pytest.raises(WithdrawalError) as again:
        withdraw(store, published.collection, None, "again", "alice")
    assert again.value.status == 410
    with pytest.raises(WithdrawalError) as never:
        withdraw(store, "never-published", None, "why", "alice")
    assert never.value.status == 404


def test_a_new_submission_reinstates_the_document(store, published, example):
    withdraw(store, published.collection, "0", "mistake", "alice")
    assert withdrawal.withdrawals(store)
    again = publish_document(store, example, "submission:again", "alice")
    assert again.version.current
    assert not withdrawal.withdrawals(store)
    assert not withdrawal.hidden_graphs(store)
