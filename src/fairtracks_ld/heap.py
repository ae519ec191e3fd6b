"""Keeping a long load's memory in check: freed memory given back (glibc only), and no cyclic
garbage collection over work that builds many objects and no cycles.

A big load runs validation queries on two threads beside RocksDB's own threads; glibc gives each
thread its own malloc arena (up to 8 per core), and memory freed in an arena mostly stays in the
process. At 1M tracks `malloc_trim(0)` after the shape queries returned 1.07 GB of 2.97 GB at
once, held in ~40 arena heaps; at 50k tracks two arenas lowered the load's peak from 1,031 to
935 MB at the same CPU (bench/results/million.md). Elsewhere (musl, macOS) both calls do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

M_ARENA_MAX = -8  # mallopt parameter (glibc's malloc.h)
ARENAS = 2


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def limit_arenas() -> None:
    """Few malloc arenas for this process: call before the threads that allocate start."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, ARENAS)


def trim() -> None:
    """Give the memory glibc keeps after it was freed back to the system."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


_pausing = threading.Lock()
_paused = 0  # phases inside `no_cycle_collection` now, across threads
_resume = False  # whether the collector was on when the first of them began


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Run a phase that allocates many objects and makes no reference cycles (parsing a
    record into tuples, building an export's dicts, query rows) without the cyclic collector:
    each collection it triggers rescans every object the process holds, so the phase's cost
    grows with the heap and frees nothing (a 20k-track version's export: 4.26 CPU s with it,
    3.23 without, its search segment 2.17 and 1.85: bench/results/cycle-collection.md).
    Re-entrant and shared by threads: the collector is on again once the last phase ends, if
    it was on."""
    global _paused, _resume
    with _pausing:
        if _paused == 0:
            _resume = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pausing:
            _paused -= 1
            if _paused == 0 and _resume:
                gc.enable()
