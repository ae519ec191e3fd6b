"""A reserve of disk space in the store folder, given up when the disk fills, so the store can
still be opened (and its debris swept) afterwards.

RocksDB writes whenever it opens a store (a new MANIFEST, OPTIONS, info LOG and write-ahead
log, and the flush of a replayed log), so on a disk a failed load has filled completely the
store would not open again until someone freed space, whatever state the load left. Every writer
keeps `fairtracks-ld.reserve` (an allocated file, RocksDB ignores it) in the store folder; a write
that hits a full disk deletes it before giving up, and the next writer that finds enough free
space allocates it again.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

RESERVE_NAME = "fairtracks-ld.reserve"
MAX_BYTES = 64 * 1024 * 1024  # enough for RocksDB to reopen and flush a replayed write-ahead log
SHARE = 8  # … but at most an eighth of the filesystem (tiny test disks)
MAX_ENV = "FAIRTRACKS_LD_RESERVE_BYTES"  # a smaller (or larger) cap, e.g. for many small stores


def reserve_path(store_path: Path | str) -> Path:
    return Path(store_path) / RESERVE_NAME


def reserve_size(store_path: Path | str) -> int:
    """Bytes the reserve of this store's filesystem holds."""
    info = os.statvfs(store_path)
    cap = int(os.environ.get(MAX_ENV) or MAX_BYTES)
    return min(cap, info.f_blocks * info.f_frsize // SHARE)


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` says the disk is full (Oxigraph's IO errors carry no errno, only text)."""
    return (isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)) or (
        "No space left on device" in str(error) or "Disk quota exceeded" in str(error))


def ensure(store_path: Path | str) -> bool:
    """Allocate the reserve unless it exists; skipped (False) while the disk has less than
    twice its size free, so a nearly full disk keeps room for the write that runs now."""
    path = reserve_path(store_path)
    if path.exists():
        return True
    size = reserve_size(store_path)
    info = os.statvfs(store_path)
    if info.f_bavail * info.f_frsize < 2 * size:
        return False
    partial = path.with_name(RESERVE_NAME + ".partial")
    try:
        with open(partial, "wb") as file:
            os.posix_fallocate(file.fileno(), 0, size)
        partial.replace(path)
    except OSError:  # the disk filled meanwhile: no reserve this time
        partial.unlink(missing_ok=True)
        return False
    return True


def release(store_path: Path | str | None) -> bool:
    """Give the reserve's space back (on a full disk); whether there was one."""
    if store_path is None:
        return False
    path = reserve_path(store_path)
    try:
        path.unlink()
    except OSError:  # none (or no store folder at that path)
        return False
    return True
