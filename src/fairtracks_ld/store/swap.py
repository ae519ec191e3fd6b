"""Replacing (or dropping) a catalogued graph in bounded steps that the next writer can finish.

Oxigraph has no rename: SPARQL's MOVE copies a graph and drops the old one in one transaction, whose
write batch holds every quad (removing a graph alone in one transaction: 3M quads, +2.8 GB of peak
RSS; graph_removal.py), and swapping a view source that way deleted and re-inserted its triples in
the view in the same update. A graph rewritten from scratch (the closure; a reloaded version's graph
and report, whose notes go in the reload's catalog update: writing.py) therefore goes through four
steps instead:

1. its new content is written into a staging graph `{base}graph/staging/{id}`, which nothing
   names yet (a kill here leaves debris the next writer's sweep removes, recovery.py);
2. one small catalog update notes `<target> ft:replaced_by <staging>` (or `ft:nothing`, for a
   drop): from here on the staging graph is what the target holds, and the change is finished
   by whoever comes next;
3. the target converges to it: its triples the staging graph lacks leave (the view first,
   unless another source holds them), in flushed transactions of 20,000 quads
   (graph_removal.batch_size); the staging graph's triples the target lacks enter (the view
   first), in bulk-loader calls of ADD_CALL bytes.
   Every step can be redone: a triple is looked up in both graphs each time;
4. the note is dropped, then the staging graph is removed with the bounded remover (a kill
   there leaves an uncatalogued staging graph: debris, swept).

A writer killed after step 2 leaves the note: the next writer's sweep and `publish` (before any
snapshot) finish it, so readers, who read published snapshots, see the old content or the new.
Memory stays bounded by a transaction's or a bulk call's size, whatever the graph's.
Triples are compared as stored: a blank node of the staging graph is never one of the target's,
so triples holding one (a validation report's) all leave and enter again, copied with their
nodes (as MOVE did), in transactions of BLANK_BATCH.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

import pyoxigraph as ox

from fairtracks_ld.faults import checkpoint
from fairtracks_ld.graph_removal import (
    batch_size,
    delete_triples,
    holds_blank,
    remove_graph,
)
from fairtracks_ld.mapping.namespaces import FT
from fairtracks_ld.store import current_view

if TYPE_CHECKING:
    from fairtracks_ld.store import TrackStore

REPLACED_BY = FT + "replaced_by"  # catalog note: <target> ft:replaced_by <staging>
NOTHING = FT + "nothing"  # … of a graph being dropped
ADD_CALL = 16 << 20  # N-Triples bytes per bulk-loader call (+80 MB of peak RSS, reasoning.py)


def staging_graph(store: TrackStore) -> str:
    """A fresh staging graph's name (recovery sweeps it when no catalog note names it)."""
    return f"{store.base}graph/staging/{uuid.uuid4().hex}"


def replace(store: TrackStore, target: str, fill: Callable[[str], None]) -> None:
    """Give `target` (an existing graph, in the view or not) the content `fill` writes into the
    staging graph it is given, in the bounded steps of this module."""
    finish(store)  # an earlier, interrupted swap of the same graph must not come after this one
    staging = staging_graph(store)
    try:
        fill(staging)
        store.ox.add_graph(ox.NamedNode(staging))
    except BaseException:
        if store.has_graph(staging):  # nothing names it: a failed fill changes nothing
            remove_graph(store.ox, staging)
        raise
    checkpoint("swap-staged")  # a kill here leaves the staging graph: debris
    _note(store, target, staging)


def drop(store: TrackStore, target: str) -> None:
    """Remove `target` (e.g. a companion of stored links of an earlier layout) in the bounded steps
    of this module: a kill midway leaves a note the next writer finishes, never half a graph."""
    finish(store)
    _note(store, target, NOTHING)


def noting(store: TrackStore, swaps: Iterable[tuple[str, str]]) -> str:
    """The SPARQL update operation noting swaps (target, staging graph or NOTHING), to go in
    the update that makes them the store's state (a reload's catalog update); `finish` then
    carries them out."""
    notes = " ".join(f"<{target}> <{REPLACED_BY}> <{staging}> ." for target, staging in swaps)
    return f"INSERT DATA {{ GRAPH <{store.catalog}> {{ {notes} }} }}"


def _note(store: TrackStore, target: str, staging: str) -> None:
    current_view.wait_for_writes(store)  # the fill's bulk calls may have left RocksDB merging
    store.ox.update(noting(store, [(target, staging)]))
    checkpoint("swap-noted")  # from here on the next writer finishes it
    finish(store)


