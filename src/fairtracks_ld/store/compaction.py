"""Letting the store's own compactions finish before a big write is published.

A bulk load ingests Oxigraph's SST files into RocksDB, which merges them into its levels in
background threads while the store is open (leveled compaction). A command exits right after
it publishes, and closing the store abandons the compactions still running: the snapshot
readers get keeps dozens of overlapping files, and every lookup reads more of them (at 20k
tracks DESCRIBE and label lookups cost 1.5-2x, ancestor searches and facet counts ~2x; see
bench/results/compaction.md). So before a snapshot is taken after a big write,
`wait_for_merges` waits until RocksDB's compaction threads have gone quiet. That is RocksDB's
own, amortised work (level by level, proportional to what was written), not a full rewrite of
the store such as `fairtracks-ld optimize` does: at 20k tracks it took about a third less CPU
and read as fast.

"Big" is the bytes of table files the store holds that the previous snapshot does not
(`FAIRTRACKS_LD_MERGE_WAIT_BYTES`, default 64 MB, about 2,500 generated tracks); below that a write
is published at once and the files it leaves are merged during the next write. The wait is
bounded (`FAIRTRACKS_LD_MERGE_WAIT_SECONDS`, default 900): the snapshot is published when it ends
either way, so a slow machine costs read speed, never data. A process killed while it waits
leaves the store as RocksDB left it, which it always opens (compaction swaps files atomically).

Quiet means: for `QUIET` seconds, RocksDB's background threads (named `rocksdb:…`, read from
/proc/self/task on Linux) used no CPU and were all asleep (not running, nor waiting for the disk:
a compaction's fsync on a busy disk takes seconds without CPU), and the store's table files (names
and sizes) did not change.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fairtracks_ld.faults import checkpoint

BYTES_ENV = "FAIRTRACKS_LD_MERGE_WAIT_BYTES"
SECONDS_ENV = "FAIRTRACKS_LD_MERGE_WAIT_SECONDS"
DEFAULT_BYTES = 64 * 1024 * 1024
DEFAULT_SECONDS = 900.0
QUIET = 2.0  # seconds without compaction activity that end the wait
POLL = 0.1
RECORD = "fairtracks-ld.compaction.json"  # written into each published snapshot's folder
TASKS = Path("/proc/self/task")


@dataclass(frozen=True)
class MergeWait:
    """What `wait_for_merges` did before a snapshot was taken (kept in the snapshot, shown by
    `stats`)."""

    new_bytes: int  # table-file bytes the store held that the previous snapshot did not
    threshold: int
    waited: bool  # False: below the threshold, published at once
    quiet: bool  # the compactions went quiet (False: the wait ran out first, or not waited)
    seconds: float
    compaction_cpu_seconds: float | None  # RocksDB's background threads meanwhile (Linux only)
    files_before: int
    files_after: int

    def write(self, snapshot: Path) -> None:
        (snapshot / RECORD).write_text(json.dumps(asdict(self), indent=2) + "\n",
                                       encoding="utf-8")


def record(snapshot: Path) -> dict | None:
    """The record `MergeWait.write` left in a snapshot, if any."""
    try:
        return json.loads((snapshot / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def wait_for_merges(store_path: Path, previous: Path | None) -> MergeWait:
    """Wait, when the store holds enough table files that the `previous` snapshot does not,
    until RocksDB's compactions in this process have gone quiet (or the time limit passed).

    The store must be open for writing in this process (only its threads compact it)."""
    threshold = _env_number(BYTES_ENV, DEFAULT_BYTES)
    limit = _env_number(SECONDS_ENV, DEFAULT_SECONDS)
    before = table_files(store_path)
    new = _new_bytes(store_path, before, previous)
    started = time.monotonic()
    if new < threshold:
        return MergeWait(new, int(threshold), False, False, 0.0, None, len(before), len(before))
    checkpoint("merge-wait")
    cpu_start = _compaction_threads()
    quiet = _wait_until_quiet(store_path, started + limit)
    cpu_end = _compaction_threads()
    cpu = None if cpu_start is None or cpu_end is None else round(cpu_end[0] - cpu_start[0], 2)
    return MergeWait(new, int(threshold), True, quiet, round(time.monotonic() - started, 2), cpu,
                   len(before), len(table_files(store_path)))


def table_files(folder: Path) -> frozenset[str]:
    """The names of a RocksDB folder's table (SST) files."""
    try:
        return frozenset(name for name in os.listdir(folder) if name.endswith(".sst"))
    except FileNotFoundError:
        return frozenset()


def _new_bytes(store_path: Path, files: frozenset[str], previous: Path | None) -> int:
    """Bytes of the store's table files that are not hard links into `previous` (a snapshot
    is a RocksDB checkpoint: hard links to the store's immutable files)."""
    seen = set()
    for name in table_files(previous) if previous is not None else ():
        try:
            info = (previous / name).stat()
        except FileNotFoundError:
            continue
        seen.add((info.st_dev, info.st_ino))
    total = 0
    for name in files:
        try:
            info = (store_path / name).stat()
        except FileNotFoundError:  # compacted away meanwhile
            continue
        if (info.st_dev, info.st_ino) not in seen:
            total += info.st_size
    return total


def _wait_until_quiet(store_path: Path, deadline: float) -> bool:
    last = None
    quiet_since = time.monotonic()
    while True:
        now = time.monotonic()
        threads = _compaction_threads()
        seen = (threads[0] if threads else None, _sizes(store_path))
        if seen != last or (threads is not None and threads[1]):
            last, quiet_since = seen, now
        elif now - quiet_since >= QUIET:
            return True
        if now >= deadline:
            return False
        time.sleep(POLL)


def _sizes(folder: Path) -> frozenset[tuple[str, int]]:
    """The table files and their sizes (a compaction's output grows while it is written)."""
    found = set()
    for name in table_files(folder):
        try:
            found.add((name, (folder / name).stat().st_size))
        except FileNotFoundError:
            continue
    return frozenset(found)


def _compaction_threads() -> tuple[float, bool] | None:
    """CPU seconds used so far by this process's RocksDB background threads, and whether any
    of them is running or waiting for the disk (None where /proc does not say: then only the
    table files tell)."""
    if not TASKS.is_dir():
        return None
    ticks, busy = 0, False
    for task in TASKS.iterdir():
        try:
            if not (task / "comm").read_text().startswith("rocksdb:"):
                continue
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        busy = busy or fields[0] in ("R", "D")  # running, or in uninterruptible (disk) wait
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK"), busy


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        print(f"warning: {name}={text!r} is not a number >= 0; using {default:.0f}",
              file=sys.stderr)
        return default
    return value
