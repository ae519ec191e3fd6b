"""Faceted search: the in-memory facet index vs SPARQL facet counts (track predicates through
the class closure, and rdfs:subClassOf* property paths).

The search: three ancestor-aware filters, sample type = leukocyte (CL:0000738), technique =
ChIP-seq assay (OBI:0000716), target = histone modification (SO:0001700), and the value counts
of all ten fields under it (disjunctive: a filtered field is counted without its own filter),
plus the first page of 25 tracks. Asked three ways of the same read-only store, in-process and
warm (the server answers with the same functions, minus HTTP):

- index: `run_search` on the facet index (numpy), the facet value lists the page renders, the
  page's track IRIs; then, separately, the SPARQL that fetches the page's 25 table rows (FROM
  the version graphs holding those tracks, as the server runs it);
- inferred: one SPARQL query for the matches and one per field for its counts, filters and
  counts on the track predicates `ft:*_ancestor` (not stored: rewritten into their paths to the
  annotation's term and on through the inferred class closure, sparql/virtual.py);
- paths: the same queries with each ontology filter and roll-up done by `rdfs:subClassOf*` from
  the annotation's term (is_a only: the closure also follows part_of, so counts differ).

Index segments are kept under bench/work/search-segments-<store folder>/ (never in the
store): the first build reads every version graph (unless an earlier run left them), the second
loads the segments as a new server process would. SPARQL runs on the store's current view (its
list of graphs, as the server does until the one-graph copy of a snapshot is built), each query
in a worker process killed after --timeout seconds.

Usage: python bench/search.py [--store bench/work/descendants-100000/store] [--repeat 15]
       [--sparql-repeat 3] [--timeout 60] [--tile 10]
       [--segments DIR]
Writes bench/results/search.json and bench/results/search.md (one section per store: a run
replaces its own store's figures and keeps the others').
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import time
from pathlib import Path

from fairtracks_ld.sparql.virtual import rewrite

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_STORE = HERE / "work" / "descendants-100000" / "store"
OBO = "http://purl.obolibrary.org/obo/"
FILTERS = {"sample_type": OBO + "CL_0000738", "technique": OBO + "OBI_0000716",
           "target": OBO + "SO_0001700"}
SUBCLASS = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>*"


def direct_path(field) -> str:
    """Property path from a track to the terms its annotations name (ontology fields)."""
    from fairtracks_ld.mapping.annotations import ANNOTATIONS
    from fairtracks_ld.search.reader import OWNER_PATHS

    paths = []
    for kind in field.kinds:
        owner, path = ANNOTATIONS[kind]
        steps = [f"ft:{s}" for s in OWNER_PATHS[owner]] + path.split("/") + ["ft:term_id"]
        paths.append("/".join(steps))
    return "|".join(f"({p})" for p in paths)


def clauses(style: str, skip: str | None = None) -> str:
    from fairtracks_ld.search.fields import BY_NAME

    lines = []
    for number, (name, value) in enumerate(FILTERS.items()):
        if name == skip:
            continue
        field = BY_NAME[name]
        if style == "paths":
            lines.append(f"?track {direct_path(field)} ?d{number} . "
                         f"?d{number} {SUBCLASS} <{value}> .")
        else:
            lines.append(f"?track ft:{name}_ancestor <{value}> .")
    return "\n  ".join(lines)


def sparql_queries(style: str) -> dict[str, str]:
    """The matches query and one count query per field, for `inferred` or `paths`."""
    from fairtracks_ld.search.fields import FIELDS

    queries = {"matches": "SELECT (COUNT(DISTINCT ?track) AS ?n) WHERE {\n  "
                          + clauses(style) + "\n}"}
    for field in FIELDS:
        if not field.ontology:
            reach = f"?track {field.sparql_path()} ?value ."
        elif style == "paths":
            reach = f"?track {direct_path(field)} ?d . ?d {SUBCLASS} ?value ."
        else:
            reach = f"?track ft:{field.name}_ancestor ?value ."
        queries[f"counts:{field.name}"] = (
            "SELECT ?value (COUNT(DISTINCT ?track) AS ?n) WHERE {\n  "
            + clauses(style, skip=field.name) + f"\n  {reach}\n}} GROUP BY ?value")
    return queries


def _worker(store_path: str, conn) -> None:
    from fairtracks_ld.store import TrackStore

    store = TrackStore(store_path, read_only=True)
    while (query := conn.recv()) is not None:
        start = time.perf_counter()
        rows = list(store.query(rewrite(query)))
        conn.send((time.perf_counter() - start, len(rows),
                   int(rows[0]["n"].value) if len(rows) == 1 else None))


class Worker:
    """A query process that can be killed when a query runs too long."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self._start()

    def _start(self) -> None:
        context = mp.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(str(self.store), child),
                                       daemon=True)
        self.process.start()

    def run(self, query: str, timeout: float) -> tuple[float, int, int | None] | None:
        self.conn.send(query)
        if not self.conn.poll(timeout):
            self.process.kill()
            self.process.join()
            self._start()
            return None
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send(None)
        self.process.join(10)