def pending(store: TrackStore) -> list[tuple[str, str]]:
    """The noted swaps not finished yet: (target, staging graph or NOTHING)."""
    rows = store.ox.query(f"SELECT ?t ?s WHERE {{ GRAPH <{store.catalog}> {{ ?t <{REPLACED_BY}> "
                          f"?s }} }} ORDER BY ?t")
    return [(row["t"].value, row["s"].value) for row in rows]


def staged(store: TrackStore) -> set[str]:
    """The staging graphs a noted swap still needs (not debris)."""
    return {staging for _, staging in pending(store)}


def finish(store: TrackStore) -> int:
    """Finish every noted swap (steps 3 and 4); returns how many there were."""
    swaps = pending(store)
    for target, staging in swaps:
        _converge(store, target, staging)
        if staging == NOTHING:
            remove_graph(store.ox, target)  # its name only: it is empty now
        else:
            store.ox.add_graph(ox.NamedNode(target))  # an empty graph still exists
        current_view.wait_for_writes(store)
        store.ox.update(f"DELETE DATA {{ GRAPH <{store.catalog}> {{ <{target}> <{REPLACED_BY}> "
                        f"<{staging}> }} }}")
        checkpoint("swap-switched")  # the staging graph is debris from here on
        if staging != NOTHING:
            remove_graph(store.ox, staging, stage="swap-unstaging")
    return len(swaps)


def _converge(store: TrackStore, target: str, staging: str) -> None:
    """Make `target` hold exactly the triples of `staging` (none for NOTHING), the view too
    when `target` is one of its sources (or a current version's companion of stored links, a
    source in earlier layouts, which reasoning.drop_companions drops); each step can be redone
    after a kill."""
    sources = current_view.sources(store)
    in_view = target in sources or (target.endswith(current_view.INFERRED_SUFFIX) and target
                                    .removesuffix(current_view.INFERRED_SUFFIX) in sources)
    others = sources - {target} if in_view else None
    into, source = ox.NamedNode(target), ox.NamedNode(staging)
    leaving = (q.triple for q in store.ox.quads_for_pattern(None, None, None, into)
               if ox.Quad(q.subject, q.predicate, q.object, source) not in store.ox)
    while chunk := list(islice(leaving, batch_size())):
        if others is not None:  # the view first: a kill in between leaves it in the target,
            current_view.remove_unheld(store, chunk, others)  # so the redo finds it again
        delete_triples(store.ox, chunk, into)
        store.ox.flush()
        checkpoint("swap-removing")
    entering = (q.triple for q in store.ox.quads_for_pattern(None, None, None, source)
                if ox.Quad(q.subject, q.predicate, q.object, into) not in store.ox)
    for text, blank in _calls(entering, ADD_CALL):
        for graph in ([ox.DefaultGraph()] if others is not None else []) + [into]:
            _load(store, text, graph)  # the view first, for the same reason
            store.ox.extend(ox.Quad(t.subject, t.predicate, t.object, graph) for t in blank)
        checkpoint("swap-adding")


def _calls(triples: Iterable[ox.Triple], limit: int) -> Iterator[tuple[bytes, list[ox.Triple]]]:
    """Triples gathered into N-Triples texts of about `limit` bytes, with the triples holding a
    blank node apart (up to BLANK_BATCH a call): a loader would rename their blank nodes, which
    the target must share with the staging graph (and the view with its source)."""
    part: list[str] = []
    blank: list[ox.Triple] = []
    size = 0
    for triple in triples:
        if holds_blank(triple):
            blank.append(triple)
        else:
            part.append(f"{triple} .\n")
            size += len(part[-1])
        if size >= limit or len(blank) >= current_view.BLANK_BATCH:
            yield "".join(part).encode(), blank
            part, blank, size = [], [], 0
    if part or blank:
        yield "".join(part).encode(), blank


def _load(store: TrackStore, text: bytes, graph: ox.NamedNode | ox.DefaultGraph) -> None:
    """Bulk-load N-Triples (small texts in one transaction: a bulk call has a fixed cost)."""
    if not text:
        return
    write = store.ox.load if len(text) < current_view.SMALL_WRITE else store.ox.bulk_load
    write(text, format=ox.RdfFormat.N_TRIPLES, to_graph=graph, lenient=True)
