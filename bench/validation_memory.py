"""Which validation queries grow the loader's memory: each shape query's own RSS growth.

`load --bulk` with validation of one generated document (as bench/load_memory.py runs it), in a
fresh process whose validation runs one query at a time (the engine's thread pool held to one
worker: the queries' memory does not overlap as it does with the engine's 2-4 threads). Around
each query (validation/engine.py `_rows`) the process's RSS and its peak are read:
the kernel's peak (VmHWM) is reset before each query, so the peak during a query minus the RSS
before it is the memory that query needed at once (Oxigraph's
evaluation: hash tables of joins, MINUS, DISTINCT; and the solutions listed in Python). Its
rows and seconds are kept too. The queries that add the most are listed.

Usage: python bench/validation_memory.py [--tracks 50000]
Writes bench/results/validation-memory.json and .md.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    load_memory.WORK.mkdir(parents=True, exist_ok=True)
    document = load_memory.document(args.tracks)
    store_dir = load_memory.fresh_store(f"validation-memory-{args.tracks}")
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    done = subprocess.run([sys.executable, __file__, "--child", str(document), str(store_dir)],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(load_memory.SRC)})
    subprocess.run(["rm", "-rf", str(store_dir)], check=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["uptime"] = uptime
    write(result, args.tracks)
    print((RESULTS / "validation-memory.md").read_text())


if __name__ == "__main__":
    main()
