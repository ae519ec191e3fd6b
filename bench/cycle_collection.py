"""What Python's cyclic garbage collector costs the work that builds many objects and no
cycles: a version's API export and its search segment, with the collector on and off.

Both run in this process on the first current version of a store (read-only), alternately, the
CPU seconds of each run measured (`resource.getrusage`); medians of `--runs` each. With the
collector on is how they ran before `heap.no_cycle_collection` (they call the functions that
phase wraps).

Usage: python bench/cycle_collection.py STORE [--runs 3]
Writes bench/results/cycle-collection.json and .md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import time
from pathlib import Path

from fairtracks_ld.mapping.export import export_document, unread
from fairtracks_ld.search.reader import _read_segment
from fairtracks_ld.store import TrackStore, records

RESULTS = Path(__file__).resolve().parent / "results"


def cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    store = TrackStore(args.store, read_only=True)
    version = next(v for v in store.versions() if v.current)
    work = {
        "API export": lambda: export_document(
            records.graph_triples(store, version.graph, unread=unread), version.document),
        "search segment": lambda: _read_segment(store, version.graph),
    }
    seconds: dict[str, dict[str, list[float]]] = {name: {"on": [], "off": []} for name in work}
    load = os.getloadavg()[0]
    for _ in range(args.runs):
        for collector in ("on", "off"):
            for name, run in work.items():
                gc.collect()
                if collector == "off":
                    gc.disable()
                started = cpu()
                made = run()
                seconds[name][collector].append(cpu() - started)
                gc.enable()
                del made
    tracks = len(_read_segment(store, version.graph).tracks)
    report = {"store": str(args.store), "tracks": tracks, "runs": args.runs,
              "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
              "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "cpu_seconds": seconds}
    lines = [f"# The cyclic collector's cost (`bench/cycle_collection.py`), {tracks:,} tracks", "",
             f"Measured {report['when']}; load average {report['load_average']} (2 cores). "
             f"CPU seconds, median of {args.runs} runs each, in one process.", "",
             "| work | collector on | collector off | off / on |", "|---|---:|---:|---:|"]
    for name, runs in seconds.items():
        on, off = statistics.median(runs["on"]), statistics.median(runs["off"])
        lines.append(f"| {name} | {on:.2f} | {off:.2f} | {off / on:.2f} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cycle-collection.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "cycle-collection.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
