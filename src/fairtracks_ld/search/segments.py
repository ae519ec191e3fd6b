"""Segments on disk, so a server process (or a restart) does not read a graph another process
has read already: reading a million tracks' graphs takes minutes, loading their segments
seconds. One `.npz` file per (version graph, load time, format), written atomically, no pickles.
The format names what the reader reads (the fields and their paths), so after an upgrade that
changes it, segments cached by an older version are read again, not loaded stale.

The writer makes the segments of the versions it writes (`prepare`, called by the load and by
submissions before they publish), so a server loads them and never reads a big graph on a
request. The folder may be read-only (a read-only deployment): segments found there are used,
new ones stay in memory. The locks that let one process read a graph while the others wait live in a
per-user runtime folder ($XDG_RUNTIME_DIR or the temporary folder), never beside the segments."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np

from fairtracks_ld.mapping.annotations import ANNOTATIONS
from fairtracks_ld.mapping.namespaces import FT, RDF_TYPE
from fairtracks_ld.search.fields import FIELDS
from fairtracks_ld.search.reader import Segment, read_segment
from fairtracks_ld.store import TrackStore, VersionInfo, members
from fairtracks_ld.store.snapshots import snapshot_dir

WRITER_MOST_TRACKS = 100_000  # larger versions: segment read by a server (see prepare)
GRACE_SECONDS = 600  # files of graphs no longer current are kept this long for other readers
READER_VERSION = 2  # raise when reader.py reads the same fields differently
FORMAT = hashlib.sha256(repr((READER_VERSION, FIELDS, ANNOTATIONS)).encode()).hexdigest()[:16]


def folder_of(store_path: Path) -> Path:
    """Where a store's segments are kept: beside its snapshots, for every process reading them."""
    return snapshot_dir(Path(store_path)) / "search-segments"


def obtain(store: TrackStore, folder: Path, graph: str, loaded_at: str) -> Segment:
    """A version graph's segment: loaded from `folder`, else read from the graph and saved
    there (one process reads it, the others wait for it and load it)."""
    with claimed(folder, segment_name(graph, loaded_at)):
        found = load(folder, graph, loaded_at)
        if found is None:
            found = read_segment(store, graph)
            save(folder, graph, loaded_at, found)
        return found


def prepare(store: TrackStore, versions: list[VersionInfo],
            most_tracks: int = WRITER_MOST_TRACKS) -> None:
    """Make the segments of the current ones of versions just written, before the writer
    publishes them: reading a big graph takes minutes, which a server's first search would
    otherwise wait for. A version of more than `most_tracks` tracks is left to the first
    server that needs it, as before: read_segment holds ~6 KB of Python objects per track
    while it reads (119 MB at 20k tracks), which at 1M tracks would add gigabytes to a load
    whose memory is otherwise bounded."""
    if store.path is None:
        return
    folder = folder_of(Path(store.path))
    for version in versions:
        if version.current and track_count(store, version.graph, most_tracks + 1) <= most_tracks:
            obtain(store, folder, version.graph, version.loaded_at)


def track_count(store: TrackStore, graph: str, at_most: int) -> int:
    """The tracks of a version graph, counted by Oxigraph up to `at_most` (the caller's
    threshold: a version stored once is counted over the view, a string test a track; handing
    each to Python would decode its IRI, 3.5 s at 100k tracks)."""
    tracks = members.in_graph(store, graph, f"?track <{RDF_TYPE}> <{FT}Track>", "?track")
    rows = store.ox.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT ?track WHERE {{ {tracks} }} "
                          f"LIMIT {at_most} }}")
    return int(next(iter(rows))["n"].value)


def segment_name(graph: str, loaded_at: str) -> str:
    key = f"{FORMAT}\0{graph}\0{loaded_at}"
    return hashlib.sha256(key.encode()).hexdigest()[:32] + ".npz"


def _lock_folder() -> Path:
    root = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(root) / f"fairtracks-ld-{os.getuid()}" / "segment-locks"


@contextmanager
def claimed(folder: Path, name: str) -> Iterator[None]:
    """Hold the file `name` of `folder` (a segment, an export) across processes: the server's
    workers start together, and one reading the graph is enough; the others wait, then load
    what it saved. Without a writable lock folder each process reads for itself."""
    key = hashlib.sha256(f"{folder.resolve()}\0{name}".encode())
    try:
        locks = _lock_folder()
        locks.mkdir(parents=True, exist_ok=True)
        lock = open(locks / (key.hexdigest()[:32] + ".lock"), "w")  # noqa: SIM115
    except OSError:
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _blob(lines: list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(lines).encode(), dtype=np.uint8)


def _lines(blob: np.ndarray, count: int) -> list[str]:
    return blob.tobytes().decode().split("\n") if count else []


def save(folder: Path, graph: str, loaded_at: str, segment: Segment) -> bool:
    """Keep a segment for the other processes; False when the folder cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder, graph, loaded_at, segment)
    except OSError:
        return False
    return True


def _write(folder: Path, graph: str, loaded_at: str, segment: Segment) -> None:
    arrays = {"tracks": _blob(segment.tracks), "text": _blob(segment.text)}
    for name, (column, combos) in segment.combos.items():
        arrays[f"column:{name}"] = column
        arrays[f"combos:{name}"] = np.frombuffer(
            json.dumps([sorted(c) for c in combos]).encode(), dtype=np.uint8)
    temporary = folder / f".{segment_name(graph, loaded_at)}.{os.getpid()}.npz"
    np.savez(temporary, **arrays)
    os.replace(temporary, folder / segment_name(graph, loaded_at))


def load(folder: Path, graph: str, loaded_at: str) -> Segment | None:
    path = folder / segment_name(graph, loaded_at)
    try:
        with np.load(path, allow_pickle=False) as data:
            combos = {}
            for key in data.files:
                if key.startswith("column:"):
                    name = key.removeprefix("column:")
                    listed = json.loads(data[f"combos:{name}"].tobytes().decode())
                    combos[name] = (data[key], [frozenset(c) for c in listed])
            count = len(next(iter(combos.values()))[0]) if combos else 0
            return Segment(_lines(data["tracks"], count), combos, _lines(data["text"], count))
    except (OSError, ValueError, KeyError):  # missing or unreadable: read the graph again
        return None


def prune(folder: Path, keep: set[tuple[str, str]]) -> None:
    """Remove the files of graphs no longer current, once no other reader can want them."""
    remove_stale([*folder.glob("*.npz"), *folder.glob("*.npz.lock")],  # .lock: older versions'
                 {segment_name(*key) for key in keep})


def remove_stale(paths: list[Path], wanted: set[str]) -> None:
    """Remove the files whose name (less a `.lock`) is not `wanted`, once older than the grace
    period (temporary files of a killed write among them)."""
    now = time.time()
    for path in paths:
        with suppress(OSError):  # gone meanwhile, or a read-only folder
            old = now - path.stat().st_mtime > GRACE_SECONDS
            if old and path.name.removesuffix(".lock") not in wanted:
                path.unlink()
