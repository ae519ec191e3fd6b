"""Peak memory of a big load's validation phase, without the load: on a kept store.

A fresh process opens a store a `bench/load_memory.py --keep-store` run left (or a hard-linked
copy of one of its snapshots, made writable: validation writes its context facts and shared
value sets into the store and removes them afterwards) and validates the current version's
graph exactly as `load` does (`Validator.written` on the store, its reader on the source JSON,
the heap trimmed afterwards, malloc arenas limited as the CLI limits them). Recorded: the peak
RSS (the kernel's VmHWM) of the validation alone (reset after the store is opened), process CPU
seconds, and a timeline of RSS split into anonymous and file-backed memory (RocksDB's table
readers, block cache and write buffers are anonymous), with the validation's step at each sample
(context facts, shape queries done, value sets written, scratch removal).

Usage: python bench/validation_peak.py --store DIR --document JSON --label NAME
       [--workers N] [--env NAME=VALUE ...] [--src DIR]
Appends the run to bench/results/validation-peak.json and rewrites validation-peak.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SRC = HERE.parent / "src"
BASE = "http://localhost:8000/"
STEP = 2.0  # seconds between samples


def status() -> dict[str, float]:
    """VmRSS, RssAnon, RssFile and VmHWM of this process, in MB."""
    wanted = {"VmRSS", "RssAnon", "RssFile", "VmHWM", "Threads"}
    found: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            number = float(value.split()[0])
            found[key] = number if key == "Threads" else round(number / 1024, 1)
    return found


def reset_hwm() -> None:
    """Reset the kernel's peak RSS of this process (VmHWM)."""
    Path("/proc/self/clear_refs").write_text("5")


class Timeline:
    """RSS (anonymous, file-backed), CPU and the validation's step, every STEP seconds."""

    def __init__(self) -> None:
        self.step = "open"
        self.queries = self.shares = self.values = 0
        self.rows: list[dict] = []
        self.started = time.perf_counter()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> None:
        times = os.times()
        self.rows.append({"s": round(time.perf_counter() - self.started, 1),
                          "cpu_s": round(times.user + times.system, 1), "step": self.step,
                          "queries": self.queries, "shares": self.shares,
                          "values": self.values, **status()})

    def _run(self) -> None:
        while not self._done.wait(STEP):
            self.sample()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        self.sample()


def child(store_dir: str, document: str) -> None:
    """Open the store, validate its current version as a load does, print the figures."""
    from fairtracks_ld import graph_removal, heap
    from fairtracks_ld.mapping.prepare import Prepared
    from fairtracks_ld.sources import DocumentReader
    from fairtracks_ld.store import TrackStore
    from fairtracks_ld.validation import Validator, documents, engine

    heap.limit_arenas()  # as the CLI does before the loader's threads start
    timeline = Timeline()
    rows, share, context, remove = (engine._rows, engine._share, documents.context_quads,
                                    engine.remove_graph)

    def counted_rows(*args, **kwargs):
        try:
            return rows(*args, **kwargs)
        finally:
            timeline.queries += 1

    def counted_share(store, query, select, graphs):
        timeline.step = "shapes"

        class Counting:  # the values written, counted as `_share` reads them
            def __init__(self, solutions) -> None:
                self.solutions = iter(solutions)

            def __iter__(self):
                for row in self.solutions:
                    timeline.values += 1
                    yield row

        try:
            share(_CountingStore(store, Counting), query, select, graphs)
        finally:
            timeline.shares += 1

    def staged_context(*args, **kwargs):
        timeline.step = "context facts"
        try:
            return context(*args, **kwargs)
        finally:
            timeline.step = "shapes"

    def staged_remove(*args, **kwargs):
        timeline.step = "removing scratch"
        return remove(*args, **kwargs)

    engine._rows, engine._share = counted_rows, counted_share
    documents.context_quads, engine.remove_graph = staged_context, staged_remove
    assert graph_removal.remove_graph is remove
    opened = time.perf_counter()
    store = TrackStore(store_dir, base=BASE)
    mine = Path(document).parts[-2:]  # the version loaded from this document (folder, name)
    [version] = [v for v in store.versions() if v.current and Path(v.source).parts[-2:] == mine]
    result: dict = {"graph": version.graph, "open_seconds": round(time.perf_counter() - opened, 1),
                    "open": status(), "open_cpu_s": round(sum(os.times()[:2]), 1)}
    # as in the load, whose store held no other document: the context facts look up the
    # document's local_ids and references in the other current documents (the kept store may
    # have gained some since; their lookups cost CPU the load did not spend)
    store.versions = lambda document=None: [version]  # type: ignore[method-assign]
    prepared = Prepared({}, version.collection, version.document, version.graph,
                        version.doc_version, version.doc_date, version.variant)
    heap.trim()
    reset_hwm()
    timeline.step = "validation"
    started, cpu = time.perf_counter(), time.process_time()
    with DocumentReader(document) as reader:
        report = Validator(store).written(store.ox, version.graph, prepared, document,
                                          reader=reader)
    timeline.step = "trimmed"
    heap.trim()
    timeline.stop()
    after = status()
    result.update(seconds=round(time.perf_counter() - started, 1),
                  cpu_seconds=round(time.process_time() - cpu, 1),
                  validation_peak_mb=after["VmHWM"], after=after, findings=len(report.findings),
                  valid=report.valid, timeline=timeline.rows)
    print(json.dumps(result))


