"""One facet index per server process, for the current snapshot: when a load publishes a new
snapshot, the next index is made from the previous one and the new versions' segments (made by
the writer, or by the first process needing them, in `<store>.snapshots/search-segments/`);
the first is built in the background at start."""

from __future__ import annotations

import threading
from contextlib import suppress

from fairtracks_ld.search.index import FacetIndex, build_index
from fairtracks_ld.search.segments import folder_of
from fairtracks_ld.store.snapshots import SnapshotReader


class IndexHolder:
    """The index of the snapshot a reader currently opens."""

    def __init__(self, reader: SnapshotReader) -> None:
        self.reader = reader
        self.folder = folder_of(reader.store_path)
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
                self._index = build_index(store, key, self.folder, self._index)
            return self._index

    def warm(self) -> None:
        """Build the current snapshot's index in a background thread."""
        def build() -> None:
            with suppress(OSError, RuntimeError, FileNotFoundError):
                self.get()

        threading.Thread(target=build, name="search-index", daemon=True).start()
