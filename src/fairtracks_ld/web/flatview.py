"""A one-graph copy of a snapshot's current view, built once per snapshot, for fast queries.

The current view is a list of graphs (one per current document version, its inferred companion,
each ontology, the class closure). Oxigraph evaluates joins over such a list far more slowly than
over a plain default graph: on 100k tracks, a two-pattern join takes seconds instead of tens of
milliseconds. A snapshot never changes, so the server copies its view once into
`<snapshot>.view/`, every view graph's triples in the default graph (blank nodes keep their
labels), and answers the queries that do not name graphs (no GRAPH or FROM, no
default-graph-uri or named-graph-uri) from the copy; the copy holds each triple once (the RDF
merge of the view's graphs). Until a copy is complete, queries
run on the snapshot as before.

The copy is built by a separate process (`python -m fairtracks_ld.web.flatview SNAPSHOT`, errors
in `<snapshot>.view.log`), one per snapshot across all server processes (a file lock), into a
temporary folder renamed into place when complete. Copies of snapshots that are no longer
current are removed after the same grace period as snapshots. It costs disk (about the store's
size) and, per load, work in the background: the first copy is built from scratch (about 10
minutes for 100k tracks on 2 cores); later ones are the previous copy brought up to date with
what changed between the two snapshots (see `_update`), in time proportional to the change.
Each copy records the state it mirrors in `<snapshot>.view.state.json`.
`FAIRTRACKS_LD_FLAT_VIEW=0` turns the copies off.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox

from fairtracks_ld import reasoning
from fairtracks_ld.store import PREFIXES, TrackStore
from fairtracks_ld.web.query_text import names_graphs

SUFFIX = ".view"
STATE = ".state.json"
WHOLE = ""  # the state's key for what can change every graph at once


def flat_path(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + SUFFIX)


def answerable(query: str) -> bool:
    """Whether a query can run on the copy: it names no graphs (no GRAPH, no FROM)."""
    return not names_graphs(query)


class FlatViews:
    """Per process: the copy of the current snapshot's view once it exists; asks for it once."""

    def __init__(self) -> None:
        self._snapshot: Path | None = None
        self._store: ox.Store | None = None
        self._requested: set[Path] = set()
        self._builders: list[subprocess.Popen] = []

    def get(self, snapshot: Path) -> ox.Store | None:
        """The copy of `snapshot`'s view, or None while it is being built."""
        self._builders = [b for b in self._builders if b.poll() is None]  # reap finished ones
        if snapshot == self._snapshot:
            return self._store
        flat = flat_path(snapshot)
        if flat.is_dir():
            self._store = ox.Store.read_only(str(flat))
            self._snapshot = snapshot
            return self._store
        if snapshot not in self._requested:
            self._requested.add(snapshot)
            try:
                log = open(snapshot.with_name(snapshot.name + SUFFIX + ".log"), "ab")  # noqa: SIM115
            except OSError:  # a read-only snapshot folder: queries run on the snapshot
                return None
            with log:
                self._builders.append(subprocess.Popen(  # its own session: outlives a killed
                    [sys.executable, "-m", "fairtracks_ld.web.flatview",  # query worker
                     str(snapshot.absolute())],
                    stdout=log, stderr=log, start_new_session=True))
        return None


def view_state(store: TrackStore) -> dict[str, str]:
    """What the content of each view graph is stamped with in the catalog (its load time; a
    companion shares its version's), and under WHOLE a digest of what may rewrite any graph:
    the closure's record (ontology digest, reasoner, time) and the catalog's dcterms:modified,
    which a SPARQL Update sets."""
    rows = store.ox.query(
        f"""SELECT ?g ?at WHERE {{ GRAPH <{store.catalog}> {{
              {{ ?doc ft:current_version ?g . ?g prov:generatedAtTime ?at }}
              UNION {{ ?g a ft:OntologyGraph ; prov:generatedAtTime ?at }} }} }}""",
        prefixes=PREFIXES)
    ontologies = {o.graph for o in store.ontologies()}
    state: dict[str, str] = {}
    for row in rows:
        state[row["g"].value] = row["at"].value
        if row["g"].value not in ontologies:
            state[reasoning.inferred_graph(row["g"].value)] = row["at"].value
    whole = sorted(str(q.triple) for node in (store.catalog, reasoning.closure_graph(store))
                   for q in store.ox.quads_for_pattern(ox.NamedNode(node), None, None,
                                                       ox.NamedNode(store.catalog)))
    state[WHOLE] = hashlib.sha256("\n".join(whole).encode()).hexdigest()
    return state


def state_path(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + SUFFIX + STATE)