def median_ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 1)


def measure_sparql(store: Path, style: str, repeat: int, timeout: float) -> dict:
    worker = Worker(store)
    found: dict[str, dict] = {}
    for name, query in sparql_queries(style).items():
        times, rows, n = [], 0, None
        for _ in range(repeat):
            answer = worker.run(query, timeout)
            if answer is None:
                times = []
                break
            seconds, rows, n = answer
            times.append(seconds)
        found[name] = ({"median_ms": median_ms(times), "runs": len(times), "rows": rows,
                        **({"tracks": n} if n is not None else {})}
                       if times else {"median_ms": None, "timed_out_after_s": timeout})
        print(f"  {style:9} {name:32} {found[name]}", flush=True)
    worker.close()
    return {"queries": found, "text": sparql_queries(style)}


def tiled(index, times: int):
    """The index repeated `times` over (the same value combinations, `times` as many tracks):
    the engine's cost at a larger scale, without a larger store."""
    import dataclasses

    import numpy as np

    fields = {name: dataclasses.replace(f, column=np.tile(f.column, times))
              for name, f in index.fields.items()}
    step = len(index.text) + 1
    starts = np.concatenate([index.line_starts + k * step for k in range(times)])
    return dataclasses.replace(index, tracks=index.tracks * times, fields=fields,
                               text="\n".join([index.text] * times), line_starts=starts)


