"""Which validation queries grow the loader's memory: each shape query's own RSS growth.

`load --bulk` with validation of one generated document (as bench/load_memory.py runs it), in a
fresh process whose validation runs one query at a time (the engine's thread pool held to one
worker: the queries' memory does not overlap as it does with the engine's 2-4 threads). Around
each query (validation/engine.py `_rows`) the process's RSS and its peak are read:
the kernel's peak (VmHWM) is reset before each query, so the peak during a query minus the RSS
before it is the memory that query needed at once (Oxigraph's
evaluation: hash tables of joins, MINUS, DISTINCT; and the solutions listed in Python). Its
rows and seconds are kept too. The queries that add the most are listed.

With `--store DIR` (a store kept by `bench/load_memory.py --keep-store`) nothing is loaded:
a fresh process opens the store and runs the shapes on the version graph it holds (without the
context facts, which are streamed and small), giving freed memory back to the system
(`malloc_trim`) before each query, so each query's peak is what that query needs, not hidden in
memory the write phase left resident (in a load, a 50k-track document's write phase leaves
~600 MB resident, more than any query there needs).

Usage: python bench/validation_memory.py [--tracks 50000] [--store DIR] [--workers N]
Writes bench/results/validation-memory.json and .md (with --store: validation-memory-N.*).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import load_memory  # noqa: E402  (its documents and template store)


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_hwm() -> None:
    """Reset the kernel's peak RSS of this process (VmHWM; Linux 4.0+)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def hwm_mb() -> float:
    """The peak RSS since the last reset_hwm()."""
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmHWM")) / 1024


def child(document: str, store_dir: str) -> None:
    """Load with validation, one query at a time, recording each query's memory."""
    import concurrent.futures

    from fairtracks_ld.validation import engine

    measured: list[dict] = []
    original = engine._rows

    def rows(store, query, sparql, options, compiled, deadline):
        reset_hwm()
        before = rss_mb()
        result = original(store, query, sparql, options, compiled, deadline)
        (_, found), seconds = result
        peak = hwm_mb()
        measured.append({"query": sparql, "prebound": query.prebound is not None,
                         "rows": len(found), "seconds": round(seconds, 2),
                         "rss_before_mb": round(before, 1), "rss_after_mb": round(rss_mb(), 1),
                         "peak_added_mb": round(peak - before, 1),
                         "peak_mb": round(peak, 1)})
        return result

    class OneWorker(concurrent.futures.ThreadPoolExecutor):
        def __init__(self, *_args: object, **_kwargs: object) -> None:
            super().__init__(1)

    engine._rows = rows
    engine.ThreadPoolExecutor = OneWorker
    started = time.perf_counter()
    result = load_memory.run_load(document, store_dir, validate=True)
    result.update(seconds=time.perf_counter() - started, peak_rss_mb=peak_mb(), queries=measured)
    print(json.dumps(result))


def write(result: dict, tracks: int) -> None:
    queries = sorted(result["queries"], key=lambda q: -q["peak_added_mb"])
    report = {"tracks": tracks, "load_seconds": result["seconds"],
              "peak_rss_mb": result["peak_rss_mb"], "queries_run": len(queries),
              "uptime": result["uptime"], "queries": queries}
    (RESULTS / "validation-memory.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["# Memory of each validation query (`bench/validation_memory.py`)", "",
             f"{tracks:,} generated tracks in one document, `load --bulk` with validation, one "
             f"query at a time; load {result['seconds']:.0f} s, peak RSS "
             f"{result['peak_rss_mb']:,.0f} MB, {len(queries)} queries. Uptime at start: "
             f"`{result['uptime']}`. The queries that raised the process's peak RSS most "
             "(peak added: the peak RSS during the query minus the RSS before it):", "",
             "| peak added MB | peak during MB | RSS before → after MB | rows | s | query |",
             "|---:|---:|---|---:|---:|---|"]
    for q in queries[:15]:
        text = " ".join(line.strip() for line in q["query"].splitlines()
                        if not line.startswith("PREFIX"))
        text = text.replace("|", "\\|")[:400]
        lines.append(f"| {q['peak_added_mb']:,.1f} | {q['peak_mb']:,.0f} | "
                     f"{q['rss_before_mb']:,.0f} → {q['rss_after_mb']:,.0f} | {q['rows']:,} | "
                     f"{q['seconds']} | `{text}` |")
    (RESULTS / "validation-memory.md").write_text("\n".join(lines) + "\n")


