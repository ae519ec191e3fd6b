"""Removal benchmark: memory and time of removing one big invisible graph (a refused document's).

Oxigraph's `Store.remove_graph` is one transaction, whose memory grows with the graph;
`graph_removal.remove_graph` (fairtracks-ld) removes it in transactions of at most 20,000
quads, read from one iterator, as DELETE DATA. Each contender runs in a fresh process on a fresh
on-disk store holding one graph of N track-like quads (IRIs, plain, language-tagged and typed
literals); peak RSS is sampled from /proc every 0.1 s during the removal only (building the
store is excluded: its RSS before the removal is reported as the base).

Usage: python bench/remove_graph.py [--quads 1000000] [--batches 20000 100000]
Writes bench/results/remove-graph.json and bench/results/remove-graph.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proctree import PeakRss

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
WORK = HERE / "work" / "remove-graph"
RESULTS = HERE / "results"


def child(kind: str, quads: int, batch: int) -> dict:
    import pyoxigraph as ox

    from fairtracks_ld.graph_removal import remove_graph

    folder = tempfile.mkdtemp(dir=WORK)
    store = ox.Store(folder)
    graph = ox.NamedNode("http://localhost:8000/collection/c/document/d/version/1")
    kinds = [ox.NamedNode(f"http://example.org/{p}") for p in ("local_id", "label", "size")]
    integer = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")

    def made():
        for i in range(quads // 4):
            track = ox.NamedNode(f"http://localhost:8000/collection/c/track/t{i}")
            yield ox.Quad(track, rdf_type, ox.NamedNode("http://example.org/Track"), graph)
            yield ox.Quad(track, kinds[0], ox.Literal(f"t{i}"), graph)
            yield ox.Quad(track, kinds[1], ox.Literal(f'a "label"\n{i}', language="en"), graph)
            yield ox.Quad(track, kinds[2], ox.Literal(str(i), datatype=integer), graph)

    store.bulk_extend(made())
    store.flush()
    with PeakRss() as memory:
        start = time.perf_counter()
        if kind == "oxigraph":
            store.remove_graph(graph)
        else:
            remove_graph(store, graph.value, batch)
        store.flush()
        seconds = time.perf_counter() - start
    left = len(store)
    del store
    shutil.rmtree(folder, ignore_errors=True)
    return {"kind": kind, "quads": quads, "batch": batch, "seconds": round(seconds, 1),
            **memory.figures(), "left": left}


def measure(kind: str, quads: int, batch: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, __file__, "--child", kind, str(quads), str(batch)],
                          env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quads", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--batches", type=int, nargs="+", default=[20_000])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.child:
        kind, quads, batch = args.child
        print(json.dumps(child(kind, int(quads), int(batch))))
        return
    load = os.getloadavg()
    runs = []
    for quads in args.quads:
        for kind, batch in [("oxigraph", 0), *(("bounded", b) for b in args.batches)]:
            runs.append(measure(kind, quads, batch))
            print(runs[-1], file=sys.stderr, flush=True)
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_average": load}, "runs": runs}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "remove-graph.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Removing a big invisible graph (`bench/remove_graph.py`)", "",
             f"Machine: {os.cpu_count()} CPUs shared with other jobs (load average at start "
             f"{load[0]:.1f}), Python {platform.python_version()}. One graph of N quads in a "
             "fresh on-disk store per run; RSS sampled every 0.1 s during the removal.", "",
             "| quads | removal | s | RSS before MB | peak RSS MB | growth MB |",
             "|---:|---|---:|---:|---:|---:|"]
    for run in runs:
        name = ("Oxigraph remove_graph (one transaction)" if run["kind"] == "oxigraph"
                else f"store.remove_graph, {run['batch']:,} quads per transaction")
        lines.append(f"| {run['quads']:,} | {name} | {run['seconds']} | {run['base_rss_mb']:,} | "
                     f"{run['peak_rss_mb']:,} | {run['growth_mb']:,} |")
    (RESULTS / "remove-graph.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