def measure_index(store_path: Path, repeat: int, folder: Path, tile: int) -> dict:
    import numpy as np

    from fairtracks_ld.mapping.namespaces import PREFIXES
    from fairtracks_ld.search import index as facet_index
    from fairtracks_ld.search.engine import Search, page_positions, run_search
    from fairtracks_ld.search.sparql import rows_query
    from fairtracks_ld.store import TrackStore

    store = TrackStore(store_path, read_only=True)
    cached = any(folder.glob("*.npz"))
    start = time.perf_counter()
    facet_index.build_index(store, str(store_path), folder)
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    index = facet_index.build_index(store, str(store_path), folder)
    rebuild_seconds = time.perf_counter() - start
    search = Search({k: (v,) for k, v in FILTERS.items()})

    def answer(index) -> tuple[int, np.ndarray, dict]:
        result = run_search(index, search)
        facets = {}
        for name, facet in index.fields.items():  # what the page and facets.json list
            counts = result.counts[name]
            keep = np.flatnonzero((counts > 0) & ~facet.hidden)
            keep = keep[np.lexsort((keep, -counts[keep]))]
            facets[name] = [(facet.keys[v], index.label(facet.keys[v]), int(counts[v]))
                            for v in keep]
        return result.total, page_positions(search, result), facets

    def timed_answers(index) -> tuple[list[float], tuple]:
        times, answered = [], ()
        for _ in range(repeat):
            begin = time.perf_counter()
            answered = answer(index)
            times.append(time.perf_counter() - begin)
        return times, answered

    times, (total, positions, facets) = timed_answers(index)
    tiled_times, tiled_total = [], 0
    if tile > 1:
        tiled_times, (tiled_total, _, _) = timed_answers(tiled(index, tile))
    rows_times = []
    for _ in range(repeat):
        begin = time.perf_counter()
        rows = list(store.ox.query(rows_query([index.tracks[i] for i in positions],  # its FROM
                                              index.graphs_of(positions)), prefixes=PREFIXES))
        rows_times.append(time.perf_counter() - begin)
    assert len(rows) == len(positions)
    counts = {f"counts:{k}": len(v) for k, v in facets.items()}
    return {
        "tracks": len(index.tracks), "build_seconds": round(build_seconds, 1),
        "segments_were_on_disk": cached, "rebuild_from_disk_seconds": round(rebuild_seconds, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "search_and_counts_median_ms": median_ms(times),
        "search_and_counts_max_ms": round(max(times) * 1000, 1),
        "rows_sparql_median_ms": median_ms(rows_times),
        "matches": total, "values_listed": counts,
        **({"tiled": {"times": tile, "tracks": len(index.tracks) * tile,
                      "matches": tiled_total,
                      "search_and_counts_median_ms": median_ms(tiled_times),
                      "search_and_counts_max_ms": round(max(tiled_times) * 1000, 1)}}
           if tile > 1 else {}),
        "facet_counts_sample": {k: v[:3] for k, v in facets.items()},
    }


def markdown(report: dict) -> str:
    index, inferred, paths = report["index"], report["inferred"], report["paths"]

    def total(side: dict) -> tuple[float, str]:
        """Sum of the medians; a query that timed out counts as its time limit (a bound)."""
        queries = side["queries"].values()
        late = [q for q in queries if q["median_ms"] is None]
        ms = sum(q["median_ms"] or q["timed_out_after_s"] * 1000 for q in queries)
        return ms, ("> " if late else "") + f"{ms:,.0f} ms" + (
            f" ({len(late)} queries stopped at {late[0]['timed_out_after_s']:g} s)" if late
            else "")

    lines = [
        f"## {index['tracks']:,} tracks", "",
        f"Store: `{report['store']}` ({index['tracks']:,} tracks), {report['machine']}. "
        f"Load average when starting: {report['load_average']}.", "",
        "Search: sample type = leukocyte (CL:0000738), technique = ChIP-seq assay "
        "(OBI:0000716), target = histone modification (SO:0001700), all ancestor-aware; "
        "value counts of all ten fields (disjunctive); first page of 25.", "",
        "| approach | search + facet counts (median) | vs index |",
        "|---|---|---|",
        f"| facet index (in memory) | {index['search_and_counts_median_ms']} ms "
        f"(max {index['search_and_counts_max_ms']} ms) | 1x |",
    ]
    for name, side in (("SPARQL, track predicates (closure)", inferred),
                       ("SPARQL, rdfs:subClassOf* paths", paths)):
        ms, text = total(side)
        bound = "> " if text.startswith(">") else ""
        lines.append(f"| {name} (1 + 10 queries) | {text} | "
                     f"{bound}{ms / index['search_and_counts_median_ms']:,.0f}x |")
    lines += [
        *([f"| facet index, {index['tiled']['tracks']:,} tracks (the index tiled "
            f"{index['tiled']['times']}x: engine only, no such store) | "
            f"{index['tiled']['search_and_counts_median_ms']} ms (max "
            f"{index['tiled']['search_and_counts_max_ms']} ms) | |"] if "tiled" in index else []),
        "", f"Matches: {index['matches']:,}. The page's 25 table rows by SPARQL (VALUES of the "
        f"page's IRIs, FROM their version graphs): {index['rows_sparql_median_ms']} ms median, "
        "on top of the index time.",
        f"Building the index: {index['build_seconds']} s "
        + ("(segments already on disk)" if index["segments_were_on_disk"] else
           "(cold: every version graph read)")
        + f", {index['rebuild_from_disk_seconds']} s from segments on disk (a new server "
        f"process); peak memory of the benchmark process {index['max_rss_mb']} MB.", "",
        "| query | inferred (ms) | paths (ms) |", "|---|---|---|",
    ]
    def show(query: dict) -> str:
        if query["median_ms"] is None:
            return f"> {query['timed_out_after_s']:g} s"
        return f"{query['median_ms']:,}"

    for name in inferred["queries"]:
        lines.append(f"| {name} | {show(inferred['queries'][name])} | "
                     f"{show(paths['queries'][name])} |")
    lines += ["", "The path-based counts follow is_a only; the closure (and the index) "
              "also follow part_of and skos:broader, so their counts can be larger.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--sparql-repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--tile", type=int, default=10, help="also time the engine on the "
                        "index repeated this many times (1: not)")
    parser.add_argument("--segments", type=Path, help="where index segments are kept "
                        "(default: bench/work/search-segments-<store folder name>)")
    args = parser.parse_args()
    report = {"store": str(args.store.relative_to(HERE.parent) if args.store.is_absolute()
                           and args.store.is_relative_to(HERE.parent) else args.store),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                         f"{platform.python_version()}",
              "load_average": [round(x, 1) for x in os.getloadavg()]}
    print("index …", flush=True)
    segments = args.segments or HERE / "work" / f"search-segments-{args.store.parent.name}"
    report["index"] = measure_index(args.store, args.repeat, segments, args.tile)
    print(json.dumps({k: v for k, v in report["index"].items() if "sample" not in k}),
          flush=True)
    report["inferred"] = measure_sparql(args.store, "inferred", args.sparql_repeat, args.timeout)
    report["paths"] = measure_sparql(args.store, "paths", args.sparql_repeat, args.timeout)
    RESULTS.mkdir(exist_ok=True)
    runs = previous_runs() | {report["store"]: report}
    ordered = sorted(runs.values(), key=lambda r: r["index"]["tracks"])
    (RESULTS / "search.json").write_text(json.dumps({"runs": ordered}, indent=1) + "\n")
    (RESULTS / "search.md").write_text(
        "# Faceted search benchmark\n\nOne section per store measured (latest run of each).\n\n"
        + "\n\n".join(markdown(r) for r in ordered))
    print(markdown(report))


def previous_runs() -> dict[str, dict]:
    """Earlier results by store (a run replaces only its own store's)."""
    path = RESULTS / "search.json"
    if not path.exists():
        return {}
    saved = json.loads(path.read_text())
    return {r["store"]: r for r in saved.get("runs", [saved])}


if __name__ == "__main__":
    main()
