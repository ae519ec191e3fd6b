"""A one-graph copy of a snapshot's current view, built once per snapshot, for fast queries.

The current view is a list of graphs (one per current document version, its inferred companion,
each ontology, the class closure). Oxigraph evaluates joins over such a list far more slowly than
over a plain default graph: on 100k tracks, a two-pattern join takes seconds instead of tens of
milliseconds. A snapshot never changes, so the server copies its view once into
`<snapshot>.view/`, every view graph's triples in the default graph, written as one N-Triples
stream (blank nodes keep their identity across graphs), and answers the queries that do not
name graphs (no GRAPH or FROM, no default-graph-uri or named-graph-uri) from the copy; the copy
holds each triple once (the RDF merge of the view's graphs). Until a copy is complete, queries
run on the snapshot as before.

The copy is built by a separate process (`python -m fairtracks_ld.web.flatview SNAPSHOT`, errors
in `<snapshot>.view.log`), one per snapshot across all server processes (a file lock), into a
temporary folder renamed into place when complete. Copies of snapshots that are no longer
current are removed after the same grace period as snapshots. It costs disk (about the store's
size, and the view as N-Triples while building) and, per load, a rebuild in the background
(about 10 minutes for 100k tracks on 2 cores); `FAIRTRACKS_LD_FLAT_VIEW=0` turns it off.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox

from fairtracks_ld.web.query_text import names_graphs

SUFFIX = ".view"


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
            with open(snapshot.with_name(snapshot.name + SUFFIX + ".log"), "ab") as log:
                self._builders.append(subprocess.Popen(  # its own session: outlives a killed
                    [sys.executable, "-m", "fairtracks_ld.web.flatview",  # query worker
                     str(snapshot.absolute())],
                    stdout=log, stderr=log, start_new_session=True))
        return None


def build(snapshot: Path) -> Path | None:
    """Build the copy of a snapshot's view; None if another process is building it."""
    from fairtracks_ld.store import TrackStore

    flat = flat_path(snapshot)
    with open(snapshot.with_name(snapshot.name + SUFFIX + ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        if flat.is_dir():
            return flat
        temporary = snapshot.with_name(snapshot.name + SUFFIX + ".tmp")
        triples = snapshot.with_name(snapshot.name + SUFFIX + ".nt")
        shutil.rmtree(temporary, ignore_errors=True)
        try:
            source = TrackStore(snapshot, read_only=True)
            graphs = [g for g in source.default_graphs()
                      if isinstance(g, ox.DefaultGraph) or source.has_graph(g.value)]
            with open(triples, "wb") as out:
                for graph in graphs:
                    source.ox.dump(out, format=ox.RdfFormat.N_TRIPLES, from_graph=graph)
            del source
            target = ox.Store(str(temporary))
            target.bulk_load(path=str(triples), format=ox.RdfFormat.N_TRIPLES, lenient=True)
            target.optimize()  # compacted: joins several times faster than as bulk-loaded
            del target
            os.replace(temporary, flat)
        finally:
            triples.unlink(missing_ok=True)
            shutil.rmtree(temporary, ignore_errors=True)
    prune(snapshot.parent)
    return flat


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
