"""View settle benchmark: the two bounded steps that bring the current view (the default graph)
up to date after a load, each measured before and after the change to it, side by side.

- copy: an entering version graph into the default graph. Before: every quad read into
  Python objects (`quads_for_pattern`), re-made without its graph and handed to `bulk_extend`
  in calls of 200,000 (current_view.bulk_add as of commit a38b8eb, inlined below). Now:
  `current_view.bulk_add`, Oxigraph's N-Triples dump of the graph read through a pipe by its
  bulk loader in 32 MB calls (blank-node lines through `pyoxigraph.parse`).
- removal: a leaving version graph's triples that no other source holds, deleted from the
  view, when its successor holds most of them. Before: one `quads_for_pattern` lookup per
  triple (`_remove_unheld` as of a38b8eb, inlined). Now: `current_view._remove_unheld` with the
  successor as the likely holder (skipped inside Oxigraph by one FILTER NOT EXISTS query).

The version graph is the first `--quads` quads of a generated document's version graph
(`bench/load_memory.py`'s N-Quads dump of it, made by a load when missing); its successor
holds the same lines shifted by 10 % (90 % shared; blank nodes get fresh ids, as in a real
reload). Each run in a fresh process on a copy of a fixture store; CPU seconds (all threads),
wall seconds and the child's peak RSS (VmHWM); the contenders must leave identical views.

Usage: python bench/view_settle.py [--quads 300000] [--repeat 3]
Writes bench/results/view-settle.json and bench/results/view-settle.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "view-settle"
RESULTS = HERE / "results"
SOURCE = HERE / "work" / "load-memory" / "doc-20000.nq"  # bench/load_memory.py --sizes 20000
OLD, NEW, OTHER = "http://bench/version/old", "http://bench/version/new", "http://bench/other"
CONTENDERS = {"copy": ["per-quad objects + bulk_extend (a38b8eb)",
                       "dump piped into bulk_load (now)"],
              "removal": ["per-triple lookup (a38b8eb)", "successor skipped in one query (now)"]}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def fixtures(quads: int) -> dict[str, Path]:
    """Two stores (made once per size): `copy` holds the old version graph; `removal` holds it,
    the view of it (the default graph) and its successor graph."""
    import pyoxigraph as ox

    made = {step: WORK / f"{step}-{quads}" for step in CONTENDERS}
    if all((path / ".complete").exists() for path in made.values()):
        return made
    if not SOURCE.exists():
        raise SystemExit(f"{SOURCE} is missing: run bench/load_memory.py --sizes 20000 first")
    with SOURCE.open("rb") as handle:
        lines = list(islice(handle, quads + quads // 10))
    graph = lines[0].rsplit(b" ", 2)[-2]  # `<graph>` of the first quad: the version graph
    lines = [line for line in lines if line.rstrip().endswith(graph + b" .")]
    assert len(lines) >= quads + quads // 10, "the dump's version graph is smaller than --quads"

    def named(part: list[bytes], name: str) -> bytes:
        return b"".join(line.replace(graph + b" .", f"<{name}> .".encode()) for line in part)

    for step, path in made.items():
        shutil.rmtree(path, ignore_errors=True)
        store = ox.Store(str(path))
        store.bulk_load(named(lines[:quads], OLD), format=ox.RdfFormat.N_QUADS, lenient=True)
        if step == "removal":
            store.bulk_load(named(lines[quads // 10:], NEW), format=ox.RdfFormat.N_QUADS,
                            lenient=True)
            store.update(f"ADD <{OLD}> TO DEFAULT")
        store.flush()
        del store
        (path / ".complete").touch()
    return made


# ---- measured runs (each in its own process) ---------------------------------------------------


def old_copy(store, graph: str) -> None:
    import pyoxigraph as ox

    quads = store.quads_for_pattern(None, None, None, ox.NamedNode(graph))
    while chunk := [ox.Quad(q.subject, q.predicate, q.object) for q in islice(quads, 200_000)]:
        store.bulk_extend(chunk)


def old_removal(store, graph: str, others: set[str]) -> None:
    import pyoxigraph as ox

    quads = store.quads_for_pattern(None, None, None, ox.NamedNode(graph))
    while chunk := list(islice(quads, 20_000)):
        gone = [ox.Triple(q.subject, q.predicate, q.object) for q in chunk
                if not any(isinstance(h.graph_name, ox.NamedNode) and h.graph_name.value in others
                           for h in store.quads_for_pattern(q.subject, q.predicate, q.object,
                                                            None))]
        named = [t for t in gone if not isinstance(t.subject, ox.BlankNode)
                 and not isinstance(t.object, ox.BlankNode)]
        if named:
            store.update("DELETE DATA { " + " ".join(f"{t} ." for t in named) + " }")
        for triple in gone:
            if isinstance(triple.subject, ox.BlankNode) or isinstance(triple.object, ox.BlankNode):
                store.remove(ox.Quad(triple.subject, triple.predicate, triple.object))
        store.flush()


def child(step: str, which: int, store_dir: str) -> None:
    import pyoxigraph as ox

    from fairtracks_ld.store import current_view

    store = ox.Store(store_dir)
    view = SimpleNamespace(ox=store)  # what current_view reads of a TrackStore
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu, start = usage.ru_utime + usage.ru_stime, time.perf_counter()
    if step == "copy":
        (old_copy(store, OLD) if which == 0 else current_view.bulk_add(view, OLD))  # type: ignore[arg-type]
    elif which == 0:
        old_removal(store, OLD, {NEW, OTHER})
    else:
        current_view._remove_unheld(view, OLD, {NEW, OTHER}, likely=[NEW])  # type: ignore[arg-type]
    store.flush()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    seconds = time.perf_counter() - start
    digest = hashlib.sha256()
    named = sorted(str(q.triple) for q in store.quads_for_pattern(None, None, None,
                                                                  ox.DefaultGraph())
                   if not isinstance(q.subject, ox.BlankNode)
                   and not isinstance(q.object, ox.BlankNode))
    for line in named:
        digest.update(line.encode())
    print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu,
                      "peak_rss_mb": peak_rss_mb(),
                      "view": sum(1 for _ in store.quads_for_pattern(None, None, None,
                                                                     ox.DefaultGraph())),
                      "view_digest": digest.hexdigest()[:16]}))


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent that
    forked it, whose fixture building was large)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure(step: str, which: int, fixture: Path) -> dict:
    store_dir = WORK / f"run-{step}-{which}"
    shutil.rmtree(store_dir, ignore_errors=True)
    shutil.copytree(fixture, store_dir)
    try:
        output = subprocess.run([sys.executable, __file__, "--child", step, str(which),
                                 str(store_dir)], check=True, capture_output=True,
                                text=True).stdout
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)
    return json.loads(output.strip().splitlines()[-1])


# ---- the benchmark ----------------------------------------------------------------------------


def bench(quads: int, repeat: int) -> dict:
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "platform": platform.platform()},
                     "quads": quads, "repeat": repeat, "uptime_at_start": uptime(), "steps": {}}
    previous = RESULTS / "view-settle.json"
    if previous.exists():
        results["notes"] = json.loads(previous.read_text()).get("notes", [])
    made = fixtures(quads)
    runs = {step: [[], []] for step in CONTENDERS}
    for _ in range(repeat):  # interleaved: a busy moment hits both contenders alike
        for step in CONTENDERS:
            for which in (0, 1):
                runs[step][which].append(measure(step, which, made[step]))
                print(step, CONTENDERS[step][which], runs[step][which][-1], file=sys.stderr,
                      flush=True)
    for step, pair in runs.items():
        views = {(r["view"], r["view_digest"]) for both in pair for r in both}
        assert len(views) == 1, f"{step}: the contenders left different views {views}"
        results["steps"][step] = {
            "view_triples": pair[0][0]["view"],
            "contenders": [{"name": CONTENDERS[step][which],
                            "median_seconds": round(statistics.median(
                                r["seconds"] for r in measured), 2),
                            "median_cpu_seconds": round(statistics.median(
                                r["cpu_seconds"] for r in measured), 2),
                            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in measured)),
                            "all_seconds": [round(r["seconds"], 2) for r in measured]}
                           for which, measured in enumerate(pair)]}
    results["uptime_at_end"] = uptime()
    write(results)
    return results


def write(results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "view-settle.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# View settle benchmark (`bench/view_settle.py`)", "",
             f"Machine: {results['machine']['cpus']} CPUs shared with other work, Python "
             f"{results['machine']['python']}; `uptime` at start `{results['uptime_at_start']}`, "
             f"at end `{results['uptime_at_end']}`. A version graph of {results['quads']:,} "
             "quads (its successor shares 90 %); medians of "
             f"{results['repeat']} interleaved runs, each in a fresh process on a copy of the "
             "fixture store. Both contenders of a step leave the same view (checked).", "",
             "| step | contender | median s | median CPU s | peak RSS MB | runs (s) |",
             "|---|---|---:|---:|---:|---|"]
    for step, entry in results["steps"].items():
        for c in entry["contenders"]:
            lines.append(f"| {step} | {c['name']} | {c['median_seconds']} | "
                         f"{c['median_cpu_seconds']} | {c['peak_rss_mb']:,} | "
                         f"{', '.join(str(s) for s in c['all_seconds'])} |")
    lines += ["", "| step | before ÷ now (wall) | before ÷ now (CPU) |", "|---|---:|---:|"]
    for step, entry in results["steps"].items():
        before, now = entry["contenders"]
        lines.append(f"| {step} | {before['median_seconds'] / now['median_seconds']:.2f}x | "
                     f"{before['median_cpu_seconds'] / now['median_cpu_seconds']:.2f}x |")
    if results.get("notes"):
        lines += ["", "## Notes", "", *(f"- {note}" for note in results["notes"])]
    (RESULTS / "view-settle.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quads", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("STEP", "WHICH", "STORE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return
    WORK.mkdir(parents=True, exist_ok=True)
    bench(args.quads, args.repeat)
    print((RESULTS / "view-settle.md").read_text())


if __name__ == "__main__":
    main()
