"""A full compaction after a big load, run in the background, that gives way to the next writer.

A big write is published once RocksDB's own leveled compactions have gone quiet (compaction.py),
but that leaves the store on several levels, and every lookup reads each of them. At 100k
generated tracks a full compaction (`Store.optimize`, 19 s of wall time, 13 s of CPU) made the
published snapshot's ancestor searches 54.7 → 36.0 ms and facet counts 103.9 → 67.1 ms of CPU
per query (in process, the same queries; `oxigraph serve`'s optimised copy 39.1 and 74.9), and a
track's description 0.25 → 0.20 ms. Run inside `load` it would lengthen every big load by the
time it takes to rewrite the whole store, so `load` starts it as a process of its own once it
has published, and returns: `fairtracks-ld optimize --yield` waits for the writer lock, compacts,
publishes a snapshot (same data, read faster) and exits, logging to `<store>.optimize.log`.

It runs after a write that published at least `FAIRTRACKS_LD_OPTIMIZE_SHARE` (default 0.25; 0
turns it off) of the store's table bytes as new ones: a first load, or one that rewrote a good
part of the store, not a small document added to a big store (RocksDB keeps that one tidy).

It never delays a writer: a command that wants the writer lock and finds it held by a yielding
optimizer on this machine ends it (SIGTERM, whose default action ends the process at once,
even inside RocksDB's compaction) and takes the lock. RocksDB swaps a compaction's files in
atomically and removes a killed one's partial files when the store is next opened, so the
store is exactly as before the compaction; the snapshot being published, if any, is not yet
current and is pruned by the next publish.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

from fairtracks_ld.store import compaction

SHARE_ENV = "FAIRTRACKS_LD_OPTIMIZE_SHARE"
DEFAULT_SHARE = 0.25
FLAG = "--yield"  # `optimize --yield`: the command line a yielding optimizer runs with
LOCK_WAIT = 600  # seconds the optimizer waits for the writer lock (the load that started it)


def log_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".optimize.log")


def wanted(snapshot: Path) -> bool:
    """Whether the write published as `snapshot` was big enough for a full compaction: its new
    table bytes (compaction.py's record) are at least the share of all its table bytes."""
    share = _share()
    waited = compaction.record(snapshot)
    if share <= 0 or not waited or not waited.get("waited"):
        return False
    total = table_bytes(snapshot)
    return total > 0 and waited["new_bytes"] >= share * total


def table_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.glob("*.sst"))


def missing_room(store_path: Path, snapshot: Path) -> int:
    """The bytes of free disk a full compaction may need beyond what there is (0: enough). It
    writes each level anew before it deletes the old one: up to the store's size again."""
    return max(0, table_bytes(snapshot) - shutil.disk_usage(store_path).free)


def start(store_path: Path) -> int:
    """Start `fairtracks-ld optimize --yield` on the store, detached; its pid."""
    with log_path(store_path).open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store_path),
             "--wait", str(LOCK_WAIT), "optimize", FLAG],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)  # not ended with the load's terminal session
    return process.pid


def preempt(holder: dict) -> bool:
    """End the yielding optimizer that holds the writer lock, as its lock file describes it
    (`holder`); False when the holder is anything else or not on this machine."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or holder.get("host") != socket.gethostname():
        return False
    if not yielding(str(holder.get("command", ""))) or not _runs_yielding(pid):
        return False
    with suppress(ProcessLookupError):  # already gone: its lock is free
        os.kill(pid, signal.SIGTERM)
    return True


def yielding(command: str) -> bool:
    """Whether a writer's command line is a yielding optimizer's."""
    words = command.split()
    return "optimize" in words and FLAG in words


def _runs_yielding(pid: int) -> bool:
    """Whether process `pid` is a yielding optimizer now (not a process that reused its pid)."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"optimize" in arguments and FLAG.encode() in arguments


def _share() -> float:
    try:
        return float(os.environ.get(SHARE_ENV, DEFAULT_SHARE))
    except ValueError:
        return DEFAULT_SHARE

