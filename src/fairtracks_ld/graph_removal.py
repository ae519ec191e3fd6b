"""Removing a named graph from an Oxigraph store in bounded transactions.

Oxigraph's own `remove_graph` deletes a graph in one transaction, whose write batch holds every
deletion. Measured on an on-disk store (2026-12-06, a busy machine): a graph of 1M quads took
66 CPU s and +650 MB of peak RSS, one of 3M 290 CPU s and +2.8 GB, while transactions of 20,000
quads, each flushed, took 48 CPU s for the 1M with no growth of the peak. Used by the store's
writers (a refused version, debris) and by validation (its shared value sets, whose removal was
the +1.7 GB transient at the end of a 1M-track document's validation).
"""

from __future__ import annotations

import os
from itertools import islice

import pyoxigraph as ox

from fairtracks_ld.faults import checkpoint

REMOVE_BATCH = "FAIRTRACKS_LD_REMOVE_BATCH"  # quads per removal transaction (default 20,000)


def batch_size() -> int:
    """Quads per removal transaction: `FAIRTRACKS_LD_REMOVE_BATCH`, else 20,000 (also the
    size of store/swap.py's removals)."""
    return int(os.environ.get(REMOVE_BATCH) or 20_000)


def remove_graph(store: ox.Store, graph: str, batch: int | None = None,
                 stage: str | None = "removing") -> None:
    """Remove a graph in transactions of at most `batch` quads, so memory stays bounded
    (Oxigraph's `remove_graph` is one transaction: 10.7M quads took over 3.2 GB).

    Only for graphs nothing shows (uncatalogued: a refused or failed write, debris, validation's
    scratch graphs): an interruption leaves part of such a graph, which the next sweep removes
    (see recovery.py). `stage`: the checkpoint (faults) passed after each transaction, None for
    none.
    Quads are read from one iterator and deleted with DELETE DATA (those with a blank node,
    which DELETE DATA cannot name, one by one), and each transaction is flushed to disk.
    """
    size = batch or batch_size()
    node = ox.NamedNode(graph)
    quads = store.quads_for_pattern(None, None, None, node)
    while chunk := list(islice(quads, size)):
        delete_triples(store, [q.triple for q in chunk], node)
        store.flush()  # else RocksDB's memtables keep every deletion (+0.5 GB per 1M quads)
        if stage is not None:
            checkpoint(stage)  # a kill here leaves part of the graph: debris, swept
    store.remove_graph(node)  # the empty graph's name


def delete_triples(store: ox.Store, triples: list[ox.Triple],
                   graph: ox.NamedNode | ox.DefaultGraph | None = None) -> None:
    """Delete `triples` from `graph` (the default graph when None) in one DELETE DATA; those
    holding a blank node, which DELETE DATA cannot name, one by one (all of them when SPARQL
    refuses a leniently loaded IRI)."""
    graph = graph or ox.DefaultGraph()
    named = [t for t in triples if not holds_blank(t)]
    one_by_one = [t for t in triples if holds_blank(t)]
    if named:
        text = " ".join(f"{t} ." for t in named)
        try:
            store.update(f"DELETE DATA {{ GRAPH {graph} {{ {text} }} }}"
                         if isinstance(graph, ox.NamedNode) else f"DELETE DATA {{ {text} }}")
        except SyntaxError:
            one_by_one = triples
    for triple in one_by_one:
        store.remove(ox.Quad(triple.subject, triple.predicate, triple.object, graph))


def holds_blank(triple: ox.Triple) -> bool:
    """A blank node as subject or object: no SPARQL text can name the triple."""
    return isinstance(triple.subject, ox.BlankNode) or isinstance(triple.object, ox.BlankNode)
