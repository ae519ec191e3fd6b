"""A process and its live descendants, read from /proc: what the benches' CPU and memory figures
of a server or loader (and the worker processes it starts) are summed over. Linux only."""

from __future__ import annotations

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