def current_version(store):  # a TrackStore (imported in the child only)
    """The one current document version of a kept benchmark store."""
    versions = [v for v in store.versions() if v.current]
    assert len(versions) == 1, versions
    return versions[0]


def kept_child(store_dir: str, workers: int) -> None:
    """Validation (context facts, shapes, findings: `Validator.written`, as a load runs it)
    on a kept store's version graph, each shape query's memory recorded."""
    import concurrent.futures

    from fairtracks_ld import heap
    from fairtracks_ld.mapping.prepare import Prepared
    from fairtracks_ld.sources import DocumentReader
    from fairtracks_ld.store import TrackStore
    from fairtracks_ld.validation import Validator, engine

    heap.limit_arenas()
    measured: list[dict] = []
    original = engine._rows

    def rows(store, query, sparql, options, compiled, deadline):
        if workers == 1:
            heap.trim()
            reset_hwm()
        before, cpu = rss_mb(), time.thread_time()
        result = original(store, query, sparql, options, compiled, deadline)
        (_, found), seconds = result
        peak = hwm_mb()
        measured.append({"query": sparql, "prebound": query.prebound is not None,
                         "rows": len(found), "seconds": round(seconds, 2),
                         "cpu_seconds": round(time.thread_time() - cpu, 2),
                         "rss_before_mb": round(before, 1), "rss_after_mb": round(rss_mb(), 1),
                         "peak_added_mb": round(peak - before, 1),
                         "peak_mb": round(peak, 1)})
        return result

    class Workers(concurrent.futures.ThreadPoolExecutor):
        def __init__(self, *_args: object, **_kwargs: object) -> None:
            super().__init__(workers)

    steps: list[dict] = []  # the other steps of a validation, and their memory

    def watch(module: object, name: str) -> None:
        original = getattr(module, name)

        def watched(*args: object, **kwargs: object) -> object:
            if workers == 1:
                heap.trim()
                reset_hwm()
            before, started = rss_mb(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                steps.append({"step": name, "seconds": round(time.perf_counter() - started, 2),
                              "rss_before_mb": round(before, 1),
                              "peak_added_mb": round(hwm_mb() - before, 1),
                              "rss_after_mb": round(rss_mb(), 1)})

        setattr(module, name, watched)

    from fairtracks_ld.validation import documents

    for module, name in ((documents, "context_quads"), (engine, "_share"),
                         (engine, "_empty_groups"), (engine, "_repeat_per_route"),
                         (documents, "_listed_entities")):
        watch(module, name)
    engine._rows = rows
    if workers:
        engine.ThreadPoolExecutor = Workers
    opened = time.perf_counter()
    store = TrackStore(store_dir, base=load_memory.BASE)
    version = current_version(store)
    graph = version.graph
    prepared = Prepared({}, version.collection, version.document, graph, version.doc_version,
                        version.doc_date, version.variant)
    validator = Validator(store)
    heap.trim()
    result: dict = {"graph": graph, "open_seconds": round(time.perf_counter() - opened, 1),
                    "rss_open_mb": round(rss_mb(), 1)}
    reset_hwm()
    started, cpu = time.perf_counter(), time.process_time()
    with DocumentReader(version.source) as reader:  # pointers of findings, as a load
        report = validator.written(store.ox, graph, prepared, version.source, reader=reader)
    result.update(seconds=round(time.perf_counter() - started, 1),
                  cpu_seconds=round(time.process_time() - cpu, 1),
                  results=len(report.findings), validation_peak_mb=round(hwm_mb(), 1),
                  rss_after_validation_mb=round(rss_mb(), 1), queries=measured,
                  steps=steps)
    del report
    heap.trim()
    result["rss_trimmed_mb"] = round(rss_mb(), 1)
    result["peak_rss_mb"] = peak_mb()
    print(json.dumps(result))


def write_kept(result: dict, tracks: int, workers: int, name: str) -> None:
    """The report of a run on a kept store (`--store`)."""
    queries = sorted(result.get("queries", []), key=lambda q: -q["peak_added_mb"])
    (RESULTS / f"{name}.json").write_text(json.dumps({**result, "tracks": tracks,
                                                      "workers": workers,
                                                      "queries": queries}, indent=2) + "\n")
    lines = [f"# Memory of validation on a kept {tracks:,}-track store "
             "(`bench/validation_memory.py --store`)", "",
             f"Uptime at start: `{result['uptime']}`; at end: `{result['uptime_after']}`. "
             f"Graph {result['graph']}. Store opened in {result['open_seconds']} s, RSS then "
             f"{result['rss_open_mb']:,.0f} MB (RocksDB's table readers and the process).", "",
             "| part | s | CPU s | peak RSS MB | RSS after MB |", "|---|---:|---:|---:|---:|"]
    lines.append(
        f"| validation ({len(queries)} shape queries, {workers or 'default'} worker(s), "
        f"{result['results']} findings) | {result['seconds']} | {result['cpu_seconds']} | "
        f"{result['validation_peak_mb']:,.0f} | {result['rss_after_validation_mb']:,.0f} "
        f"(trimmed {result['rss_trimmed_mb']:,.0f}) |")
    if result.get("steps"):
        lines += ["", "Other steps of the validation (several calls of one step: its largest):",
                  "", "| step | calls | s | peak added MB |", "|---|---:|---:|---:|"]
        by_step: dict[str, list[dict]] = {}
        for step in result["steps"]:
            by_step.setdefault(step["step"], []).append(step)
        lines += [f"| {name} | {len(calls)} | {sum(c['seconds'] for c in calls):.1f} | "
                  f"{max(c['peak_added_mb'] for c in calls):,.1f} |"
                  for name, calls in by_step.items()]
    if queries:
        lines += ["", "The queries that raised the peak RSS most (peak added: the peak RSS "
                  "during the query minus the RSS before it; with one worker, freed memory is "
                  "trimmed and the kernel's peak reset before each query):", "",
                  "| peak added MB | peak during MB | rows | s | CPU s | query |",
                  "|---:|---:|---:|---:|---:|---|"]
    for q in queries[:15]:
        text = " ".join(line.strip() for line in q["query"].splitlines()
                        if not line.startswith("PREFIX"))
        text = text.replace("|", "\\|")[:300]
        lines.append(f"| {q['peak_added_mb']:,.1f} | {q['peak_mb']:,.0f} | {q['rows']:,} | "
                     f"{q['seconds']} | {q['cpu_seconds']} | `{text}` |")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--store", type=Path,
                        help="a store kept by load_memory.py --keep-store (nothing is loaded)")
    parser.add_argument("--workers", type=int, default=1,
                        help="with --store: the engine's threads (0: its own choice)")
    parser.add_argument("--name", help="with --store: the report's name (default "
                                       "validation-memory-kept-TRACKS)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--src", type=Path, default=load_memory.SRC,
                        help="the sources to measure (e.g. another checkout's src/)")
    parser.add_argument("--kept-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.kept_child:
        kept_child(args.kept_child[0], int(args.kept_child[1]))
        return
    if args.store:
        started = uptime()
        done = subprocess.run([sys.executable, __file__, "--kept-child", str(args.store),
                               str(args.workers)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(args.src.resolve())})
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result.update(uptime=started, uptime_after=uptime())
        name = args.name or f"validation-memory-kept-{args.tracks}"
        write_kept(result, args.tracks, args.workers, name)
        print((RESULTS / f"{name}.md").read_text())
        return
    load_memory.WORK.mkdir(parents=True, exist_ok=True)
    document = load_memory.document(args.tracks)
    store_dir = load_memory.fresh_store(f"validation-memory-{args.tracks}")
    started = uptime()
    done = subprocess.run([sys.executable, __file__, "--child", str(document), str(store_dir)],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(load_memory.SRC)})
    subprocess.run(["rm", "-rf", str(store_dir)], check=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["uptime"] = started
    write(result, args.tracks)
    print((RESULTS / "validation-memory.md").read_text())


if __name__ == "__main__":
    main()
