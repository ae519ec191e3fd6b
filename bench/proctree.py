"""A process and its live descendants, read from /proc: what the benches' CPU and memory figures
of a server or loader (and the worker processes it starts) are summed over. Linux only."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def tree_stats(root: int) -> dict[int, list[str]]:
    """pid → the fields of /proc/PID/stat after the command name (index 1 the parent, 11 and 12
    user and system CPU ticks, 19 the start time, 21 the resident pages), for `root` and every
    live descendant; a process that exits meanwhile is left out."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # exited meanwhile
                continue
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    todo, tree = [root], {}
    while todo:
        pid = todo.pop()
        if pid in stats:
            tree[pid] = stats[pid]
        todo += children.get(pid, [])
    return tree


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """This process's resident memory before a step (`base`) and its highest value during it
    (`peak`), sampled every 0.1 s in a thread while the `with` block runs."""

    def __init__(self) -> None:
        self.base = self.peak = 0.0
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.1)

    def __enter__(self) -> PeakRss:
        self.base = self.peak = rss_mb()
        self._sampler.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._sampler.join()

    def figures(self) -> dict[str, int]:
        """base_rss_mb, peak_rss_mb and growth_mb, as the benches report them."""
        return {"base_rss_mb": round(self.base), "peak_rss_mb": round(self.peak),
                "growth_mb": round(self.peak - self.base)}
