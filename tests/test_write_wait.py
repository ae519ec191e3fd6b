"""current_view.wait_for_writes: the write of nothing that takes RocksDB's write stall (after
bulk-loader calls) as a named step leaves the store exactly as it was, and is a checkpoint."""

from __future__ import annotations

import pyoxigraph as ox
from conftest import BASE

from fairtracks_ld.faults import PAUSE_AT
from fairtracks_ld.store import TrackStore, current_view


def every_quad(store: TrackStore) -> set[ox.Quad]:
    return set(store.ox.quads_for_pattern(None, None, None, None))


def test_the_probe_leaves_no_quad_graph_or_view_triple(tmp_path, monkeypatch, capsys):
    store = TrackStore(tmp_path / "store", base=BASE)
    graph = ox.NamedNode(BASE + "collection/c/document/d/version/v1")
    lines = "".join(f"<{BASE}s/{i}> <{BASE}p/{i % 5}> \"{i}\" .\n" for i in range(20_000))
    for part in range(4):  # overlapping bulk calls, as a version's chunks are written
        store.ox.bulk_load(lines.encode(), format=ox.RdfFormat.N_TRIPLES,
                           to_graph=ox.NamedNode(f"{graph.value}/{part}"))
    view = "".join(lines.splitlines(keepends=True)[:3])  # the view holds triples too
    store.ox.load(view.encode(), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.DefaultGraph())
    quads, graphs = every_quad(store), set(store.ox.named_graphs())
    monkeypatch.setenv(PAUSE_AT, "never")
    waited = current_view.wait_for_writes(store)
    assert waited >= 0
    assert "checkpoint merging" in capsys.readouterr().err
    assert every_quad(store) == quads
    assert set(store.ox.named_graphs()) == graphs
    probe = ox.NamedNode("urn:fairtracks-ld:write-probe")
    assert not list(store.ox.quads_for_pattern(probe, None, None, None))
    assert current_view.PROBE.split()[0] == f"<{probe.value}>"

