"""The local_ids seen so far in one entity array of a streamed document, kept compact.

A document of a million tracks needs its local_ids checked for uniqueness while it is read
(the duplicate is refused with both JSON pointers), but a dict of a million strings costs
~180 bytes per entry. Here the latest `RECENT` ids sit in a dict; older ones are folded into a
sorted array of their 64-bit hashes beside an array of positions (16 bytes an id), and their
text is spooled to an unnamed temporary file (its offset, 8 bytes, kept), so that a hash match
is re-checked exactly against the text it stands for: no false duplicate, however unlikely.
"""

from __future__ import annotations

import tempfile
from array import array
from bisect import bisect_left
from heapq import merge
from typing import IO

RECENT = 1 << 14  # ids kept as a dict before they are folded into the sorted arrays


class SeenIds:
    """local_id → position of the item of the array that has it (`get`, `add`)."""

    def __init__(self, recent: int | None = None) -> None:
        self.recent_limit = recent or RECENT
        self.recent: dict[str, int] = {}
        self.hashes = array("q")  # sorted
        self.positions = array("q")  # aligned with `hashes`
        self.offsets = array("q")  # position → start of its id in `spool` (positions 0, 1, …)
        self.spool: IO[bytes] | None = None
        self.size = 0  # bytes written to the spool

    def __len__(self) -> int:
        return len(self.recent) + len(self.hashes)

    def get(self, local_id: str) -> int | None:
        """The position of the item that has `local_id`, or None."""
        found = self.recent.get(local_id)
        if found is not None or not self.hashes:
            return found
        key = hash(local_id)
        at = bisect_left(self.hashes, key)
        while at < len(self.hashes) and self.hashes[at] == key:
            position = self.positions[at]
            if self._text(position) == local_id:
                return position
            at += 1
        return None

    def add(self, local_id: str, position: int) -> None:
        """Note that the item at `position` (the next one of the array) has `local_id`."""
        self.recent[local_id] = position
        if len(self.recent) >= self.recent_limit:
            self._fold()

    def _fold(self) -> None:
        """Move the recent ids into the sorted arrays (one linear merge), their text to the
        spool (in the order of their positions, which follow each other)."""
        if self.spool is None:
            self.spool = tempfile.TemporaryFile(prefix="fairtracks-ld-ids-")  # noqa: SIM115
        self.spool.seek(0, 2)
        for local_id, position in self.recent.items():
            while len(self.offsets) <= position:
                self.offsets.append(self.size)
            data = local_id.encode("utf-8", "surrogatepass")
            self.spool.write(data)
            self.size += len(data)
        folded = sorted((hash(local_id), position) for local_id, position in self.recent.items())
        hashes, positions = array("q"), array("q")
        for key, position in merge(zip(self.hashes, self.positions, strict=True), folded):
            hashes.append(key)
            positions.append(position)
        self.hashes, self.positions = hashes, positions
        self.recent = {}

    def _text(self, position: int) -> str:
        assert self.spool is not None
        start = self.offsets[position]
        end = self.offsets[position + 1] if position + 1 < len(self.offsets) else self.size
        self.spool.flush()
        self.spool.seek(start)
        return self.spool.read(end - start).decode("utf-8", "surrogatepass")

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None
