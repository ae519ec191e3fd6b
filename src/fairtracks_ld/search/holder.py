"""One facet index per server process, for the current snapshot: rebuilt when a load publishes
a new snapshot (only the new version graphs are read; segments are shared on disk with the other
processes in `<store>.snapshots/search-segments/`), first built in the background at start."""

from __future__ import annotations

import threading
from contextlib import suppress

from fairtracks_ld.search.index import FacetIndex, build_index
from fairtracks_ld.store.snapshots import SnapshotReader, snapshot_dir


class IndexHolder:
    """The index of the snapshot a reader currently opens."""

    def __init__(self, reader: SnapshotReader) -> None:
        self.reader = reader
        self.folder = snapshot_dir(reader.store_path) / "search-segments"
        self._index: FacetIndex | None = None
        self._lock = threading.Lock()

    def get(self) -> FacetIndex:
        store = self.reader.store()
        key = str(store.path)
        index = self._index
        if index is not None and index.snapshot == key:
            return index
        with self._lock:
            if self._index is None or self._index.snapshot != key:
                self._index = build_index(store, key, self.folder)
            return self._index

    def warm(self) -> None:
        """Build the current snapshot's index in a background thread."""
        def build() -> None:
            with suppress(OSError, RuntimeError, FileNotFoundError):
                self.get()

        threading.Thread(target=build, name="search-index", daemon=True).start()