class _CountingStore:
    """A store whose query results are counted as they are read (for `_share`)."""

    def __init__(self, store, wrap) -> None:
        self._store, self._wrap = store, wrap

    def query(self, *args, **kwargs):
        return self._wrap(self._store.query(*args, **kwargs))

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def report(runs: list[dict]) -> str:
    lines = ["# Peak memory of the validation phase on a kept store "
             "(`bench/validation_peak.py`)", "",
             "Each run: a fresh process opens the kept store, validates its current version as "
             "`load` does; the peak is the kernel's VmHWM from after the store is opened to the "
             "end of validation. Anon / file: RSS at the peak sample (2 s samples).", "",
             "| run | src | env | workers | s | CPU s | open MB | peak MB | anon at peak | "
             "file at peak | findings | uptime at start |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for run in runs:
        top = max(run["timeline"], key=lambda r: r["VmRSS"])
        lines.append(
            f"| {run['label']} | {run['commit']} | {' '.join(run['env']) or '-'} | "
            f"{run['workers'] or 'engine'} | {run['seconds']:,.0f} | {run['cpu_seconds']:,.0f} | "
            f"{run['open']['VmRSS']:,.0f} | {run['validation_peak_mb']:,.0f} | "
            f"{top['RssAnon']:,.0f} | {top['RssFile']:,.0f} | {run['findings']} | "
            f"`{run['uptime']}` |")
    lines += [f"\nReading ({run['label']}): {run['reading']}" for run in runs if run.get("reading")]
    for run in runs:
        lines += ["", f"## {run['label']}: RSS over time (every ~60 s)", "",
                  "| s | CPU s | step | queries | value sets | values | RSS | anon | file |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
        shown = -60.0
        for row in run["timeline"]:
            if row["s"] - shown >= 60 or row is run["timeline"][-1]:
                shown = row["s"]
                lines.append(f"| {row['s']:.0f} | {row['cpu_s']:.0f} | {row['step']} | "
                             f"{row['queries']} | {row['shares']} | {row['values']:,} | "
                             f"{row['VmRSS']:,.0f} | {row['RssAnon']:,.0f} | "
                             f"{row['RssFile']:,.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, help="a kept, writable store")
    parser.add_argument("--document", type=Path, help="the JSON document it was loaded from")
    parser.add_argument("--label", default="run")
    parser.add_argument("--workers", type=int, default=0,
                        help="the engine's threads (0: its own choice)")
    parser.add_argument("--env", action="append", default=[],
                        help="NAME=VALUE for the measured process (e.g. MALLOC_ARENA_MAX=1)")
    parser.add_argument("--src", type=Path, default=SRC)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.workers:  # the engine's pool held to this many threads
            import concurrent.futures

            from fairtracks_ld.validation import engine

            class Workers(concurrent.futures.ThreadPoolExecutor):
                def __init__(self, *_args: object, **_kwargs: object) -> None:
                    super().__init__(args.workers)

            engine.ThreadPoolExecutor = Workers
        child(*args.child)
        return
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve()),
           **dict(item.split("=", 1) for item in args.env)}
    commit = subprocess.run(["git", "-C", str(args.src), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    started = uptime()
    done = subprocess.run([sys.executable, __file__, "--child", str(args.store),
                           str(args.document), "--workers", str(args.workers)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(label=args.label, env=args.env, workers=args.workers, commit=commit,
                  uptime=started, uptime_after=uptime())
    path = RESULTS / "validation-peak.json"
    runs = json.loads(path.read_text()) if path.exists() else []
    runs.append(result)
    path.write_text(json.dumps(runs, indent=1) + "\n")
    (RESULTS / "validation-peak.md").write_text(report(runs))
    print(report([result]))


if __name__ == "__main__":
    main()
