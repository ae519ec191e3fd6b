"""Read-only snapshots of the store, so server processes read while the command line writes.

Opening an Oxigraph store read-only while another process writes it is undefined behaviour, so
readers never open the primary store. After every write command, the writer publishes a snapshot:
an Oxigraph backup (hard links to the immutable files, cheap) in `<store>.snapshots/<n>`, and then
atomically repoints the `current` symlink at it. Readers open the snapshot `current` names,
read-only, and reopen when it changes: a load becomes visible without a restart. After a big
write the snapshot waits for RocksDB's own compactions to finish first (compaction.py), so
readers get a store as fast as a compacted one.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from itertools import pairwise
from pathlib import Path

from fairtracks_ld.faults import checkpoint
from fairtracks_ld.store import TrackStore, compaction, current_view, members, swap

CURRENT = "current"
OLD_VIEW_COPY = ".view"  # `<n>.view/`, `<n>.view.log`, …: view copies of an earlier layout
GRACE_SECONDS = 600  # a replaced snapshot is only removed once no reader can still be opening it


def snapshot_dir(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".snapshots")


def publish(store: TrackStore) -> Path:
    """Snapshot the store and make the snapshot current; returns its folder."""
    if store.path is None:
        raise ValueError("only on-disk stores can publish snapshots")
    members.sweep(store)  # … nor a version stored once that never became visible
    current_view.settle(store)  # a write that failed midway: readers never get a half view
    swap.finish(store)  # … nor half a replaced graph
    folder = snapshot_dir(Path(store.path))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / str(time.time_ns())
    store.ox.flush()
    waited = compaction.wait_for_merges(Path(store.path), current_snapshot(Path(store.path)))
    store.ox.backup(str(target))
    waited.write(target)
    checkpoint("publish")
    link = folder / f".{CURRENT}.{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(target.name)
    os.replace(link, folder / CURRENT)  # atomic: readers see the old or the new snapshot
    _prune(folder, keep=target.name)
    return target


def current_snapshot(store_path: Path) -> Path | None:
    """The snapshot readers should use, or None before the first publish."""
    link = snapshot_dir(store_path) / CURRENT
    try:
        return link.parent / os.readlink(link)
    except FileNotFoundError:
        return None


def collect_old_view_copies(folder: Path) -> int:
    """Remove the one-graph view copies an earlier layout built beside snapshots (the view is
    the default graph now); returns how many entries went."""
    removed = 0
    for entry in folder.iterdir():
        stem, suffix, _ = entry.name.partition(OLD_VIEW_COPY)
        if suffix and stem.isdigit():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
    return removed


def collect_replaced(folder: Path, current: str) -> list[Path]:
    """Remove the snapshots older than `current` that stopped being current over
    GRACE_SECONDS ago; returns them.

    Old snapshots pin the table files the store has compacted away since (11 GB beside a 20 GB
    store after three loads of a million tracks), so none is kept for its own sake. A reader
    that has a snapshot open loses nothing when its folder goes: Oxigraph opens every table
    file of a store when it opens it (tests/test_snapshots.py checks this), and the files live
    on while they are open. The grace covers a reader that read the link just before it
    changed and is still opening the snapshot. A snapshot stopped being current when its
    successor was published: the successor's folder was last written just before that."""
    older = sorted((p for p in folder.iterdir()
                    if p.is_dir() and p.name.isdigit() and int(p.name) < int(current)),
                   key=lambda p: int(p.name))
    now = time.time()
    removed = []
    for old, successor in pairwise([*older, folder / current]):
        if now - successor.stat().st_mtime > GRACE_SECONDS:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def _prune(folder: Path, keep: str) -> None:
    collect_old_view_copies(folder)
    collect_replaced(folder, keep)


def collect(store_path: Path) -> list[Path]:
    """What a publish collects, for a process that outlives the last publish: the writer
    collects only when it publishes, so the snapshot a load's publish replaced (and the one
    before, when the background compaction published right after it) stayed until the next
    write, pinning every table file compacted since. Nothing on a read-only disk."""
    current = current_snapshot(store_path)
    if current is None:
        return []
    try:
        return collect_replaced(current.parent, current.name)
    except OSError:  # a read-only disk, or another process collecting the same folder
        return []


def _collect_later(store_path: Path) -> None:
    """`collect` once the grace has passed for the snapshot current now (a daemon timer)."""
    timer = threading.Timer(GRACE_SECONDS + 1, collect, args=(store_path,))
    timer.daemon = True
    timer.start()


class SnapshotReader:
    """A read-only view that follows the current snapshot (one per server process).

    `collects`: the server's reader also removes the snapshots the current one replaced, once
    no reader can still be opening them (a timer at start and after each switch), so they do
    not outlive the last write."""

    def __init__(self, store_path: Path, collects: bool = False) -> None:
        self.store_path = Path(store_path)
        self._link = str(snapshot_dir(self.store_path) / CURRENT)
        self._opened: str | None = None  # the link's target when `_store` was opened
        self._store: TrackStore | None = None
        self._collects = collects
        if collects:
            _collect_later(self.store_path)

    def store(self) -> TrackStore:
        """The store of the current snapshot, reopened if a newer one was published (one
        readlink per call: it runs on every request)."""
        try:
            target = os.readlink(self._link)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no published snapshot of {self.store_path}; run a load or `fairtracks-ld serve`"
            ) from None
        if target != self._opened or self._store is None:
            if self._collects and self._opened is not None:
                _collect_later(self.store_path)
            self._store = TrackStore(Path(self._link).parent / target, read_only=True)
            self._opened = target
        return self._store