def build(snapshot: Path) -> Path | None:
    """Build the copy of a snapshot's view; None if another process is building it.

    From the newest earlier copy when there is one of the same closure (see `_update`), else
    from scratch."""
    flat = flat_path(snapshot)
    with open(snapshot.with_name(snapshot.name + SUFFIX + ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        if flat.is_dir():
            return flat
        temporary = snapshot.with_name(snapshot.name + SUFFIX + ".tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        try:
            source = TrackStore(snapshot, read_only=True)
            state = view_state(source)
            previous = _previous_copy(snapshot, state[WHOLE])
            updated = False
            if previous is not None:
                try:
                    _update(previous, source, state, temporary)
                    updated = True
                except (OSError, RuntimeError):  # e.g. its snapshot was pruned meanwhile
                    shutil.rmtree(temporary, ignore_errors=True)
            if not updated:
                _copy(source, temporary)
            del source
            state_path(snapshot).write_text(json.dumps(state))
            os.replace(temporary, flat)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
    prune(snapshot.parent)
    return flat


def _copy(source: TrackStore, target_path: Path) -> None:
    """The whole view, every graph's triples bulk-written into the default graph of a new store.

    Quads are passed as Oxigraph terms, not through a serialisation: a parser would give blank
    nodes fresh labels, and `_update` finds the copy's blank nodes by the snapshot's labels."""
    target = ox.Store(str(target_path))
    for graph in source.default_graphs():
        target.bulk_extend(_triples(source.ox, graph))
    target.optimize()  # compacted: joins several times faster than as bulk-loaded
    del target


def _triples(store: ox.Store, graph: ox.NamedNode | ox.DefaultGraph) -> Iterator[ox.Quad]:
    """A graph's triples as quads of the default graph."""
    for quad in store.quads_for_pattern(None, None, None, graph):
        yield ox.Quad(quad.subject, quad.predicate, quad.object)


def _previous_copy(snapshot: Path, whole: str) -> tuple[Path, dict[str, str]] | None:
    """The newest earlier snapshot whose copy is complete, still has its snapshot, and mirrors
    the same closure; with the state that copy mirrors."""
    earlier = sorted((p for p in snapshot.parent.iterdir() if p.name.isdigit() and p.is_dir()
                      and int(p.name) < int(snapshot.name)), key=lambda p: int(p.name))
    for candidate in reversed(earlier):
        if flat_path(candidate).is_dir() and state_path(candidate).is_file():
            state = json.loads(state_path(candidate).read_text())
            return (candidate, state) if state.get(WHOLE) == whole else None
    return None


def _update(previous: tuple[Path, dict[str, str]], source: TrackStore, state: dict[str, str],
            target_path: Path) -> None:
    """The previous copy (an Oxigraph backup: hard links) brought up to this snapshot's view.

    Graphs whose stamp changed or that left the view (read from the previous snapshot) give the
    triples that may leave the copy; graphs whose stamp changed or that joined give those that
    enter it. A new version of a document shares most triples with the old one: only the
    difference is written, and a leaving triple stays if another graph of the new view still
    holds it (the copy is an RDF merge). Blank nodes keep their identity: snapshots are backups
    of one store and copies reuse their labels.
    """
    old_snapshot, old_state = previous
    ox.Store.read_only(str(flat_path(old_snapshot))).backup(str(target_path))
    target = ox.Store(str(target_path))
    old = ox.Store.read_only(str(old_snapshot))
    leaving = _graph_triples(old, [g for g, stamp in old_state.items()
                                   if g != WHOLE and state.get(g) != stamp])
    entering = _graph_triples(source.ox, [g for g, stamp in state.items()
                                          if g != WHOLE and old_state.get(g) != stamp])
    view = frozenset(source.default_graphs())
    gone = [t for t in leaving - entering if not any(
        q.graph_name in view for q in source.ox.quads_for_pattern(t.subject, t.predicate,
                                                                   t.object, None))]
    _remove(target, gone)
    target.bulk_extend(ox.Quad(t.subject, t.predicate, t.object) for t in entering - leaving)
    target.flush()
    del target


def _graph_triples(store: ox.Store, graphs: list[str]) -> set[ox.Triple]:
    return {q.triple for g in graphs
            for q in store.quads_for_pattern(None, None, None, ox.NamedNode(g))}


def _remove(target: ox.Store, triples: list[ox.Triple], batch: int = 10_000) -> None:
    """Delete triples from the copy's default graph: ground ones by DELETE DATA in batches (one
    transaction each), those with blank nodes (which DELETE DATA cannot name) one by one."""
    ground = [t for t in triples
              if not isinstance(t.subject, ox.BlankNode) and not isinstance(t.object, ox.BlankNode)]
    for start in range(0, len(ground), batch):
        target.update("DELETE DATA { " + " ".join(
            f"{t} ." for t in ground[start:start + batch]) + " }")
    for t in triples:
        if isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode):
            target.remove(ox.Quad(t.subject, t.predicate, t.object))


def prune(folder: Path) -> None:
    """Remove copies (and their leftovers) of snapshots that are gone or no longer current
    and untouched for the grace period, as snapshots themselves are pruned."""
    from fairtracks_ld.snapshots import CURRENT, GRACE_SECONDS

    try:
        current = os.readlink(folder / CURRENT)
    except OSError:
        return
    now = time.time()
    for path in folder.iterdir():
        name, suffix, _ = path.name.partition(SUFFIX)
        if not suffix or not name.isdigit() or name == current:
            continue
        if (folder / name).is_dir() and now - path.stat().st_mtime < GRACE_SECONDS:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    build(Path(sys.argv[1]))
