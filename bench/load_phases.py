"""Where one document's load spends its CPU: process CPU and wall seconds per step.

One generated document (`fairtracks-ld generate --tracks N --tracks-per-document N --seed 1`,
made and kept by bench/load_memory.py) is loaded with `--bulk` into a copy of a store holding
the bundled ontologies (load_memory's template), in this process,
as `fairtracks-ld load` does (`load_sources`, malloc arenas limited), with and without
validation. The steps are told apart by the loader's own checkpoints (faults.checkpoint) and by
timing a few functions where they are called (the validation's context facts, shared value sets,
shape queries; the view's settle; the search segments and API exports made before the load
returns). Process CPU includes every thread: Oxigraph's bulk loader and
RocksDB's compactions run beside the step that started them, so a step's CPU is what the process
spent while it ran, not what it alone cost.

Usage: python bench/load_phases.py [--tracks 50000] [--kinds load no-validation] [--keep]
Writes bench/results/load-phases-N.json and .md (with --keep, the runs of the last json that are
not measured again stay in them).
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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import load_memory
from load_memory import document, template  # the same document and template store

HERE = Path(__file__).resolve().parent
# Measured: the loads themselves; the background compaction a big load starts (store/optimizer.py)
# would run beside what is measured next.
os.environ.setdefault("FAIRTRACKS_LD_OPTIMIZE_SHARE", "0")
SRC = HERE.parent / "src"
WORK = HERE / "work" / "load-phases"  # the stores loaded (the template's copies)
RESULTS = HERE / "results"
BASE = "http://localhost:8000/"
# (module, function): the steps timed by wrapping, in the order they run
TIMED = [
    ("fairtracks_ld.validation.documents", "context_quads", "validation: context facts"),
    ("fairtracks_ld.validation.documents", "validate", "validation: shapes (the engine)"),
    # a document over writing.MIRROR_BYTES: its windows, validated while it is written
    ("fairtracks_ld.validation.windows", "add_context", "validation: context facts"),
    ("fairtracks_ld.validation.windows", "validate", "validation: shapes (the engine)"),
    ("fairtracks_ld.validation.engine", "_empty_groups", "… of which shapes with no focus"),
    ("fairtracks_ld.validation.engine", "_share", "… of which shared value sets"),
    ("fairtracks_ld.store.current_view", "settle", "view: settle (add to default graph)"),
    ("fairtracks_ld.load", "document_notes", "term checks"),
    ("fairtracks_ld.search.segments", "prepare", "search segments"),
    ("fairtracks_ld.search.exports", "prepare", "API exports"),
]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Steps:
    """CPU and wall seconds per step: between checkpoints, and inside timed functions (the
    outermost one's time is taken out of the checkpoint interval that holds it; one called
    inside another is a part of it, and checkpoints inside a timed function are ignored)."""

    def __init__(self) -> None:
        self.start = (cpu(), time.perf_counter())
        self.last = self.start
        self.totals: dict[str, list[float]] = {}
        self.inner = [0.0, 0.0]  # timed-function time inside the current checkpoint interval
        self.depth = 0  # timed functions running (all on the loader's thread)

    def add(self, name: str, seconds: tuple[float, float]) -> None:
        total = self.totals.setdefault(name, [0.0, 0.0, 0])
        total[0] += seconds[0]
        total[1] += seconds[1]
        total[2] += 1

    def checkpoint(self, stage: str) -> None:
        if self.depth:
            return
        now = (cpu(), time.perf_counter())
        spent = (now[0] - self.last[0] - self.inner[0], now[1] - self.last[1] - self.inner[1])
        self.add(f"until checkpoint {stage}", spent)
        self.last, self.inner = now, [0.0, 0.0]

    def wrap(self, function: Callable, name: str) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            before = (cpu(), time.perf_counter())
            self.depth += 1
            try:
                return function(*args, **kwargs)
            finally:
                self.depth -= 1
                spent = (cpu() - before[0], time.perf_counter() - before[1])
                self.add(name, spent)
                if not self.depth:
                    self.inner[0] += spent[0]
                    self.inner[1] += spent[1]
        return timed


def run(kind: str, path: Path) -> dict:
    """One load, in this process (run by `measure` in a fresh one)."""
    import importlib

    from fairtracks_ld import heap, load, writing
    from fairtracks_ld.mapping import curies
    from fairtracks_ld.store import TrackStore, compaction, current_view

    store_dir = WORK / f"store-{kind}"
    shutil.rmtree(store_dir, ignore_errors=True)
    shutil.rmtree(store_dir.with_name(store_dir.name + ".snapshots"), ignore_errors=True)
    shutil.copytree(template(), store_dir)
    heap.limit_arenas()
    curies.resolve("geo:GSE1")  # registry start-up: a one-off cost, not the load's
    steps = Steps()
    for module in (writing, current_view, compaction, load):
        module.checkpoint = steps.checkpoint
    for module_name, function, name in TIMED:
        module = importlib.import_module(module_name)
        setattr(module, function, steps.wrap(getattr(module, function), name))
    store = TrackStore(str(store_dir), base=BASE)
    steps.start = steps.last = (cpu(), time.perf_counter())
    report = load.load_sources(store, [str(path)], bulk=True, validate=kind == "load")
    assert report.ok, [str(e) for e in report.not_loaded]
    steps.checkpoint("returned")
    total = (cpu() - steps.start[0], time.perf_counter() - steps.start[1])
    shutil.rmtree(store_dir, ignore_errors=True)
    shutil.rmtree(store_dir.with_name(store_dir.name + ".snapshots"), ignore_errors=True)
    return {"cpu_seconds": round(total[0], 1), "wall_seconds": round(total[1], 1),
            "steps": {name: {"cpu": round(c, 1), "wall": round(w, 1), "calls": n}
                      for name, (c, w, n) in steps.totals.items()}}


def measure(kind: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(SRC), "FAIRTRACKS_LD_PAUSE_AT": "never"}
    before = os.getloadavg()
    done = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], env=env,
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_average"] = [before[0], os.getloadavg()[0]]
    return result


def write(tracks: int, results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    stem = f"load-phases-{tracks}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    kinds = list(results["runs"])
    names: list[str] = []  # in the order they ran, a part (…) after the step holding it
    for run_ in results["runs"].values():
        parts: list[str] = []
        for step in run_["steps"]:
            if step in names or step in parts:
                continue
            if step.startswith("…"):
                parts.append(step)
            else:
                names += [step, *parts]
                parts = []
    lines = [f"# Where a {tracks:,}-track document's load spends its CPU "
             "(`bench/load_phases.py`)", "",
             f"Measured {results['date']}, {results['machine']}; one `load --bulk` per kind in a "
             "fresh process. Seconds of process CPU (every thread) / wall per step; a step "
             "named `until checkpoint X` is the loader's work between two checkpoints, less "
             "the timed functions inside it (rows starting with … are parts of the row above "
             "them).", "",
             "| step | " + " | ".join(f"{k} CPU s | {k} wall s" for k in kinds) + " |",
             "|---|" + "---:|---:|" * len(kinds)]
    for name in names:
        cells = []
        for kind in kinds:
            step = results["runs"][kind]["steps"].get(name)
            cells += [f"{step['cpu']}", f"{step['wall']}"] if step else ["-", "-"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(
        f"**{results['runs'][k]['cpu_seconds']}** | **{results['runs'][k]['wall_seconds']}**"
        for k in kinds) + " |")
    lines += ["", "Load average (1 min) before / after: " + "; ".join(
        f"{k} {r['load_average'][0]:.1f} / {r['load_average'][1]:.1f}"
        for k, r in results["runs"].items()), ""]
    lines += [f"{note}\n" for note in results.get("notes", [])]  # readings, added by hand
    (RESULTS / f"{stem}.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--kinds", nargs="+", choices=["load", "no-validation"],
                        default=["load", "no-validation"])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "DOCUMENT"), help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true",
                        help="keep the last json's runs of the kinds not measured again")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the markdown from the json of the last run")
    args = parser.parse_args()
    sys.path.insert(0, str(SRC))
    if args.child:
        print(json.dumps(run(args.child[0], Path(args.child[1]))))
        return
    if args.report_only:
        write(args.tracks, json.loads((RESULTS / f"load-phases-{args.tracks}.json").read_text()))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    load_memory.WORK.mkdir(parents=True, exist_ok=True)
    path = document(args.tracks)
    template()
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
               "tracks": args.tracks, "runs": {}}
    last = RESULTS / f"load-phases-{args.tracks}.json"
    if args.keep and last.exists():
        kept = json.loads(last.read_text())
        results["runs"] = {k: v for k, v in kept["runs"].items() if k not in args.kinds}
        results["notes"] = kept.get("notes", [])
    for kind in args.kinds:
        results["runs"][kind] = measure(kind, path)
        print(kind, results["runs"][kind]["cpu_seconds"], file=sys.stderr, flush=True)
    write(args.tracks, results)
    print((RESULTS / f"load-phases-{args.tracks}.md").read_text())


if __name__ == "__main__":
    main()
