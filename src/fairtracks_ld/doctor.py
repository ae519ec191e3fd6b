"""`fairtracks-ld doctor`: check the store's invariants, and repair what is safe to repair.

The invariants: the catalog names only graphs that exist, and each document's current version
is a catalogued version; no version keeps a companion graph of stored ancestor links (an
earlier layout) and every recorded validation report has its graph; every version graph has its
record (a file the catalog names, holding as many triples as the graph: store/records.py) and
the catalog names no record of a graph the store lacks; the current view (the default graph)
holds every triple of its sources; the class closure matches the loaded ontologies; no debris of an
interrupted write (see recovery.py); the published snapshot `current` exists and shows the
store's catalog; the search segments and the API's exports belong to versions of that
snapshot.

Repairs only ever recompute derived data (closure, records, snapshot) or remove what
nothing refers to (debris such as unnamed record files, stale segments and exports). Data the
catalog names but that is gone cannot be made up: those problems are reported with what to do
(load the document again).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fairtracks_ld import reasoning, recovery
from fairtracks_ld.mapping.namespaces import PREFIXES
from fairtracks_ld.store import StoreError, TrackStore, current_view, members, records
from fairtracks_ld.store.snapshots import current_snapshot, publish, snapshot_dir

SEGMENTS = "search-segments"


@dataclass
class Finding:
    """One broken invariant: what is wrong, and whether (and how) --repair fixes it."""

    problem: str
    repair: str | None = None  # what --repair does; None: nothing safe can be done
    advice: str = ""
    repaired: bool = False


def check(store: TrackStore, repair: bool = False) -> list[Finding]:
    """Every broken invariant of `store` (an opened, writable primary store), repaired when
    `repair` and a safe repair exists; a repaired store is published."""
    findings: list[Finding] = []
    for finding, fix in _findings(store):
        if repair and fix is not None:
            fix()
            finding.repaired = True
        findings.append(finding)
    if repair and any(f.repaired for f in findings) and store.path is not None:
        publish(store)  # what was repaired becomes what readers see
    return findings


def _findings(store: TrackStore) -> Iterator[tuple[Finding, object]]:
    yield from _catalog(store)
    yield from _view(store)
    if store.path is not None:
        yield from _records(store)
    debris = recovery.find(store)
    if debris:
        yield (Finding(f"debris of an interrupted write: {debris.describe()}",
                       "remove it (every write command does this too)"),
               lambda: recovery.sweep(store))
    if store.path is not None:
        yield from _snapshots(store)
        yield from _segments(store)


def _catalog(store: TrackStore) -> Iterator[tuple[Finding, object]]:
    graphs = set(store.graph_names())  # versions stored once too
    versions = store.versions()
    catalogued = {v.graph for v in versions}
    for version in versions:
        if version.graph not in graphs:
            yield Finding(f"the catalog names version graph <{version.graph}> but the store "
                          "has no such graph",
                          advice=f"load {version.source} again"), None
    rows = store.ox.query(
        f"SELECT ?doc ?g WHERE {{ GRAPH <{store.catalog}> {{ ?doc ft:current_version ?g }} }}",
        prefixes=PREFIXES)
    for row in rows:
        if row["g"].value not in catalogued:
            yield Finding(f"document <{row['doc'].value}> has current version <{row['g'].value}>, "
                          "which the catalog does not record",
                          advice="load the document again"), None
    companions = [c for v in versions if (c := reasoning.inferred_graph(v.graph)) in graphs]
    if companions:
        yield (Finding(f"{len(companions)} version(s) keep a companion graph of stored ancestor "
                       f"links, an earlier layout, e.g. <{companions[0]}>",
                       "drop them (ancestor-aware answers join the class closure)"),
               lambda: reasoning.drop_companions(store))
    rows = store.ox.query(
        f"SELECT ?g ?r WHERE {{ GRAPH <{store.catalog}> {{ ?g ft:validation_report ?r }} }}",
        prefixes=PREFIXES)
    for row in rows:
        if row["r"].value not in graphs:
            yield Finding(f"version <{row['g'].value}> has lost its validation report graph "
                          f"<{row['r'].value}>", advice="load the document again"), None
    ontologies = [o.graph for o in store.ontologies()]
    for graph in ontologies:
        if graph not in graphs:
            yield Finding(f"the catalog names ontology graph <{graph}> but the store has no "
                          "such graph", advice="run `fairtracks-ld ontologies load`"), None
    if ontologies and reasoning.recorded_digest(store) != reasoning.ontology_digest(store):
        yield (Finding("the class closure does not match the loaded ontologies",
                       "recompute the closure"),
               lambda: reasoning.refresh(store))


def _view(store: TrackStore) -> Iterator[tuple[Finding, object]]:
    missing = current_view.stale(store)
    if missing:
        yield (Finding(f"the current view (the default graph) lacks {missing:,} triple(s) of "
                       "its sources", "add them from the sources"),
               lambda: current_view.rebuild(store))


def _records(store: TrackStore) -> Iterator[tuple[Finding, object]]:
    """Each version graph against its record: named, there, as many triples."""
    names = records.names(store)
    root = records.folder(store.path)
    graphs = {g.value for g in store.ox.named_graphs()}
    recorded = [v.graph for v in store.versions() if v.graph in graphs]
    once = sorted(members.stored_once(store))
    for graph in once:  # its record is its only exact copy
        if graph not in names or not (root / names[graph]).is_file():
            yield Finding(f"version <{graph}> is stored once (its triples only in the current "
                          "view) and has lost its record file", advice="load the document "
                          "again; dumps and its history read the view meanwhile"), None
    missing = []
    for graph in recorded:
        if graph not in names or not (root / names[graph]).is_file():
            missing.append(graph)
            continue
        held, kept = _triples(store, graph), records.triples(root / names[graph])
        if held != kept:
            yield (Finding(f"the record of <{graph}> holds {kept:,} triple(s), the graph "
                           f"{held:,}", "write it again from the graph"),
                   lambda graph=graph: records.write_from_store(store, graph))
    if missing:
        def write() -> None:
            for graph in missing:
                records.write_from_store(store, graph)

        yield (Finding(f"{len(missing)} version graph(s) have no record (a store "
                       f"written before records, or a lost file), e.g. <{missing[0]}>",
                       "write them from the graphs"), write)
    gone = sorted(set(names) - set(recorded) - set(once))
    if gone:
        yield (Finding(f"the catalog names the record of {len(gone)} graph(s) the store does not "
                       f"hold as a version, e.g. <{gone[0]}>", "forget them"),
               lambda: records.forget(store, gone))


def _triples(store: TrackStore, graph: str) -> int:
    rows = store.ox.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    return int(next(iter(rows))["n"].value)


def _snapshots(store: TrackStore) -> Iterator[tuple[Finding, object]]:
    path = Path(store.path)
    current = current_snapshot(path)
    fix = _published_by_check
    if current is None:
        yield Finding("no published snapshot: servers and readers have nothing to read",
                      "publish one"), fix
        return
    if not current.is_dir():
        yield Finding(f"the snapshot link {snapshot_dir(path) / 'current'} points at missing "
                      f"{current}", "publish a new snapshot"), fix
        return
    try:
        snapshot = TrackStore(current, read_only=True)
        same = _catalog_quads(snapshot) == _catalog_quads(store)
        del snapshot
    except (OSError, StoreError) as error:
        yield Finding(f"the current snapshot {current} cannot be opened: {error}",
                      "publish a new snapshot"), fix
        return
    if not same:
        yield Finding(f"the current snapshot {current.name} is older than the store's catalog "
                      "(a write was not published)", "publish a new snapshot"), fix


def _published_by_check() -> None:
    """`check` publishes once after every repair."""


def _catalog_quads(store: TrackStore) -> set[str]:
    return {str(q) for q in store.graph_quads(store.catalog)}


def stale_segments(store_path: Path) -> list[Path]:
    """Files in the search-segment folder that belong to no current version of the current
    snapshot (older versions, older formats, unfinished writes, lock files), once past the
    grace period in which servers still reading an older snapshot may want them (a reload
    leaves the segment of the version it supersedes, which the writer made: not a problem)."""
    from fairtracks_ld.search import segments

    return _stale(snapshot_dir(store_path) / SEGMENTS, store_path, segments.segment_name)


def stale_exports(store_path: Path) -> list[Path]:
    """Files in the API's export folder (search/exports.py) that belong to no current version
    of the current snapshot, past the same grace period."""
    from fairtracks_ld.search import exports

    return _stale(exports.folder_of(store_path), store_path, exports.export_name)


def _stale(folder: Path, store_path: Path, name_of: Callable[[str, str], str]) -> list[Path]:
    """The files of `folder` no current version of the current snapshot names (`name_of`
    its graph and load time), older than the grace period."""
    from fairtracks_ld.search import segments

    current = current_snapshot(store_path)
    if not folder.is_dir() or current is None or not current.is_dir():
        return []
    snapshot = TrackStore(current, read_only=True)
    wanted = {name_of(v.graph, v.loaded_at) for v in snapshot.versions() if v.current}
    del snapshot
    cutoff = time.time() - segments.GRACE_SECONDS
    return sorted(p for p in folder.iterdir()
                  if p.name not in wanted and p.stat().st_mtime < cutoff)


def _segments(store: TrackStore) -> Iterator[tuple[Finding, object]]:
    for stale, kind in ((stale_segments(Path(store.path)), "search segment"),
                        (stale_exports(Path(store.path)), "API export")):
        if stale:
            yield (Finding(f"{len(stale)} {kind} file(s) of versions no longer current "
                           "(servers and writers prune them after a grace period)",
                           "remove them"), _remover(stale))


def _remover(paths: list[Path]) -> Callable[[], None]:
    def remove() -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    return remove


def render(findings: list[Finding], repair: bool) -> str:
    if not findings:
        return "healthy: the store keeps every invariant\n"
    lines = []
    for finding in findings:
        if finding.repaired:
            lines.append(f"repaired: {finding.problem} ({finding.repair})")
        elif finding.repair is not None:
            lines.append(f"problem: {finding.problem} (--repair would {finding.repair})")
        else:
            lines.append(f"problem: {finding.problem}; {finding.advice}")
    left = sum(not f.repaired for f in findings)
    lines.append(f"{len(findings)} problem(s), {len(findings) - left} repaired, {left} left"
                 if repair else f"{len(findings)} problem(s)")
    return "\n".join(lines) + "\n"


def remaining(findings: list[Finding]) -> int:
    return sum(not f.repaired for f in findings)

