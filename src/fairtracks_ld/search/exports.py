"""Exports on disk: each current FAIRtracks version's document as the API serves it
(`mapping.export.export_document` of its graph), one JSON file per (version graph, load time,
format), so a server process answers a new or replaced version by reading a file instead of
exporting the graph (a 20k-track version: ~5 s of CPU from its record, ~13 s from the store's
index), and no process exports a version another already has. The JSON is compressed with zstd
(a generated 20k-track version: 21 MB of JSON; the exports of 1M tracks took 1.05 GB of disk).

The writer makes the exports of the versions it writes (`prepare`, beside the search segments
and with the same bound), so the API's first answer after a load reads them. A bigger version,
or a store written before exports, is exported by the first server process that needs it (the
others wait for its file: `segments.claimed`). Files are written to a temporary name and renamed:
complete or absent. A file is named by what it holds (graph, load time, format), so a withdrawn or
replaced version's export is never what a newer snapshot asks for; files of versions no longer
current are removed after the segments' grace period."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import zstandard

from fairtracks_ld import heap
from fairtracks_ld.mapping.ensembl import MODEL as ENSEMBL  # an Ensembl track: no document
from fairtracks_ld.mapping.export import export_document, unread
from fairtracks_ld.search import segments
from fairtracks_ld.store import TrackStore, VersionInfo, records
from fairtracks_ld.store.snapshots import snapshot_dir

FOLDER = "exports"
EXPORT_VERSION = 1  # raise when mapping.export answers differently
SUFFIX = ".json.zst"
LEVEL = 3  # zstd level, as the records
FORMAT = hashlib.sha256(repr((EXPORT_VERSION,)).encode()).hexdigest()[:16]
Document = dict[str, Any]
# Larger versions are exported by the first server process that needs them. The export holds
# the document in Python objects, ~10 KB a track: at 100k tracks a load's peak RSS went from
# 1.46 GB (its write phase) to 2.50 GB while it exported, over issue 14's 2 GB bound.
WRITER_MOST_TRACKS = 40_000


def folder_of(store_path: Path) -> Path:
    """Where a store's exports are kept: beside its snapshots, for every process reading them."""
    return snapshot_dir(Path(store_path)) / FOLDER


def export_name(graph: str, loaded_at: str) -> str:
    key = f"{FORMAT}\0{graph}\0{loaded_at}"
    return hashlib.sha256(key.encode()).hexdigest()[:32] + SUFFIX


def exported(store: TrackStore, version: VersionInfo) -> Document:
    """The version's document, exported from its graph (read from its record where there is
    one): thousands of dicts and tuples a second, no cycles."""
    with heap.no_cycle_collection():
        return export_document(records.graph_triples(store, version.graph, unread=unread),
                               version.document)


def obtain(store: TrackStore, folder: Path | None, version: VersionInfo) -> Document:
    """A version's document: loaded from `folder`, else exported and saved there (one process
    exports it, the others wait for it and load it); without a folder (a server whose store is
    a SPARQL backend: no shared disk), exported."""
    if folder is None:
        return exported(store, version)
    with segments.claimed(folder, export_name(version.graph, version.loaded_at)):
        found = load(folder, version)
        if found is None:
            found = exported(store, version)
            save(folder, version, found)
        return found


def prepare(store: TrackStore, versions: list[VersionInfo],
            most_tracks: int = WRITER_MOST_TRACKS) -> None:
    """Make the exports of the current FAIRtracks ones of versions just written, before the
    writer publishes them (up to `most_tracks` tracks: the export holds the whole document in
    Python objects while it works), and remove those of versions no longer current."""
    if store.path is None:
        return
    folder = folder_of(Path(store.path))
    for version in versions:
        if (version.current and version.variant != ENSEMBL
                and segments.track_count(store, version.graph, most_tracks + 1) <= most_tracks):
            obtain(store, folder, version)
    prune(folder, {(v.graph, v.loaded_at) for v in store.versions() if v.current})


def save(folder: Path, version: VersionInfo, document: Document) -> bool:
    """Keep an export for the other processes; False when the folder cannot be written."""
    name = export_name(version.graph, version.loaded_at)
    temporary = folder / f".{name}.{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(document, separators=(",", ":")).encode()
        temporary.write_bytes(zstandard.ZstdCompressor(level=LEVEL).compress(text))
        os.replace(temporary, folder / name)
    except OSError:
        temporary.unlink(missing_ok=True)
        return False
    return True


def load(folder: Path, version: VersionInfo) -> Document | None:
    try:
        packed = (folder / export_name(version.graph, version.loaded_at)).read_bytes()
        return json.loads(zstandard.ZstdDecompressor().decompress(packed))
    except (OSError, ValueError, zstandard.ZstdError):  # missing or unreadable: export again
        return None


def prune(folder: Path, keep: set[tuple[str, str]]) -> None:
    """Remove the files of versions no longer current, once no other reader can want them."""
    if folder.is_dir():
        segments.remove_stale(list(folder.iterdir()), {export_name(*key) for key in keep})
