"""Rendered answers cached per snapshot: a snapshot never changes, so neither do its answers.

Dereferenced resources (in each negotiated format) and DESCRIBE of constant IRIs are kept in
memory per server process, keyed by what determines the answer (route, host, path or query,
negotiated media type), for the current snapshot only: when a newer snapshot is published (a
load, an update), the cache starts empty. Memory is bounded: least recently used answers go first
once their bodies pass `FAIRTRACKS_LD_CACHE_BYTES`. `FAIRTRACKS_LD_CACHE=0` turns it off.

The ETag is the snapshot id plus a digest of the key, known before the answer is rendered, so a
conditional request (`If-None-Match`) is answered 304 without rendering anything. Each cacheable
answer carries `X-Cache: hit` or `miss` (how benchmarks count the hit rate).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

from cachetools import LRUCache

ENTRY_OVERHEAD = 200  # bytes counted per entry besides its body (key, tuple, headers)


class Answer(NamedTuple):
    media: str
    body: bytes
    links: str = ""  # the `Link` header (FAIR Signposting) rendered with the body


def etag_of(snapshot: str, key: Hashable) -> str:
    """The answer's ETag: its snapshot and a digest of its key (stable across processes)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=10).hexdigest()
    return f"{snapshot}-{digest}"


class SnapshotCache:
    """An LRU of rendered answers, by bytes, for the newest snapshot seen."""

    def __init__(self, max_bytes: int, enabled: bool = True) -> None:
        self.enabled = enabled and max_bytes > 0
        self._answers: LRUCache = LRUCache(
            maxsize=max(1, max_bytes), getsizeof=lambda a: len(a.body) + ENTRY_OVERHEAD)
        self._snapshot = ""
        self._lock = threading.Lock()

    def _current(self, snapshot: str) -> bool:
        """Follow a newer snapshot (emptying the cache); False for an older one (bypassed)."""
        if snapshot == self._snapshot:
            return True
        if _newer(snapshot, self._snapshot):
            self._answers.clear()
            self._snapshot = snapshot
            return True
        return False

    def answer(self, snapshot: str, key: Hashable, render: Callable[[], Answer | None],
               max_share: int = 1) -> tuple[Answer | None, bool]:
        """(answer, whether it came from the cache); `render` makes it on a miss (None: an
        answer not to keep, e.g. a 404); an answer larger than 1/`max_share` of the cache's
        bytes is not kept (one large answer would evict many small ones)."""
        found = self.get(snapshot, key)
        if found is not None:
            return found, True
        made = render()
        if made is not None:
            self.put(snapshot, key, made, max_share)
        return made, False

    def get(self, snapshot: str, key: Hashable) -> Any:
        """What is kept under `key` for `snapshot`, or None."""
        if not self.enabled:
            return None
        with self._lock:
            return self._answers.get(key) if self._current(snapshot) else None

    def put(self, snapshot: str, key: Hashable, value: Any, max_share: int = 1) -> None:
        """Keep `value` (anything with a `body` of bytes) under `key` for `snapshot`, unless
        it is larger than 1/`max_share` of the cache or `snapshot` is not the newest seen."""
        if self.enabled and len(value.body) < self._answers.maxsize // max_share:
            with self._lock:
                if self._current(snapshot):
                    self._answers[key] = value

def _newer(snapshot: str, than: str) -> bool:
    """Snapshot folders are named by publication time (nanoseconds)."""
    if snapshot.isdigit() and than.isdigit():
        return int(snapshot) > int(than)
    return True
