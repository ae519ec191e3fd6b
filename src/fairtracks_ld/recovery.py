"""What an interrupted write leaves behind, and sweeping it away under the writer lock.

A write never changes the current view before its catalog update, so a killed load leaves the
store's view intact but may leave debris: graphs the catalog does not name (a version graph and its
report written before the catalog update, `…/staging/…` graphs of a replacement), `bulk-*.sst` files
of an Oxigraph bulk load killed before it ingested them, record files no catalog entry names
(store/records.py: a write killed before its catalog update, a reload's former records) and snapshot
folders or links of a publish killed halfway. A write killed after its catalog update leaves its
view change noted but unsettled (current_view.settle), and one killed while it replaced a graph (a
reloaded version, the closure) a noted swap (store/swap.py), which the sweep finishes. Only a
process holding the writer lock may remove them (another writer could be producing them), so every
write command sweeps right after taking the lock. Graphs outside the store's own naming scheme (e.g.
written by SPARQL Update) are never touched.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from fairtracks_ld import reasoning
from fairtracks_ld.graph_removal import remove_graph
from fairtracks_ld.mapping.namespaces import PREFIXES
from fairtracks_ld.store import TrackStore, current_view, members, records, report_graph, swap
from fairtracks_ld.store.snapshots import CURRENT, current_snapshot, snapshot_dir

STAGING = "/staging/"


@dataclass
class Debris:
    """What an interrupted write left: graphs, bulk files, records and snapshot leftovers."""

    graphs: list[str] = field(default_factory=list)
    bulk_files: list[Path] = field(default_factory=list)
    records: list[Path] = field(default_factory=list)  # files no catalog entry names
    snapshot_leftovers: list[Path] = field(default_factory=list)
    view_changes: int = 0  # sources of a noted view change not settled (current_view.settle)
    swaps: int = 0  # noted graph replacements not finished (store/swap.py)
    stored_once: int = 0  # versions stored once taken back or restored (store/members.py)
    seconds: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.graphs or self.bulk_files or self.records or self.snapshot_leftovers
                    or self.view_changes or self.swaps or self.stored_once)

    def describe(self) -> str:
        parts = [f"{len(self.graphs)} uncatalogued graph(s)" if self.graphs else "",
                 f"{len(self.bulk_files)} bulk file(s)" if self.bulk_files else "",
                 f"{len(self.records)} unnamed record file(s)" if self.records else "",
                 f"{len(self.snapshot_leftovers)} unfinished snapshot(s)"
                 if self.snapshot_leftovers else "",
                 f"{self.view_changes} unsettled view change(s)" if self.view_changes else "",
                 f"{self.swaps} unfinished graph replacement(s)" if self.swaps else "",
                 f"{self.stored_once} unfinished version(s) stored once"
                 if self.stored_once else ""]
        return ", ".join(p for p in parts if p)


def expected_graphs(store: TrackStore) -> set[str]:
    """Every graph the catalog accounts for: itself, the closure, the ontologies, each
    catalogued version with its validation report (and, in a store of an earlier layout, its
    companion of stored links, which reasoning.drop_companions removes with its view triples),
    and the staging graphs of noted swaps (store/swap.py), which their finish needs."""
    expected = {store.catalog, reasoning.closure_graph(store), *swap.staged(store)}
    rows = store.ox.query(
        f"SELECT ?g ?kind WHERE {{ GRAPH <{store.catalog}> {{ ?g a ?kind "
        f"VALUES ?kind {{ ft:DocumentVersion ft:OntologyGraph }} }} }}", prefixes=PREFIXES)
    for row in rows:
        graph = row["g"].value
        expected.add(graph)
        if row["kind"].value.endswith("DocumentVersion"):
            expected.update((reasoning.inferred_graph(graph), report_graph(graph)))
    return expected


def ours(store: TrackStore, graph: str) -> bool:
    """Whether a graph name follows the store's own scheme (versions and their reports, staging)."""
    return (graph.startswith(store.base + "graph" + STAGING)
            or (graph.startswith(store.base + "collection/") and "/version/" in graph))


def orphan_graphs(store: TrackStore) -> list[str]:
    """Graphs of the store's scheme that no catalog entry accounts for."""
    expected = expected_graphs(store)
    return sorted(g.value for g in store.ox.named_graphs()
                  if g.value not in expected and ours(store, g.value))


def bulk_files(store_path: Path) -> list[Path]:
    """SST files an Oxigraph bulk load writes beside the store's own, before ingesting them."""
    return sorted(store_path.glob("bulk-*.sst"))


def snapshot_leftovers(store_path: Path) -> list[Path]:
    """A publish killed halfway: snapshot folders newer than `current`, temporary links."""
    folder = snapshot_dir(store_path)
    if not folder.is_dir():
        return []
    current = current_snapshot(store_path)
    newest = int(current.name) if current is not None and current.name.isdigit() else -1
    found = [p for p in folder.iterdir()
             if (p.name.isdigit() and p.is_dir() and int(p.name) > newest)
             or p.name.startswith(f".{CURRENT}.")]
    return sorted(found)


def find(store: TrackStore) -> Debris:
    path = Path(store.path) if store.path is not None else None
    removing, adding = current_view.unsettled(store)
    return Debris(orphan_graphs(store), bulk_files(path) if path else [],
                  records.unnamed(store), snapshot_leftovers(path) if path else [],
                  len(removing) + len(adding), len(swap.pending(store)),
                  len(members.unfinished(store)))


def sweep(store: TrackStore) -> Debris:
    """Remove what interrupted writes left (the caller holds the writer lock)."""
    started = time.perf_counter()
    debris = find(store)
    if debris.stored_once:  # reads the temporary records that the files below remove
        members.sweep(store)
    if debris.view_changes:  # a write killed after its catalog update: finish its view change
        current_view.settle(store)
    swap.finish(store)  # removes its staging graphs, which were not counted as debris
    for graph in debris.graphs:  # in bounded transactions: a killed sweep is swept again
        remove_graph(store.ox, graph)
    for path in debris.bulk_files + debris.records:
        path.unlink(missing_ok=True)
    for path in debris.snapshot_leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if debris.graphs:
        store.flush()
    debris.seconds = time.perf_counter() - started
    return debris

