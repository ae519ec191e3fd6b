"""The store's writer lock: one writing command at a time, and a plain answer to who is writing.

Oxigraph (RocksDB) refuses a second process with "LOCK: Resource temporarily unavailable". Every
command that writes first takes an exclusive `flock` on `<store>.lock`, a file beside the store
that also says who holds it (pid, host, command, start time). A second writer waits up to `wait`
seconds for it, then is told in one sentence who holds it. The kernel releases the lock when its
holder dies, even by SIGKILL, so a crashed load never leaves the store locked; the file itself
stays (removing a lock file others may have opened is racy) and is harmless.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from fairtracks_ld.store import StoreError, TrackStore, optimizer
from fairtracks_ld.writing import open_store

PREEMPTED_WAIT = 30.0  # seconds a writer waits for a background optimizer it ended to exit


class StoreLocked(StoreError):
    """Another process is writing the store."""


def lock_path(store_path: Path | str) -> Path:
    path = Path(store_path)
    return path.with_name(path.name + ".lock")


def _holder_info(store_path: Path | str) -> dict:
    """The lock file's description of who holds (or last held) the lock; {} if unreadable."""
    try:
        info = json.loads(lock_path(store_path).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def holder(store_path: Path | str) -> str:
    """Who holds (or last held) the lock, as the lock file says, in words."""
    info = _holder_info(store_path)
    if not info:
        return "another process"
    return (f"process {info.get('pid')} on {info.get('host')} "
            f"(`{info.get('command')}`, since {info.get('started')})")


@contextmanager
def writer_lock(store_path: Path | str, command: str | None = None,
                wait: float = 0.0, preempt: bool = True) -> Iterator[None]:
    """Hold the writer lock of the store at `store_path`, waiting up to `wait` seconds for it.
    A background optimizer holding it gives way at once (store/optimizer.py) unless the caller
    does not `preempt` (another such optimizer, or a caller waiting for it to finish)."""
    path = lock_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    command = command or " ".join(["fairtracks-ld", *sys.argv[1:]])
    preempt = preempt and not optimizer.yielding(command)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if preempt and optimizer.preempt(_holder_info(store_path)):
                    preempt = False  # once: its lock is released when it has ended
                    deadline = max(deadline, time.monotonic() + PREEMPTED_WAIT)
                if time.monotonic() >= deadline:
                    waited = f" (waited {wait:g} s)" if wait else ""
                    raise StoreLocked(
                        f"store {store_path} is being written by {holder(store_path)}{waited}; "
                        f"wait for it to finish, or retry with --wait SECONDS") from None
                time.sleep(0.1)
        started = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                "started": started}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(descriptor)  # closing releases the flock


@contextmanager
def writing(store_path: Path, command: str, wait: float = 5.0) -> Iterator[TrackStore]:
    """The store opened for writing under its writer lock, for the server's write routes.

    StoreLocked when another process holds the lock or the store itself (a writer that does
    not take the lock), so callers answer "busy" (or queue) in one place."""
    with writer_lock(store_path, command=command):
        try:
            store = open_store(store_path)
        except OSError as failure:
            raise StoreLocked(f"store {store_path} cannot be opened for writing now: "
                              f"{failure}") from None
        try:
            yield store
        finally:
            del store  # RocksDB's handle (and its lock) goes with the last reference
