"""The current view, stored once in the default graph: an RDF set kept up to date by every write.

The view is the RDF merge of its *sources*: the current document versions, the ontologies and
the class closure (each a named graph, which stays the record of what that source holds). Its
triples are held in the default graph (3 indexes, a set by
construction: a triple held by two sources is stored, and answered, once), so a query needs no
graph list, no copy and no build: it is answerable the moment the write returns.

A change of sources is recorded in the same SPARQL update as the catalog change that causes it.
For a document version (`pending`, then `settle`), the update only notes which sources leave and
enter the view; the view is then brought up to date in bounded steps: a leaving source's
triples that no current source holds are deleted in small transactions, and an entering
source's triples are bulk-added in chunks, read from Oxigraph's own N-Triples dump of the
source (`bulk_add`). One update copying a 200k-track version into the view
grew past 11 GB and took most of a load's time; the bounded steps keep memory flat. The note
is removed last, so a writer killed midway leaves it for the next writer, whose sweep settles it
(every step is idempotent); readers never see the unsettled store, as they read the snapshot
published after the write. Other changes (ontologies, withdrawal, the reload of the same
version) use `change`: deletions, the catalog change and insertions in one update. (Oxigraph
evaluates a `FILTER NOT EXISTS` inside an update two orders of magnitude slower than in a
query, so what must be kept is found first by a query, outside the update, under the writer
lock.) Triples
written straight into the default graph by SPARQL Update belong to the view too; a load that
removes a source removes such a triple only if that source held it.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pyoxigraph as ox

from fairtracks_ld.faults import checkpoint
from fairtracks_ld.graph_removal import delete_triples
from fairtracks_ld.mapping.namespaces import FT
from fairtracks_ld.store import records

if TYPE_CHECKING:
    from fairtracks_ld.store import TrackStore

LAYOUT = "current-view-in-default-graph"  # the catalog's ft:layout since this module
INFERRED_SUFFIX = "/inferred"  # a version's companion graph of stored links, in earlier layouts
CLOSURE_PATH = "graph/closure"
LINK_LAYOUT = "closure"  # the closure record's ft:link_layout: no stored links, the closure join
VIEW_ADDS = FT + "view_adds"  # catalog notes of a view change not settled yet
VIEW_REMOVES = FT + "view_removes"
BLANK_OBJECT = re.compile(rb' _:[^\s"<>]+ \.\s*$')  # an N-Triples line's blank object
ADD_BLOCK = 32 * 2**20  # bytes of N-Triples per bulk call (~200k triples): a call is ~0.5 GB
# A version's chunks are gathered into bulk calls of up to this many bytes (a bigger chunk is a
# call of its own; writing._write_chunks), and a copy is added to the view in as few calls of at
# most this size as it takes, cut evenly (ViewCopy): RocksDB (as Oxigraph sets it up) merges a
# column family's table files as soon as two are unmerged, so each extra call costs merging. The
# size of a call is ADD_BLOCK's, so the memory a call takes is unchanged.
GATHER = ADD_BLOCK
REMOVE_BATCH = 20_000  # triples per deleting transaction (flushed after each)
BLANK_BATCH = 50_000  # blank-node triples a `bulk_extend` call (Python objects: ~15 MB)
# Text under this size is written in one transaction even where the bulk loader writes the rest:
# a bulk-loader call writes and syncs table files of its own, a fixed cost that dwarfs a small
# write's (on the shared disk: two tiny chunks then a big one, 0.91 s of wall by three bulk
# calls, 0.56 s with the tiny ones in transactions); a transaction holds it in memory (~25k
# triples). The store holds the same triples either way.
SMALL_WRITE = 4 << 20


# A triple no source holds, written and deleted in one transaction by `wait_for_writes`
PROBE = '<urn:fairtracks-ld:write-probe> <urn:fairtracks-ld:write-probe> "probe"'


def wait_for_writes(store: TrackStore) -> float:
    """Wait until RocksDB takes ordinary writes again after bulk-loader calls; returns the
    seconds waited (a stage of its own: checkpoint `merging`).

    Oxigraph's keys are hashes, so every bulk-loader call's table files overlap the earlier
    ones and are ingested into level 0, and ingestion does not wait for compaction: after
    many calls a column family holds dozens of level-0 files (58 after 80 calls on 1M quads,
    bench/results/load-memory.md). RocksDB then stops every ordinary write (a transaction,
    an update) until compaction has brought each column family under 36 level-0 files: the
    next write waits behind gigabytes of merging (a 1M-track load sat 14+ min in its small
    catalog update). This write of nothing (a triple added and removed in one transaction,
    atomic: a kill leaves no trace) takes that wait where it is named and timed, before the
    writes that need the store: validation's, the catalog update, the settle's last."""
    checkpoint("merging")
    started = time.monotonic()
    store.ox.update(f"INSERT DATA {{ {PROBE} }} ; DELETE DATA {{ {PROBE} }}")
    return time.monotonic() - started


def sources(store: TrackStore) -> set[str]:
    """The named graphs the view is the merge of, as the catalog says now."""
    rows = store.ox.query(
        f"""SELECT ?g WHERE {{ GRAPH <{store.catalog}> {{
              {{ ?doc <{FT}current_version> ?g }}
              UNION {{ ?g a <{FT}OntologyGraph> }} }} }}""")
    return {store.base + CLOSURE_PATH} | {row["g"].value for row in rows}


def held_elsewhere(store: TrackStore, leaving: Iterable[str], others: set[str]) -> set[ox.Triple]:
    """Triples of the `leaving` graphs that a graph in `others` holds too (they stay)."""
    kept: set[ox.Triple] = set()
    for graph in leaving:
        node = ox.NamedNode(graph)
        if not store.ox.contains_named_graph(node):
            continue
        rows = store.ox.query(
            f"SELECT ?s ?p ?o ?h WHERE {{ GRAPH {node} {{ ?s ?p ?o }} GRAPH ?h {{ ?s ?p ?o }} "
            f"FILTER(?h != {node}) }}")
        for row in rows:
            if row["h"].value in others:
                kept.add(ox.Triple(row["s"], row["p"], row["o"]))
    return kept


def change(store: TrackStore, leaving: Iterable[str], entering: Iterable[str],
           between: str = "", others: set[str] | None = None) -> str:
    """SPARQL update operations moving the view from the `leaving` sources to the `entering`
    ones: deletions first, then `between` (e.g. MOVEs of staged graphs, the catalog update),
    then insertions from the entering graphs as named after `between`. `others`: the sources
    that stay (default: every current source not leaving)."""
    leaving = [g for g in leaving if store.ox.contains_named_graph(ox.NamedNode(g))]
    entering = list(entering)
    if others is None:
        others = sources(store) - set(leaving) - set(entering)
    ops = [f"DELETE {{ ?s ?p ?o }} WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}" for g in leaving]
    kept = held_elsewhere(store, leaving, others) if leaving else set()
    if kept:
        ops.append("INSERT DATA { " + " ".join(f"{t} ." for t in kept) + " }")
    if between.strip():
        ops.append(between)
    ops.extend(f"INSERT {{ ?s ?p ?o }} WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}" for g in entering)
    return " ;\n".join(ops)


def pending(store: TrackStore, leaving: Iterable[str], entering: Iterable[str]) -> str:
    """A SPARQL update operation noting a view change for `settle`, to go in the catalog
    update that causes it ('' when nothing changes)."""
    notes = [f"<{store.catalog}> <{VIEW_REMOVES}> <{g}> ." for g in leaving]
    notes += [f"<{store.catalog}> <{VIEW_ADDS}> <{g}> ." for g in entering]
    return f"INSERT DATA {{ GRAPH <{store.catalog}> {{ {' '.join(notes)} }} }}" if notes else ""


def unsettled(store: TrackStore) -> tuple[list[str], list[str]]:
    """The sources a noted view change still has to remove from and add to the view."""
    rows = store.ox.query(
        f"SELECT ?p ?g WHERE {{ GRAPH <{store.catalog}> {{ <{store.catalog}> ?p ?g "
        f"VALUES ?p {{ <{VIEW_REMOVES}> <{VIEW_ADDS}> }} }} }}")
    found: dict[str, list[str]] = {VIEW_REMOVES: [], VIEW_ADDS: []}
    for row in rows:
        found[row["p"].value].append(row["g"].value)
    return sorted(found[VIEW_REMOVES]), sorted(found[VIEW_ADDS])


def settle(store: TrackStore, copies: Mapping[str, ViewCopy] | None = None) -> int:
    """Apply the noted view changes in bounded steps, then drop the notes; returns how many
    sources were settled (0: nothing was pending). An entering source with a copy in `copies`
    (kept while it was written) is added from that copy, else from Oxigraph's dump of it; a
    copy named for several sources is added once."""
    removing, adding = unsettled(store)
    if not removing and not adding:
        return 0
    others = sources(store)
    for graph in removing:
        _remove_unheld(store, graph, others, likely=adding)
    added: list[ViewCopy] = []
    for graph in adding:
        copy = (copies or {}).get(graph)
        if copy is None:
            bulk_add(store, graph)
        elif copy not in added:
            copy.add_to_view(store)
            added.append(copy)
    wait_for_writes(store)
    store.ox.update(f"DELETE WHERE {{ GRAPH <{store.catalog}> {{ <{store.catalog}> "
                    f"<{VIEW_REMOVES}> ?r }} }} ; DELETE WHERE {{ GRAPH <{store.catalog}> "
                    f"{{ <{store.catalog}> <{VIEW_ADDS}> ?a }} }}")
    return len(removing) + len(adding)


def _remove_unheld(store: TrackStore, graph: str, others: set[str],
                   likely: Iterable[str] = ()) -> None:
    """Delete from the view the triples of `graph` that no source in `others` holds, in
    flushed transactions of REMOVE_BATCH triples (blank-node triples, which DELETE DATA
    cannot name, one by one).

    The triples one of the `likely` holders holds (the sources entering in the same change:
    a new version holds most of what its predecessor held) are skipped inside Oxigraph, by
    one query; only the others are looked up against every source, one by one (a 300k-triple
    version 90 % shared with its successor: 5.3 s of CPU instead of 15.7).

    A graph with a record (records.py) is read from it instead, and its triples are looked
    up in the `likely` holders one by one (`_unheld_in_record`)."""
    node = ox.NamedNode(graph)
    holding = sorted(set(likely) & others)
    holders = " ".join(f"<{g}>" for g in holding)
    recorded = records.path_of(store, graph)
    if recorded is not None:
        triples: Iterator[ox.Triple] = _unheld_in_record(store, recorded, holding)
    elif holders:
        rows = store.ox.query(
            f"SELECT ?s ?p ?o WHERE {{ GRAPH {node} {{ ?s ?p ?o }} FILTER NOT EXISTS {{ "
            f"VALUES ?h {{ {holders} }} GRAPH ?h {{ ?s ?p ?o }} }} }}")
        triples = (ox.Triple(r[0], r[1], r[2]) for r in rows)
    else:
        triples = (q.triple for q in store.ox.quads_for_pattern(None, None, None, node))
    while chunk := list(islice(triples, REMOVE_BATCH)):
        remove_unheld(store, chunk, others)


def remove_unheld(store: TrackStore, triples: list[ox.Triple], others: set[str]) -> None:
    """Delete from the view those of `triples` that no source in `others` holds, in one
    flushed transaction (blank-node triples, which DELETE DATA cannot name, one by one)."""
    gone = [t for t in triples
            if not any(isinstance(h.graph_name, ox.NamedNode) and h.graph_name.value in others
                       for h in store.ox.quads_for_pattern(t.subject, t.predicate, t.object,
                                                           None))]
    delete_triples(store.ox, gone)
    store.ox.flush()


def _unheld_in_record(store: TrackStore, path: Path, likely: list[str]) -> Iterator[ox.Triple]:
    """The triples of a record that none of the `likely` holders holds, each looked up in
    them (a point lookup per holder, the last one that held a triple first): cheaper than
    Oxigraph's query over the graph (the removal of a 20k-track version superseded by a
    version 90 % the same: 29.8 s of CPU instead of 44.7; bench/results/records.md). Blank
    nodes keep their labels (the store's), so their triples are looked up too."""
    holders = [ox.NamedNode(g) for g in likely]
    for block in records.blocks(path):
        for quad in ox.parse(block, format=ox.RdfFormat.N_TRIPLES, lenient=True):
            for at, holder in enumerate(holders):
                if ox.Quad(quad.subject, quad.predicate, quad.object, holder) in store.ox:
                    if at:
                        holders.insert(0, holders.pop(at))
                    break
            else:
                yield quad.triple


def add_lines(store: TrackStore, lines: list[str]) -> None:
    """Add N-Triples lines (already added to their source graph) to the view."""
    if lines:
        store.ox.load("".join(lines).encode(), format=ox.RdfFormat.N_TRIPLES,
                      to_graph=ox.DefaultGraph())


def remove_lines(store: TrackStore, graph: str, lines: list[str]) -> None:
    """Remove N-Triples lines that `graph` (a source) no longer holds from the view, unless
    another source holds them. Called before they leave `graph`, so a crash in between leaves
    them in the source and out of the view, which a full refresh repairs."""
    if not lines:
        return
    others = sources(store) - {graph}
    for start in range(0, len(lines), 10_000):
        batch = lines[start:start + 10_000]
        triples = [q.triple for q in ox.parse("".join(batch).encode(),
                                              format=ox.RdfFormat.N_TRIPLES)]
        gone = [t for t in triples
                if not any(q.graph_name.value in others for q in store.ox.quads_for_pattern(
                    t.subject, t.predicate, t.object, None)
                    if isinstance(q.graph_name, ox.NamedNode))]
        if gone:
            store.ox.update("DELETE DATA { " + " ".join(f"{t} ." for t in gone) + " }")


def rebuild(store: TrackStore) -> int:
    """Add every source's triples to the default graph (bulk), for a migrated or repaired
    store; returns the number of triples in the view. Nothing is removed."""
    for graph in sorted(sources(store)):
        bulk_add(store, graph)
    return size(store)


class ViewCopy:
    """The triples of a version graph as they are written, spooled as N-Triples to two unnamed
    temporary files (in TMPDIR, gone when closed or with the process), so that the settle adds
    them to the view from there instead of reading the graph back (Oxigraph's dump of a graph
    costs about as much CPU as writing it again).

    `split` takes each chunk before it goes into the graph: its lines without a blank node go
    to the graph through the bulk loader as before, and to the first file; the lines with one
    (list cells, a few per cent) are returned as triples whose blank nodes are named by a token
    of this copy plus their label (unique in the store), for the graph's `bulk_extend`, and
    written so named to the second file. The copy then holds the very triples of the graph,
    blank nodes included; `add_to_view` loads the first file with the bulk loader, in calls
    of ADD_BLOCK bytes, and the second with `bulk_extend` (which keeps blank node names)."""

    def __init__(self, named: IO[bytes], blank: IO[bytes]) -> None:
        self.named = named
        self.blank = blank
        self.token = "b" + uuid.uuid4().hex  # a letter first: RDF/XML's rdf:nodeID is an NCName

    @classmethod
    @contextmanager
    def spooled(cls) -> Iterator[ViewCopy]:
        """A copy spooled to unnamed temporary files, closed (and so gone) on leaving."""
        with tempfile.TemporaryFile(prefix="fairtracks-ld-view-") as named, \
                tempfile.TemporaryFile(prefix="fairtracks-ld-view-blank-") as blank:
            yield cls(named, blank)

    def split(self, ntriples: bytes, keep: bool = True) -> tuple[bytes, list[ox.Triple], bytes]:
        """The chunk's lines without a blank node, and its triples with one (renamed), as
        objects and as N-Triples (what the graph's record keeps); the first are copied only
        when `keep` (a version stored once is written into the view itself)."""
        named, blank = split_blank(ntriples)
        if keep:
            self.named.write(named)
        if not blank:
            return named, [], b""
        triples = [ox.Triple(self._node(q.subject), q.predicate, self._node(q.object))
                   for q in ox.parse(b"".join(blank), format=ox.RdfFormat.N_TRIPLES,
                                     lenient=True)]
        renamed = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
        self.blank.write(renamed)
        return named, triples, renamed

    def _node(self, term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
              ) -> ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple:
        return ox.BlankNode(self.token + term.value) if isinstance(term, ox.BlankNode) else term

    def add_to_view(self, store: TrackStore) -> None:
        """Add the copied triples to the default graph."""
        for file in (self.named, self.blank):
            file.flush()
            file.seek(0)
        total = self.named.seek(0, os.SEEK_END)
        self.named.seek(0)
        calls = -(-total // GATHER)  # as few calls as GATHER allows, of even size
        _load_blocks(store, self.named, _load_named,  # no blank node: no split needed
                     size=-(-total // calls) if calls else ADD_BLOCK)
        quads = ox.parse(self.blank, format=ox.RdfFormat.N_TRIPLES, lenient=True)
        while batch := list(islice(quads, BLANK_BATCH)):
            store.ox.bulk_extend(batch)  # N-Triples parse into the default graph


def bulk_add(store: TrackStore, graph: str) -> None:
    """Add a source's triples to the default graph with the bulk loader (no transaction).

    Oxigraph dumps the graph as N-Triples into a pipe (a thread) and the bulk loader reads it
    back in calls of ADD_BLOCK bytes cut at line ends: no Python object per triple, no file on
    disk, and memory bounded whatever the source's size (one bulk call of a 200k-track version
    peaked at ~1.7 GB). A failure (e.g. a full disk) leaves part of the copy, which a new
    `settle` completes (adding a triple twice changes nothing)."""
    node = ox.NamedNode(graph)
    if not store.ox.contains_named_graph(node):
        return
    read_end, write_end = os.pipe()
    failed: list[BaseException] = []

    def dump() -> None:
        try:
            with open(write_end, "wb") as out:
                store.ox.dump(out, ox.RdfFormat.N_TRIPLES, from_graph=node)
        except BrokenPipeError:  # the reader stopped on an error of its own, raised there
            pass
        except BaseException as error:  # raised by the reading thread, below
            failed.append(error)

    writer = threading.Thread(target=dump, name=f"dump {graph}", daemon=True)
    writer.start()
    try:
        with open(read_end, "rb") as source:
            _load_blocks(store, source)
    finally:
        writer.join()
    if failed:
        raise failed[0]


def _load_blocks(store: TrackStore, source: IO[bytes],
                 load: Callable[[TrackStore, bytes], None] | None = None,
                 size: int = ADD_BLOCK) -> None:
    """Bulk-load N-Triples read from `source` into the default graph, `size` bytes (cut at
    line ends) a call, each by `load` (default `_load_view`)."""
    load = load or _load_view
    for block in records.cut(source, size):  # N-Triples: one triple a line
        load(store, block)


def _load_named(store: TrackStore, ntriples: bytes) -> None:
    """Bulk-load N-Triples lines that hold no blank node into the default graph."""
    store.ox.bulk_load(ntriples, format=ox.RdfFormat.N_TRIPLES, lenient=True,
                       to_graph=ox.DefaultGraph())
    checkpoint("view-adding")  # a kill here leaves part of the copy, which settle completes


def _load_view(store: TrackStore, ntriples: bytes) -> None:
    """Bulk-load N-Triples lines into the default graph. Oxigraph's loaders give blank nodes
    fresh ids, so the lines with one (a few per cent) go through `ox.parse`, which keeps
    them, and `bulk_extend`: the view must hold the very blank nodes of its source."""
    named, blank = split_blank(ntriples)
    if named:
        store.ox.bulk_load(named, format=ox.RdfFormat.N_TRIPLES, lenient=True,
                           to_graph=ox.DefaultGraph())
    if blank:
        store.ox.bulk_extend(ox.parse(b"".join(blank), format=ox.RdfFormat.N_TRIPLES,
                                      lenient=True))
    checkpoint("view-adding")  # a kill here leaves part of the copy, which settle completes


def split_blank(ntriples: bytes) -> tuple[bytes, list[bytes]]:
    """N-Triples lines (as Oxigraph writes them) without and with a blank node: a line whose
    subject is one starts with `_:`, one whose object is one ends with ` _:id .`; only lines
    holding `_:` are looked at."""
    kept, blank, start = [], [], 0
    at = ntriples.find(b"_:")
    while at >= 0:
        begin = ntriples.rfind(b"\n", 0, at) + 1
        end = ntriples.find(b"\n", at) + 1 or len(ntriples)
        line = ntriples[begin:end]
        if line.startswith(b"_:") or BLANK_OBJECT.search(line):
            kept.append(ntriples[start:begin])
            blank.append(line)
            start = end
        at = ntriples.find(b"_:", end)
    kept.append(ntriples[start:])
    return b"".join(kept), blank


def size(store: TrackStore) -> int:
    """Triples in the view (the default graph)."""
    return int(next(iter(store.ox.query("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")))["n"].value)


def stale(store: TrackStore) -> int:
    """Triples some source holds that the view lacks (0 when it is whole)."""
    missing = 0
    for graph in sources(store):
        node = ox.NamedNode(graph)
        rows = store.ox.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH {node} {{ ?s ?p ?o }} "
                              "FILTER NOT EXISTS { ?s ?p ?o } }")
        missing += int(next(iter(rows))["n"].value)
    return missing


def marked(store: TrackStore) -> bool:
    """Whether the catalog records this layout."""
    return bool(store.ox.query(
        f"ASK {{ GRAPH <{store.catalog}> {{ <{store.catalog}> <{FT}layout> "
        f"{ox.Literal(LAYOUT)} }} }}"))


def needs_migration(store: TrackStore) -> bool:
    """Whether the store predates this layout and holds something to migrate: a catalog without
    ft:layout naming versions or ontologies (its view was a list of graphs, the default graph
    held only what SPARQL Update wrote there), or the stored ancestor links of an earlier
    fairtracks-ld (see `links_outdated`)."""
    return (not marked(store) and bool(store.ox.query(
        f"ASK {{ GRAPH <{store.catalog}> {{ ?g a ?kind VALUES ?kind {{ <{FT}DocumentVersion> "
        f"<{FT}OntologyGraph> }} }} }}"))) or links_outdated(store)


def links_outdated(store: TrackStore) -> bool:
    """Whether the store has the stored ancestor links of an earlier layout (a companion graph
    per version): the closure's catalog record lacks ft:link_layout "closure"."""
    closure = store.base + CLOSURE_PATH
    return bool(store.ox.query(
        f"ASK {{ GRAPH <{store.catalog}> {{ <{closure}> a <{FT}InferredGraph> "
        f"FILTER NOT EXISTS {{ <{closure}> <{FT}link_layout> {ox.Literal(LINK_LAYOUT)} }} }} }}"))


def migrate(store: TrackStore) -> int:
    """Bring a store of an earlier layout to this one: its view is added to the default graph
    (what SPARQL Update wrote there stays, as before, part of the view), then the catalog
    records the layout, last, so an interrupted migration is run again. Stored ancestor links
    are dropped by whoever opens the store for writing (writing.open_store): reasoning builds
    on this module. Returns the view's triple count."""
    if not marked(store):
        rebuild(store)
        store.ox.update(
            f"INSERT DATA {{ GRAPH <{store.catalog}> {{ <{store.catalog}> <{FT}layout> "
            f"{ox.Literal(LAYOUT)} }} }}")
    store.ox.flush()
    return size(store)
