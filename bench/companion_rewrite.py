"""Companion rewrite benchmark: peak RSS and CPU of rewriting a big current companion graph.

An ontology refresh (`reason --full`, a stale closure) or a relink rewrites every companion from
scratch with `reasoning.replace_in_view`. Before store/swap.py that was one SPARQL update (the
view's triples of the old companion deleted, the staging graph MOVEd in, the new triples
inserted), one transaction whose memory grows with the graph; now it is the swap's bounded
steps. Each run is a fresh process on a fresh on-disk store holding one catalogued current
version whose companion has N carrier links (`<sample> ft:own_cell_type_ancestor <class>`, 20
per carrier, as a big document's), in its graph and in the view; the rewrite gives it either
the same links (`same`: a refresh that changes nothing, the common case) or entirely other
ones (`all`: a relink, the worst case). Peak RSS is sampled from /proc every 0.1 s during the
rewrite only (the store's RSS before it is the base), CPU is the process's user + system time
over the rewrite (RocksDB's threads included). The code measured is the `fairtracks_ld` under
each `--impl NAME=SRC` (e.g. main's, exported with `git archive`).

Usage: python bench/companion_rewrite.py --impl main=/tmp/main/src --impl branch=src
           [--quads 1000000 3000000] [--scenarios same all] [--limit main=1000000]
(`--limit NAME=QUADS`: NAME is not run above QUADS, e.g. where its memory would not fit;
`--append`: keep the runs of the results file, replacing those measured again)
Writes bench/results/companion-rewrite.json and bench/results/companion-rewrite.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from proctree import PeakRss

from fairtracks_ld.mapping.namespaces import FT  # the catalog's own terms, so it is read

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "companion-rewrite"
RESULTS = HERE / "results"
BASE = "http://localhost:8000/"
PER_CARRIER = 20


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def links(quads: int, shift: int) -> Iterator[str]:
    """N-Triples text of `quads` carrier links, in chunks; `shift` moves every ancestor."""
    link = f"> <{FT}own_cell_type_ancestor> <http://purl.obolibrary.org/obo/CL_"
    for first in range(0, quads // PER_CARRIER, 5_000):
        yield "".join(f"<{BASE}collection/c/sample/s{i}{link}{(i + j) % 50_000 + shift:07d}> .\n"
                      for i in range(first, min(first + 5_000, quads // PER_CARRIER))
                      for j in range(PER_CARRIER))


def child(quads: int, scenario: str) -> dict:
    import pyoxigraph as ox

    from fairtracks_ld import reasoning
    from fairtracks_ld.store import TrackStore

    folder = tempfile.mkdtemp(dir=WORK)
    store = TrackStore(Path(folder) / "store", base=BASE)
    graph = f"{BASE}collection/c/document/d/version/1"
    companion = reasoning.inferred_graph(graph)
    store.ox.update(f"INSERT DATA {{ GRAPH <{store.catalog}> {{ <{graph}> a <{FT}DocumentVersion> "
                    f". <{BASE}collection/c/document/d> <{FT}current_version> <{graph}> }} }}")
    for target in (companion, None):  # the companion and its copy in the view
        reasoning.bulk_write(store, target, links(quads, 0))
    store.ox.add_graph(ox.NamedNode(companion))
    store.flush()
    shift = 0 if scenario == "same" else 1_000_000
    with PeakRss() as memory:
        cpu, start = cpu_seconds(), time.perf_counter()
        reasoning.replace_in_view(store, companion, lambda staging, store=store:
                                  reasoning.bulk_write(store, staging, links(quads, shift)))
        store.flush()
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    expected = {line for chunk in links(min(quads, 2_000), shift) for line in chunk.splitlines()}
    held = {f"{q.subject} {q.predicate} {q.object} ." for q in store.ox.quads_for_pattern(
        ox.NamedNode(f"{BASE}collection/c/sample/s0"), None, None, ox.NamedNode(companion))}
    correct = (held == {e for e in expected if e.startswith(f"<{BASE}collection/c/sample/s0>")}
               and len(store.ox) - len(list(store.ox.quads_for_pattern(
                   None, None, None, ox.NamedNode(store.catalog)))) == 2 * quads)
    del store
    shutil.rmtree(folder, ignore_errors=True)
    return {"quads": quads, "scenario": scenario, "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu, 1), **memory.figures(), "correct": correct}


def measure(src: str, quads: int, scenario: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
    done = subprocess.run([sys.executable, __file__, "--child", str(quads), scenario],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:  # e.g. killed for memory: reported, not hidden
        return {"quads": quads, "scenario": scenario, "failed": done.stderr.strip()[-300:]
                or f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--impl", action="append", required=False, default=[],
                        help="NAME=SRC: a fairtracks_ld source folder to measure")
    parser.add_argument("--quads", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--scenarios", nargs="+", default=["same", "all"])
    parser.add_argument("--limit", action="append", default=[],
                        help="NAME=QUADS: run NAME only up to QUADS")
    parser.add_argument("--append", action="store_true", help="keep earlier runs")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1])))
        return
    load = os.getloadavg()
    limits = {name: int(quads) for name, quads in (limit.split("=") for limit in args.limit)}
    runs = []
    for quads in args.quads:
        for scenario in args.scenarios:
            for name, src in (impl.split("=", 1) for impl in args.impl):
                if quads > limits.get(name, quads):
                    continue
                runs.append({"impl": name, **measure(src, quads, scenario)})
                print(runs[-1], file=sys.stderr, flush=True)
    RESULTS.mkdir(exist_ok=True)
    if args.append and (RESULTS / "companion-rewrite.json").exists():
        earlier = json.loads((RESULTS / "companion-rewrite.json").read_text())["runs"]
        again = {(r["impl"], r["quads"], r["scenario"]) for r in runs}
        runs = [r for r in earlier if (r["impl"], r["quads"], r["scenario"]) not in again] + runs
        runs.sort(key=lambda r: (r["quads"], r["scenario"] != "same", r["impl"]))
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_average": load}, "impls": args.impl, "limits": limits,
               "runs": runs}
    (RESULTS / "companion-rewrite.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Rewriting a big current companion (`bench/companion_rewrite.py`)", "",
             f"Machine: {os.cpu_count()} CPUs shared with other jobs (load average at start "
             f"{load[0]:.1f}), Python {platform.python_version()}. One current version's "
             "companion of N links (and its copy in the view) in a fresh on-disk store per "
             "run, rewritten by `reasoning.replace_in_view`; RSS sampled every 0.1 s during "
             "the rewrite; CPU: user + system of the process over the rewrite.", "",
             "| quads | links changed | code | wall s | CPU s | RSS before MB | peak RSS MB "
             "| growth MB | result right |", "|---:|---|---|---:|---:|---:|---:|---:|---|"]
    for run in runs:
        changed = "none" if run["scenario"] == "same" else "all"
        if "failed" in run:
            lines.append(f"| {run['quads']:,} | {changed} | {run['impl']} | failed: "
                         f"{run['failed'][-80:]} | | | | | |")
            continue
        lines.append(f"| {run['quads']:,} | {changed} | {run['impl']} | {run['seconds']} | "
                     f"{run['cpu_seconds']} | {run['base_rss_mb']:,} | {run['peak_rss_mb']:,} | "
                     f"{run['growth_mb']:,} | {'yes' if run['correct'] else 'NO'} |")
    (RESULTS / "companion-rewrite.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
