"""Keeping the server's one-graph copy of the view current: from scratch vs brought up to date.

The server answers queries that name no graphs from a copy of the current snapshot's view in one
default graph (fairtracks_ld.web.flatview). Each load publishes a snapshot that needs its copy.
This measures, on the endpoint benchmark's store (100k generated tracks + bundled ontologies,
bench/endpoint.py prepares it), working on a hard-linked copy of that store:

- from scratch: the whole view written into a new store and compacted (the first copy);
- brought up to date, after a load that adds a new 1,000-track document;
- brought up to date, after a load that replaces a 20,000-track document by a new version
  (one label changed: every triple of the old version is checked, the new one written).

Each updated copy is checked to hold as many triples as a copy built from scratch for the same
snapshot (the tests check equality triple for triple on small stores), and a query from the
endpoint mix (facet counts under an ancestor) is timed on both: an updated copy is not
compacted, so it may answer more slowly.

Usage: python bench/flatview.py [--repeat 5]
Writes bench/results/flatview.json and bench/results/flatview.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

import pyoxigraph as ox

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "flatview"
SOURCE = HERE / "work" / "endpoint" / "store"
RESULTS = HERE / "results"
BASE = "http://127.0.0.1:8000/"  # the endpoint bench's minted IRIs
FACETS = """PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>
SELECT ?technique (COUNT(DISTINCT ?track) AS ?n) WHERE {
  ?track ft:cell_type_ancestor <http://purl.obolibrary.org/obo/CL_0000542> ;
         ft:technique_ancestor ?technique .
} GROUP BY ?technique"""


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def query_ms(path: Path, repeat: int) -> float:
    store = ox.Store.read_only(str(path))
    list(store.query(FACETS))  # warm
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        list(store.query(FACETS))
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    from fairtracks_ld.generate import generate_documents
    from fairtracks_ld.load import load_sources
    from fairtracks_ld.snapshots import publish
    from fairtracks_ld.store import TrackStore
    from fairtracks_ld.web import flatview

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not (SOURCE.parent / "store.complete").exists():
        raise SystemExit("run bench/endpoint.py first: it prepares the 100k-track store")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    ox.Store.read_only(str(SOURCE)).backup(str(WORK / "store"))  # hard links: cheap
    store = TrackStore(WORK / "store", base=BASE)
    first = publish(store)
    results: dict[str, dict] = {}

    seconds, flat = timed(lambda: flatview.build(first))
    results["from scratch"] = {"seconds": round(seconds, 1), "quads": len(ox.Store.read_only(
        str(flat))), "bytes": disk_bytes(flat), "query_ms": query_ms(flat, args.repeat)}
    print("from scratch", results["from scratch"], flush=True)

    new_document = next(iter(generate_documents(tracks=1000, seed=77,
                                                tracks_per_document=1000)))
    replaced = json.loads(sorted((SOURCE.parent / "corpus").glob("*.json"))[0].read_text())
    replaced["doc_info"]["doc_version"] = "bench-v2"
    replaced["doc_info"]["doc_date"] = "2031-01-01T00:00:00Z"
    replaced["tracks"][0]["label_short"] = "relabelled by bench/flatview.py"
    cases = {"after adding a 1,000-track document": new_document,
             "after replacing a 20,000-track document": replaced}
    for name, document in cases.items():
        path = WORK / "document.json"
        path.write_text(json.dumps(document))
        assert load_sources(store, [str(path)], bulk=True, validate=False).ok
        snapshot = publish(store)
        seconds, flat = timed(lambda snapshot=snapshot: flatview.build(snapshot))
        assert not (WORK / "scratch").exists()
        flatview._copy(TrackStore(snapshot, read_only=True), WORK / "scratch")
        expected = len(ox.Store.read_only(str(WORK / "scratch")))
        quads = len(ox.Store.read_only(str(flat)))
        assert quads == expected, f"{name}: {quads} quads, from scratch {expected}"
        results[name] = {"seconds": round(seconds, 1), "quads": quads,
                         "query_ms": query_ms(flat, args.repeat),
                         "query_ms_compacted": query_ms(WORK / "scratch", args.repeat)}
        shutil.rmtree(WORK / "scratch")
        print(name, results[name], flush=True)
    write_results(results)


def write_results(results: dict[str, dict]) -> None:
    RESULTS.mkdir(exist_ok=True)
    machine = {"cpus": len(os.sched_getaffinity(0)),
               "python": platform.python_version(), "pyoxigraph": ox.__version__}
    (RESULTS / "flatview.json").write_text(json.dumps({"machine": machine, "cases": results},
                                                      indent=2))
    scratch = results["from scratch"]["seconds"]
    lines = [
        "# One-graph view copy benchmark (`bench/flatview.py`)",
        "",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, pyoxigraph "
        f"{machine['pyoxigraph']}. Store: bench/endpoint.py's 100k generated tracks with the "
        "bundled ontologies and inferred links.",
        "",
        "| copy | seconds | vs from scratch | quads | facet query ms | same query, compacted "
        "copy ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, case in results.items():
        ratio = f"{scratch / case['seconds']:.1f}x faster" if name != "from scratch" else "1"
        lines.append(f"| {name} | {case['seconds']} | {ratio} | {case['quads']:,} | "
                     f"{case['query_ms']} | {case.get('query_ms_compacted', case['query_ms'])} |")
    lines += ["", f"From scratch the copy takes {results['from scratch']['bytes']:,} bytes."]
    (RESULTS / "flatview.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
