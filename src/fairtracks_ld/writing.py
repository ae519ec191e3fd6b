"""Writing a document version: the store, its current view and the class closure together.

store.py keeps the graphs and the catalog; current_view.py keeps the view, and reasoning.py the
class closure, on top of it. A document version's write needs all three (its graph, a current
closure, its catalog record and view change, in that order), so it lives here, above them; so
does opening a store for writing, which brings an earlier layout up to date, stored links
included (docs/architecture.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Protocol

import pyoxigraph as ox

from fairtracks_ld import reasoning
from fairtracks_ld.faults import checkpoint
from fairtracks_ld.graph_removal import remove_graph
from fairtracks_ld.mapping.namespaces import PREFIXES
from fairtracks_ld.mapping.prepare import Prepared
from fairtracks_ld.mapping.stream import WholeDocument
from fairtracks_ld.store import (
    Conformance,
    TrackStore,
    VersionInfo,
    VersionRecord,
    current_view,
    members,
    records,
    report_graph,
    reserve,
    swap,
)

Window = Callable[[str, ox.Store], None]  # validates one window (graph, memory store)


class Mapped(Protocol):
    """A document mapped for writing: its header and its triples in chunks of N-Triples
    (loaded into the graph being written)."""

    prepared: Prepared

    def chunks(self) -> Iterator[bytes]: ...


def open_store(path: Path | str, base: str | None = None) -> TrackStore:
    """The store at `path` opened for writing, in this layout: TrackStore migrates an earlier
    view; the stored ancestor links of an earlier layout (companion graphs) are dropped here,
    as reasoning sits above the store. Every writer opens the store this way."""
    store = TrackStore(path, base=base)
    if current_view.links_outdated(store):
        reasoning.drop_companions(store)
    if store.path is not None:
        reserve.ensure(store.path)  # given up when a write fills the disk (reserve.py)
    return store


# A document whose triples (as N-Triples) stay under this size (~27k generated tracks) is also
# written into a memory store while it is written, and validated there: the shapes' ~200
# queries cost about a third of their CPU on the disk store (10k tracks: 1.8 s instead of 5.1 s;
# a 20k-track load 24.6 s of CPU instead of 39.4), for ~0.8 s of copying per 10k tracks. The
# copy holds ~2.3 bytes of memory per byte of text (up to ~450 MB; a 20k-track load peaked at
# 896 MB RSS instead of 813). A larger document is validated in windows of this size: the copy
# is validated when the next chunk would take it past the bound, then refilled with the header
# chunk and the next chunks (`_Mirror`; validation/windows.py makes the windows' report the
# whole document's). Either way it holds the same graph as the store. The windows after the
# first are half that size: they come when the write's own memory has grown with the graph
# (a 1M-track load's write phase rose from ~1.1 to ~2.2 GB RSS with 192 MB windows).
MIRROR_BYTES = 192 << 20


def write_version(store: TrackStore, document: Prepared | Mapped, source: str,
                  bulk: bool = False,
                  check: Callable[[str, ox.Store | None], Conformance | None] | None = None,
                  catalog_extra: str = "", window: Window | None = None,
                  once: bool | None = None) -> VersionInfo:
    """Write one document version; it becomes visible only once all of it is written.

    Stages: (1) the mapped triples are written chunk by chunk into the version
    graph (with Oxigraph's bulk loader when `bulk`, which is several times faster and
    releases the GIL, else one transaction per chunk), invisible until the catalog names
    it, and spooled to temporary files from which the settle adds them to the view
    (`current_view.ViewCopy`), and, when there is a `check` and the document is small
    (`MIRROR_BYTES`), to a memory store, or, given a `window`, to memory stores of that size
    that `window` validates one after another; (2) `check`, when given, validates the written
    graph (in the memory store when there is one, its second argument: the whole graph, or the
    last window after `window` had the others; else in the store) and
    returns its conformance (recorded in the catalog, the W3C report in
    `{graph}/validation-report`), or raises to refuse it; (3) the class closure is brought up
    to date if an ontology change left it behind, and the report is written;
    (4) one catalog update makes them visible, with `catalog_extra` (SPARQL update
    operations, e.g. who submitted it) in the same update. An on-disk store also gets the
    version's record (store/records.py): the graph's N-Triples, as they are written,
    compressed into a file the catalog update names (committed just before it).
    A reload of a catalogued version is written to staging graphs, which the catalog update
    notes as replacing the version's graph and report; they are then swapped in
    (the view too) in bounded steps that the next writer finishes if this one is killed
    (store/swap.py; one update MOVEing them in held the old and the new graphs in memory).
    Before validation in the store and before the catalog update, the writer waits, as a
    step of its own, until RocksDB takes ordinary writes again (`current_view.wait_for_writes`:
    the bulk-loader calls may have left it merging).
    On any failure (or refusal) everything written is removed: the store is as it was. On a
    full disk the store's reserve is given up instead and nothing is removed (that needs disk
    space too): the catalog never named what was written, and the next writer sweeps it.

    A new version of a collection no current version describes is **stored once**
    (`once`, default `stores_once`; store/members.py): its triples go straight into the
    default graph with its member quads, not into a named graph, the catalog update marks it,
    and there is no view change to settle. Noted before its first triple, it is taken back
    from its record's temporary file (synced before each store write) if it fails or is
    killed before its catalog update. A chunk with a subject outside its collection, or a
    validation that needs the graph in the store, gives it its named graph after all
    (`_named_after_all`). A version stored once that a write replaces (its document's next
    version, a reload, another document of its collection) first gets its named graph back
    (`members.restore`), once this one is validated: history keeps named graphs.
    """
    mapped = WholeDocument(document) if isinstance(document, Prepared) else document
    prepared = mapped.prepared
    graph = prepared.graph
    replacing = store.catalogued(graph)  # an uncatalogued graph is a killed load's debris
    if not replacing:
        _drop_uncatalogued(store, graph)
    once = stores_once(store, prepared) if once is None else once
    target = f"{graph}/staging/{uuid.uuid4().hex}" if replacing else graph
    if replacing:
        checkpoint("staging")
    report = report_graph(target)
    kept = _record_writers(store, graph)  # named for the graph, not its staging name
    lines = members.Lines(store, graph, prepared.collection_iri) if once else None
    with current_view.ViewCopy.spooled() as copy:  # what the settle adds to the view
        try:
            if once:  # noted until the catalog update: the view holds what it writes
                members.note_pending(store, graph)
            # (1)
            mirror = _write_chunks(store, mapped, ox.NamedNode(target), copy, bulk,
                                   _Mirror(target, window) if check is not None else None,
                                   kept[graph] if kept else None, lines)
            if lines is not None and (not lines.fits or (check is not None and mirror is None)):
                _named_after_all(store, graph, kept[graph])
                lines = None
            if bulk and check is not None and mirror is None:  # validated in the store
                current_view.wait_for_writes(store)
            # (2)
            conformance = check(target, mirror) if check is not None else None
            mirror = None
            checkpoint("validated")
            # (3)
            reasoning.ensure_current(store)
            if conformance is not None:
                write = store.ox.load if len(conformance.report) < current_view.SMALL_WRITE \
                    else store.ox.bulk_load
                write(conformance.report, format=ox.RdfFormat.TURTLE,
                      to_graph=ox.NamedNode(report))
            for kept_once in members.stored_once_in(store, prepared.collection_iri):
                members.restore(store, kept_once)  # valid: the version it keeps is history
            named = {g: writer.commit() for g, writer in kept.items()}
            replaced = [p for g in named if (p := records.path_of(store, g)) is not None]
            checkpoint("recorded")  # a kill from here on leaves records no catalog names
            current_view.wait_for_writes(store)  # so the catalog update does not wait
            checkpoint("ingested")
            # (4)
            record = VersionRecord.of(prepared, source)
            update = store.catalog_update(record, conformance)
            if named:
                update += " ; " + records.naming(store, named)
            if catalog_extra:
                update += " ; " + catalog_extra
            if replacing:  # after the catalog update, which deletes what it says of `graph`
                update += " ; " + swap.noting(store, _swaps(store, graph, target))
            if lines is not None:  # already in the view: no view change to note
                store.ox.update(update + " ; " + members.mark(store, graph), prefixes=PREFIXES)
            else:
                if once:  # written into the view, then given a named graph after all
                    update += " ; " + members.unnote(store, graph)
                store.ox.update(_view_change(store, record, update), prefixes=PREFIXES)
        except BaseException as error:
            if reserve.is_disk_full(error):
                for writer in kept.values():  # stored once: the sweep reads it back
                    if once:
                        writer.close()
                    else:
                        writer.discard()
                reserve.release(store.path)
                raise
            if once:  # taken back from the view before its record goes
                kept[graph].sync()
                members.unwrite(store, graph, records.unfinished_blocks(store, graph))
            for writer in kept.values():  # records of a write that never became visible
                writer.discard()
            for written in (target, report):
                if store.has_graph(written):
                    remove_graph(store.ox, written)
            raise
        for path in replaced:  # a reload's former records: no catalog names them now
            path.unlink(missing_ok=True)
        checkpoint("view-pending")  # catalogued: from here on, the next writer settles the view
        swap.finish(store)  # a reload's staging graphs replace the version's
        current_view.settle(store, {graph: copy})
    checkpoint("catalog-updated")
    return store.version(graph)


def stores_once(store: TrackStore, prepared: Prepared) -> bool:
    """Whether a new version is written stored once (store/members.py): a FAIRtracks document,
    an on-disk store, and no current version describing its collection."""
    return not store.catalogued(prepared.graph) and members.candidate(
        store, prepared.collection_iri, prepared.model)


def _named_after_all(store: TrackStore, graph: str, record: records.Writer) -> None:
    """A version begun stored once that keeps a named graph after all: the graph is written
    from the record so far (its triples are in the view already, as after a settle) and its
    member quads go; its note stays until its catalog update (a failure takes the view's
    triples back)."""
    record.sync()
    node = ox.NamedNode(graph)
    for block in records.unfinished_blocks(store, graph, current_view.ADD_BLOCK):
        named, blank = current_view.split_blank(block)
        store.ox.bulk_load(named, format=ox.RdfFormat.N_TRIPLES, lenient=True, to_graph=node)
        if blank:  # the labels the view got: the record keeps them
            store.ox.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, node) for t in ox.parse(
                b"".join(blank), format=ox.RdfFormat.N_TRIPLES, lenient=True))
    members.remove_members(store, graph)


def _swaps(store: TrackStore, graph: str, staging: str) -> list[tuple[str, str]]:
    """What a reload replaces (target, staging graph or swap.NOTHING): the version graph and
    its report (a reload without one drops the former)."""
    pairs = [(graph, staging)]
    report, former = report_graph(staging), report_graph(graph)
    if store.has_graph(report):
        pairs.append((former, report))
    elif store.has_graph(former):
        pairs.append((former, swap.NOTHING))
    return pairs


def _record_writers(store: TrackStore, graph: str) -> dict[str, records.Writer]:
    """The records a version write keeps (graph → writer): its graph's, for an on-disk
    store; none in memory."""
    if store.path is None:
        return {}
    return {graph: records.Writer(records.folder(store.path), graph)}


def _write_chunks(store: TrackStore, mapped: Mapped, into: ox.NamedNode,
                  copy: current_view.ViewCopy, bulk: bool,
                  mirror: _Mirror | None = None,
                  record: records.Writer | None = None,
                  once: members.Lines | None = None) -> ox.Store | None:
    """Write the mapped chunks into the graph `into`, keeping a copy for the view (and in
    `record`, with the blank-node labels the graph gets), and into the memory copy `mirror`
    (its store returned: the whole graph or its last window; None once dropped). Lenient: the
    mapping has already checked every IRI it wrote with Oxigraph's rules. A version stored
    `once` is written into the default graph instead, with its member quads, and no copy is
    kept (nothing to settle); its record is synced before each store write.

    With `bulk`, consecutive chunks are gathered into loader calls of up to
    `current_view.GATHER` bytes (a chunk larger than that is one call of its own): each call
    ingests table files of its own, and RocksDB merges them as soon as a column family holds
    two unmerged ones, so fewer, larger calls leave it less to merge (the header's and the
    small arrays' chunks no longer cost a call or a transaction each). The calls run in a
    writer thread, and the memory copy with its windows' validation in a window thread
    (`_Serial`, each one at a time), while this one copies and records the next chunks;
    every call has returned when this does, or raises."""
    target: ox.NamedNode | ox.DefaultGraph = ox.DefaultGraph() if once else into

    def flush(parts: list[bytes]) -> None:
        if record is not None and once is not None:
            record.sync()  # every line the store gets is in the file first
        writes.submit(partial(_load_named, store, parts, None if once else into, bulk))

    blank: list[ox.Quad] = []  # gathered across chunks: a bulk call costs I/O of its own
    pending: list[bytes] = []  # named lines not written yet
    with _Serial("write", background=bulk) as writes, \
            _Serial("window", background=bulk) as copies:
        for chunk in mapped.chunks():  # N-Triples (fairtracks_ld.mapping.stream.FORMAT)
            named, triples, renamed = copy.split(chunk, keep=once is None)
            if record is not None:
                record.write(named)  # each triple once (mapping/emit.py)
                record.write(renamed)
            stored = named
            if once is not None:
                once.fits = once.fits and not triples
                stored += once.of(named)
            blank += [ox.Quad(t.subject, t.predicate, t.object, target) for t in triples]
            if mirror is not None:
                copies.submit(partial(
                    mirror.add, getattr(chunk, "array", None), named,
                    [ox.Quad(t.subject, t.predicate, t.object, into) for t in triples]))
            if bulk and sum(map(len, pending)) + len(stored) > current_view.GATHER:
                flush(pending)
                pending = []
            pending.append(stored)
            if not bulk:  # one transaction a chunk
                flush(pending)
                pending = []
            if len(blank) >= current_view.BLANK_BATCH:
                writes.submit(partial(_extend, store, blank, bulk))
                blank = []
        flush(pending)
        writes.submit(partial(_extend, store, blank, bulk))
    return mirror.store if mirror is not None else None


class _Serial:
    """Steps of one kind (the store writes; the memory copy and its windows) run one at a
    time in a thread of their own (`background`; else at once): the bulk loader and the
    shapes' queries release the GIL, so the caller copies and records the next chunks
    meanwhile, one step ahead at most (memory stays bounded). A step's error is raised by the
    next `submit` or on leaving; leaving waits for the step in flight, also when the caller
    fails (what a failed write takes back must not be written after it)."""

    def __init__(self, kind: str, background: bool) -> None:
        self.executor = ThreadPoolExecutor(1, f"fairtracks-ld-{kind}") if background else None
        self.pending: Future[None] | None = None

    def submit(self, step: Callable[[], None]) -> None:
        self.wait()
        if self.executor is None:
            step()
        else:
            self.pending = self.executor.submit(step)

    def wait(self) -> None:
        """Wait for the step in flight; raise its error."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is None:
                self.wait()
        finally:
            if self.executor is not None:
                self.executor.shutdown(wait=True)  # a failing caller's write, finished first


class _Mirror:
    """The memory copy of the graph being written (`store`, None once dropped): the whole
    graph while it stays under `MIRROR_BYTES` of N-Triples; past that, windows (the first of
    that size, the next of half of it), each handed to `window` when full and refilled with
    the header chunk (the document's own members: the first chunk) and the next chunks. Each
    window holds whole entities (a chunk of an entity array holds whole entities, with the
    document's links to them); a document with members of its own after the header, or
    without a `window`, is not windowed: the copy is dropped and the graph validated in the
    store."""

    def __init__(self, graph: str, window: Window | None) -> None:
        self.graph, self.into, self.window = graph, ox.NamedNode(graph), window
        self.store: ox.Store | None = ox.Store()
        self.size = 0  # bytes of N-Triples in `store`
        self.header: tuple[bytes, list[ox.Quad]] | None = None
        self.entities = False  # whether `store` holds a chunk of an entity array
        self.windows = 0  # windows handed to `window`
        self.windowable = True

    def add(self, array: str | None, named: bytes, quads: list[ox.Quad]) -> None:
        """Copy one chunk (`array`: the entity array it holds items of, None for the
        document's own members)."""
        if self.store is None:
            return
        if self.header is None:
            self.header = (named, quads)
        elif array is None:  # members of the document after the header: not in every window
            self.windowable = False
            if self.windows:
                self.store = None
                return
        bound = MIRROR_BYTES // 2 if self.windows else MIRROR_BYTES
        if self.size + len(named) > bound and self.entities:
            if self.window is None or not self.windowable:
                self.store = None  # too big to hold: validated in the store
                return
            self.window(self.graph, self.store)
            self.windows += 1
            self.store, self.size, self.entities = ox.Store(), 0, False
            self._load(*self.header)
        self._load(named, quads)
        self.entities = self.entities or array is not None

    def _load(self, named: bytes, quads: list[ox.Quad]) -> None:
        assert self.store is not None
        self.store.load(named, format=ox.RdfFormat.N_TRIPLES, lenient=True, to_graph=self.into)
        self.store.extend(quads)  # the very blank nodes of the graph
        self.size += len(named)


def _load_named(store: TrackStore, parts: list[bytes], into: ox.NamedNode | None,
                bulk: bool) -> None:
    """Write N-Triples without blank nodes into `into` (None: N-Quads lines naming their own
    graph, as a version stored once writes its lines and member quads): with the bulk loader
    when `bulk`, unless they are small (`current_view.SMALL_WRITE`), else in one
    transaction."""
    text = b"".join(parts)
    if not text:
        return
    big = bulk and len(text) >= current_view.SMALL_WRITE
    write = store.ox.bulk_load if big else store.ox.load
    if into is None:
        write(text, format=ox.RdfFormat.N_QUADS, lenient=True)
    else:
        write(text, format=ox.RdfFormat.N_TRIPLES, lenient=True, to_graph=into)
    checkpoint("bulk-write")  # a kill here leaves a partly written, invisible graph (or the
    # lines of a version stored once: its note, swept)


def _extend(store: TrackStore, quads: list[ox.Quad], bulk: bool) -> None:
    if quads:
        (store.ox.bulk_extend if bulk else store.ox.extend)(quads)


def _view_change(store: TrackStore, record: VersionRecord, between: str) -> str:
    """The catalog update `between` with the view change it causes: when the version becomes
    current, the document's previous current version leaves the view and the version
    enters it (noted for `current_view.settle`; the same graph reloaded: by its swaps)."""
    rows = list(store.ox.query(
        f"SELECT ?cur ?date WHERE {{ GRAPH <{store.catalog}> {{ <{record.document}> "
        f"ft:current_version ?cur OPTIONAL {{ ?cur ft:doc_date ?date }} }} }}",
        prefixes=PREFIXES))
    current = rows[0]["cur"].value if rows else None
    newer = (rows and current != record.graph and record.doc_date is not None
             and rows[0]["date"] is not None and rows[0]["date"].value > record.doc_date)
    if newer:  # an older version: history only, the view does not change
        return between
    graph = record.graph
    if current == graph:  # the same graph reloaded: its swaps bring the view along
        return between
    leaving = [current] if current else []
    return between + " ;\n" + current_view.pending(store, leaving, [graph])


def _drop_uncatalogued(store: TrackStore, graph: str) -> None:
    """Remove what a killed write of `graph` left (normally swept already)."""
    for leftover in (graph, report_graph(graph)):
        if store.has_graph(leftover):
            remove_graph(store.ox, leftover)
