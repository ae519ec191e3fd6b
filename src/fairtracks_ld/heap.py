"""Keeping a long load's freed memory from staying in the process (glibc only).

A big load runs validation queries on two threads beside RocksDB's own threads; glibc gives each
thread its own malloc arena (up to 8 per core), and memory freed in an arena mostly stays in the
process. At 1M tracks `malloc_trim(0)` after the shape queries returned 1.07 GB of 2.97 GB at
once, held in ~40 arena heaps; at 50k tracks two arenas lowered the load's peak from 1,031 to
935 MB at the same CPU (bench/results/million.md). Elsewhere (musl, macOS) both calls do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
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
