"""Disk use of a store by part, for `stats`: the store, its records (records.py: a folder inside
the store's, counted apart), its snapshots, the search segments, the API's exports
(search/exports.py), the rest (leftovers such as the view copies an earlier layout kept beside
snapshots).

Snapshots are Oxigraph backups made of hard links to the store's immutable files, so a file is
counted once, in the first part that holds it (the store first): a snapshot costs only the files
the store has since replaced.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from fairtracks_ld.store import records
from fairtracks_ld.store.snapshots import snapshot_dir

SEGMENTS = "search-segments"
EXPORTS = "exports"  # search.exports.FOLDER


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for folder, _, names in os.walk(root):
        for name in names:
            yield Path(folder, name)


def footprint(*roots: Path) -> int:
    """Bytes on disk of the files under `roots` (folders or files), each file counted once
    however many hard links name it: what a store and its snapshots take together."""
    return _bytes(roots, set())


def _bytes(roots: Iterable[Path], seen: set[tuple[int, int]]) -> int:
    """Bytes of the files under `roots` not in `seen` (device, inode), which it extends."""
    total = 0
    for root in roots:
        for path in _files(root):
            try:
                info = path.lstat()
            except FileNotFoundError:  # removed meanwhile (a pruned snapshot)
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


def usage(store_path: Path) -> dict[str, int]:
    """Bytes per part (each file counted once), and their total."""
    snapshots = snapshot_dir(store_path)
    parts: dict[str, list[Path]] = {"store": [store_path], "records": [records.folder(store_path)],
                                    "snapshots": [], "search_segments": [], "exports": [],
                                    "other": []}
    if snapshots.is_dir():
        for entry in snapshots.iterdir():
            if entry.name.isdigit() and entry.is_dir() and not entry.is_symlink():
                parts["snapshots"].append(entry)
            elif entry.name == SEGMENTS:
                parts["search_segments"].append(entry)
            elif entry.name == EXPORTS:
                parts["exports"].append(entry)
            elif not entry.is_symlink():
                parts["other"].append(entry)
    seen: set[tuple[int, int]] = set()
    kept = _bytes(parts["records"], seen)  # before the store, whose folder holds them
    sizes = {part: kept if part == "records" else _bytes(roots, seen)
             for part, roots in parts.items()}
    sizes["total"] = sum(sizes.values())
    return sizes
