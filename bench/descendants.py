"""Descendant search: the track → ancestor predicate (closure join) vs a rdfs:subClassOf* path.

The question: which tracks come from a sample whose cell type is lymphocyte (CL:0000542) or any
of its descendants (the generator's table says 311)? Asked two ways over the same on-disk store
(the shipped ontology bundle plus a generated corpus, current view), in-process and warm:

- inferred: `?track ft:cell_type_ancestor <CL_0000542>`, which the endpoint rewrites
  (`sparql.virtual.rewrite`) into the path from the track to its sample's cell type term and on
  through the stored class closure (`…/ft:term_id/(ft:descends_from|ft:found_under)?`): nothing
  is stored per track, the closure is computed once from the ontologies;
- property path: `?cell rdfs:subClassOf* <CL_0000542>` over the ontologies, then the join from
  the annotation to the track (annotation ← sample type ← sample ← experiment ← track).

Each is measured as a count of the matching tracks and as the list of their IRIs, with the
constant in the query text (the best plan for the property path); the inferred count is also
measured the way `fairtracks-ld search` runs it, with the term bound by `substitutions=`.
Medians over repeats, the ratio, and what the closure graph costs: its quads (ft:found_under
links among them) and bytes on disk against a baseline store holding the same data and
ontologies without it.

Stores are built once and cached under bench/work/descendants-{size}/ (delete to rebuild; a
cached store of an earlier layout, whose loads wrote companion graphs of stored ancestor links,
is rebuilt); loading 1M tracks takes tens of minutes on a 2-core machine. Runs kept in
bench/results/descendants.json from that layout (their `inferred` cases read the stored links)
are marked "carrier links" in the cost table.

Usage: python bench/descendants.py [--sizes 100000 1000000] [--repeat 15] [--path-repeat 3]
       [--no-baseline]
Writes bench/results/descendants.json and bench/results/descendants.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox

from fairtracks_ld.sparql.virtual import rewrite

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"
BASE = "http://localhost:8000/"
TRACKS_PER_DOCUMENT = 20_000
TERM = "http://purl.obolibrary.org/obo/CL_0000542"  # lymphocyte
LAYOUT = "closure"  # what build.json records: ancestors by the closure join, no stored links

INFERRED_COUNT = ("SELECT (COUNT(DISTINCT ?track) AS ?tracks) WHERE {{ "
                  "?track ft:cell_type_ancestor {term} }}")
INFERRED_LIST = "SELECT ?track WHERE {{ ?track ft:cell_type_ancestor {term} }}"
INFERRED_BOUND = ("SELECT ?term (COUNT(DISTINCT ?track) AS ?tracks) WHERE { "
                  "?track ft:cell_type_ancestor ?term } GROUP BY ?term")
PATH_JOIN = """
  ?cell rdfs:subClassOf* {term} .
  ?annotation ft:term_id ?cell .
  ?sample_type ft:cell_type ?annotation .
  ?sample ft:sample_type ?sample_type .
  ?experiment ft:sample_ref ?sample .
  ?track ft:experiment_ref ?experiment ."""
PATH_COUNT = "SELECT (COUNT(DISTINCT ?track) AS ?tracks) WHERE {{" + PATH_JOIN + " }}"
PATH_LIST = "SELECT DISTINCT ?track WHERE {{" + PATH_JOIN + " }}"
PAGE = 100  # a first page of results, as a search interface shows
INFERRED_PAGE = INFERRED_LIST + f" LIMIT {PAGE}"
PATH_PAGE = PATH_LIST + f" LIMIT {PAGE}"


# ---- stores ------------------------------------------------------------------------------------


def corpus(size: int) -> Path:
    """Generate (once) a corpus of `size` tracks (the same folders bench/ingest.py uses)."""
    from fairtracks_ld.generate import write_corpus

    folder = WORK / f"corpus-{size}"
    marker = folder / ".complete"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        write_corpus(folder, tracks=size, seed=1, tracks_per_document=TRACKS_PER_DOCUMENT)
        marker.touch()
    return folder


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build_store(size: int) -> tuple[Path, dict]:
    """The bundle and its closure, then the corpus with `load --bulk`."""
    from fairtracks_ld.load import load_sources
    from fairtracks_ld.ontology.install import load_bundle
    from fairtracks_ld.reasoning import refresh
    from fairtracks_ld.store import TrackStore

    folder = WORK / f"descendants-{size}"
    info_path = folder / "build.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("layout") == LAYOUT:
            return folder / "store", info
        print(f"{folder}: built by an earlier layout (stored ancestor links), rebuilding",
              file=sys.stderr, flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    files = sorted(str(p) for p in corpus(size).glob("*.json"))
    store = TrackStore(folder / "store", base=BASE)
    start = time.perf_counter()
    load_bundle(store, reason=False)
    bundle_seconds = time.perf_counter() - start
    report = refresh(store)
    start = time.perf_counter()
    # Shapes are not the question here (bench/validate.py times them): load as Oxigraph would.
    loaded = load_sources(store, files, bulk=True, validate=False)
    load_seconds = time.perf_counter() - start
    assert loaded.ok, loaded.failed
    store.flush()
    info = {
        "tracks": size,
        "documents": len(files),
        "bundle_load_seconds": round(bundle_seconds, 2),
        "layout": LAYOUT,
        "closure_seconds": round(report.seconds, 2),
        "closure_classes": report.classes,
        "subclass_of_links": report.subclass_of,
        "descends_from_links": report.descends_from,
        "found_under_links": report.found_under,
        "corpus_load_seconds": round(load_seconds, 2),
        "quads": len(store.ox),
        "closure_quads": closure_quads(store),
        "bytes": disk_bytes(folder / "store"),
    }
    del store
    info_path.write_text(json.dumps(info, indent=2))
    return folder / "store", info


def closure_quads(store) -> int:
    """The quads of the closure graph: all the store holds for ancestor-aware answers."""
    from fairtracks_ld.reasoning import closure_graph

    graph = closure_graph(store)
    rows = store.ox.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    return int(next(iter(rows))["n"].value)


def build_baseline(size: int) -> dict:
    """The same ontologies and documents without inferred graphs (and without a catalog)."""
    from fairtracks_ld.mapping.prepare import prepare
    from fairtracks_ld.ontology.bundle import default_bundle_dir, load_bundle_modules, open_module
    from fairtracks_ld.sources import read_source

    folder = WORK / f"descendants-{size}-baseline"
    info_path = folder / "build.json"
    if info_path.exists():
        return json.loads(info_path.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "store").mkdir(parents=True)
    store = ox.Store(str(folder / "store"))
    start = time.perf_counter()
    for module in load_bundle_modules(default_bundle_dir()):
        with open_module(module.path) as turtle:
            store.bulk_load(turtle.read(), format=ox.RdfFormat.TURTLE,
                            to_graph=ox.NamedNode(module.ontology_iri))
    for path in sorted(corpus(size).glob("*.json")):
        store.bulk_load(prepare(read_source(str(path)), BASE).jsonld_bytes(),
                        format=ox.RdfFormat.JSON_LD)
    store.flush()
    info = {"seconds": round(time.perf_counter() - start, 2), "quads": len(store),
            "bytes": disk_bytes(folder / "store")}
    del store
    info_path.write_text(json.dumps(info, indent=2))
    return info


# ---- measurements ------------------------------------------------------------------------------


SLOW_SECONDS = 30.0  # a first run this slow is the measurement: no warm-up, no repeats


def timed(run, repeat: int) -> tuple[float, list[float], object]:
    """Median milliseconds of `run()` over `repeat` runs (after one warm-up), and its result.

    A first run slower than SLOW_SECONDS is the only one (at 1M tracks a property path runs for
    minutes; repeating it would only confirm that)."""
    start = time.perf_counter()
    result = run()
    first = (time.perf_counter() - start) * 1000
    if first > SLOW_SECONDS * 1000:
        return first, [first], result
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), times, result


def measure(store_path: Path, repeat: int, path_repeat: int) -> dict:
    from fairtracks_ld.store import TrackStore

    store = TrackStore(store_path)
    term = str(ox.NamedNode(TERM))
    bound = {ox.Variable("term"): ox.NamedNode(TERM)}

    def count(sparql: str, **options) -> int:
        return int(next(iter(store.query(rewrite(sparql), **options)))["tracks"].value)

    def listing(sparql: str) -> int:
        return len([row["track"] for row in store.query(rewrite(sparql))])

    cases = {
        "inferred count": (lambda: count(INFERRED_COUNT.format(term=term)), repeat),
        "inferred count (term bound by substitutions)": (
            lambda: count(INFERRED_BOUND, substitutions=bound), repeat),
        "inferred list": (lambda: listing(INFERRED_LIST.format(term=term)), repeat),
        "inferred first page": (lambda: listing(INFERRED_PAGE.format(term=term)), repeat),
        "property path count": (lambda: count(PATH_COUNT.format(term=term)), path_repeat),
        "property path list": (lambda: listing(PATH_LIST.format(term=term)), path_repeat),
        "property path first page": (lambda: listing(PATH_PAGE.format(term=term)), repeat),
    }
    results = {}
    for name, (run, times) in cases.items():
        median, all_times, answer = timed(run, times)
        results[name] = {"median_ms": round(median, 2), "runs_ms": [round(t, 2) for t in all_times],
                         "tracks": answer}
        print(f"  {name}: {median:.2f} ms ({answer} tracks)", file=sys.stderr, flush=True)
    answers = {r["tracks"] for name, r in results.items() if "page" not in name}
    pages = {r["tracks"] for name, r in results.items() if "page" in name}
    assert len(answers) == 1 and pages == {min(PAGE, *answers)}, f"they disagree: {results}"
    descendants = len(list(store.query(
        f"SELECT ?c WHERE {{ ?c ft:descends_from {term} }}")))
    return {"cases": results, "descendants_of_term": descendants}


# ---- driver ------------------------------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    """One size in this process: build (or reuse) the stores, then measure."""
    size = args.child
    store_path, info = build_store(size)
    baseline = None if args.no_baseline else build_baseline(size)
    print(f"{size:,} tracks: store ready ({info['quads']:,} quads)", flush=True)
    measured = measure(store_path, args.repeat, args.path_repeat)
    print(json.dumps({"size": size, "build": info, "baseline": baseline, **measured}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--path-repeat", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the baseline store (bytes of the inferred graphs unknown)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    runs = []
    for size in args.sizes:
        command = [sys.executable, __file__, "--child", str(size), "--repeat", str(args.repeat),
                   "--path-repeat", str(args.path_repeat)]
        if args.no_baseline:
            command.append("--no-baseline")
        process = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        lines = process.stdout.strip().splitlines()
        print("\n".join(lines[:-1]))
        runs.append(json.loads(lines[-1]))
    write_results(runs, args)


def write_results(runs: list[dict], args: argparse.Namespace) -> None:
    RESULTS.mkdir(exist_ok=True)
    machine = {"cpus": _cpus(), "python": platform.python_version(),
               "pyoxigraph": ox.__version__}
    existing = RESULTS / "descendants.json"
    previous = json.loads(existing.read_text())["runs"] if existing.exists() else []
    by_size = {r["size"]: r for r in previous} | {r["size"]: r for r in runs}
    merged = [by_size[s] for s in sorted(by_size)]
    payload = {"term": TERM, "machine": machine, "repeat": args.repeat,
               "path_repeat": args.path_repeat, "runs": merged}
    existing.write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / "descendants.md").write_text(render(payload))
    print(f"wrote {existing} and {RESULTS / 'descendants.md'}")


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _ratio(cases: dict, shape: str) -> str:
    path, inferred = cases.get(f"property path {shape}"), cases.get(f"inferred {shape}")
    if not path or not inferred:
        return "n/a"
    return f"{path['median_ms'] / inferred['median_ms']:,.0f}x"


def _number(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def render(payload: dict) -> str:
    machine = payload["machine"]
    lines = [
        "# Descendant search benchmark (`bench/descendants.py`)",
        "",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, pyoxigraph "
        f"{machine['pyoxigraph']}. Term: lymphocyte (`CL:0000542`). In-process, warm, on-disk "
        f"stores; medians of {payload['repeat']} runs (property path: {payload['path_repeat']}); "
        f"a case whose first run takes over {SLOW_SECONDS:g} s is that one run.",
        "",
        "| tracks | descendants | matching tracks | case | median ms |",
        "|---:|---:|---:|---|---:|",
    ]
    for run in payload["runs"]:
        for name, case in run["cases"].items():
            lines.append(f"| {run['size']:,} | {run['descendants_of_term']} | "
                         f"{case['tracks']:,} | {name} | {case['median_ms']:,} |")
    lines += ["", "| tracks | count: path / inferred | list: path / inferred | "
              "first page: path / inferred |", "|---:|---:|---:|---:|"]
    for run in payload["runs"]:
        ratios = [_ratio(run["cases"], shape) for shape in ("count", "list", "first page")]
        lines.append(f"| {run['size']:,} | " + " | ".join(ratios) + " |")
    lines += ["", "What the closure graph costs (layout \"carrier links\": a run of the earlier "
              "layout, whose quads and bytes include the ancestor links its loads stored in "
              "companion graphs, and whose inferred cases read those links):", "",
              "| tracks | layout | quads | closure quads | of which found_under | bytes | "
              "baseline quads | baseline bytes | bytes growth | closure s | corpus load s | "
              "baseline load s (bundle + corpus) |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in payload["runs"]:
        build, base = run["build"], run.get("baseline") or {}
        growth = (f"{build['bytes'] / base['bytes'] - 1:+.0%}" if base.get("bytes") else "n/a")
        lines.append(
            f"| {run['size']:,} | {build.get('layout', 'carrier links')} | {build['quads']:,} | "
            f"{build['closure_quads']:,} | {_number(build.get('found_under_links'))} | "
            f"{build['bytes']:,} | {_number(base.get('quads'))} | {_number(base.get('bytes'))} | "
            f"{growth} | {build['closure_seconds']} | {build['corpus_load_seconds']} | "
            f"{base.get('seconds', 'n/a')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
