"""Carrier links or the closure join, at the scale of a given store: what the stored links buy.

bench/inferred_links.py chose the carrier links (option c) at 10,000 tracks, on bulk-built copies.
This asks the same question of a store already loaded at full scale (e.g. the 1M store of
bench/million.py), in place. The store must be of the EARLIER layout (written before
fairtracks-ld stopped storing ancestor links, and not migrated since: a migration drops the
links), e.g. bench/work/backend/generated-1000000/store: it holds both the carrier links
(`ft:own_*_ancestor`) and the class closure (`ft:descends_from`) in its default graph, so the
same snapshot answers option c (through the links) and option b (the closure join, no links),
with the same answers, each written as one path with alternatives (`pattern`): c as the
endpoint of that layout wrote it (`carrier_path`), b as the endpoint writes it now
(`annotations.track_path`, which `sparql.virtual.rewrite` puts in a query). On a store of the
current layout option c finds nothing and the script stops.
Per facet: the ancestor-aware first page (100 tracks) and the count of tracks, medians of warm
runs in the store (read-only snapshot, no server); and bench/endpoint.py's two heavy kinds
(ancestor search, facet counts) for 20 sampled cell-type classes, both ways (one warm run each,
summed). Also the links' share of the view's
triples, the store's size on disk, and the share of it the links take if a quad's bytes are
spread evenly (a projection, not a measurement of a copy without links).

    python bench/links_in_place.py --store bench/work/backend/generated-1000000/store
Writes bench/results/links-in-place-<tracks>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import pyoxigraph as ox

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))
from inferred_links import FACETS, FT, PREFIX, TITLES  # noqa: E402

from fairtracks_ld.mapping import annotations  # noqa: E402
from fairtracks_ld.mapping.annotations import (  # noqa: E402
    ANCESTOR_PREDICATES,
    ANNOTATIONS,
    CARRIER_STEPS,
)
from fairtracks_ld.store.snapshots import current_snapshot  # noqa: E402

OPTIONS = ("b", "c")
RUNS = {"first page": 7, "count": 3}
# inferred_links.py's choice at 10,000 tracks (a broad class per facet, ~15% of the tracks)
TERMS = {"cell_type": "http://purl.obolibrary.org/obo/CL_0000542",
         "sample_type": "http://purl.obolibrary.org/obo/CL_0000542",
         "phenotype": "http://purl.obolibrary.org/obo/NCIT_C14165",
         "technique": "http://purl.obolibrary.org/obo/OBI_0001146",
         "target": "http://purl.obolibrary.org/obo/SO_0000234",
         "file_format": "http://edamontology.org/format_3613"}


def carrier_path(facet: str) -> str:
    """The path from a track to its carriers' stored links of a facet (full IRIs), as the
    earlier layout's endpoint wrote `ft:{facet}_ancestor`: the entities carrying the facet's
    annotations (sample, experiment, track), each reached by its references and on by its
    `ft:own_{facet}_ancestor` link; steps every route starts with are walked once: a/(b|c/b),
    not (a/b|a/c/b). E.g. `ft:experiment_ref/(ft:sample_ref/ft:own_phenotype_ancestor|
    ft:own_phenotype_ancestor)`."""
    owners = {ANNOTATIONS[kind][0] for kind in ANCESTOR_PREDICATES[f"{facet}_ancestor"]}
    routes = [[*CARRIER_STEPS[owner], f"own_{facet}_ancestor"]
              for owner in CARRIER_STEPS if owner in owners]
    shared = 0
    while all(len(r) > shared + 1 and r[shared] == routes[0][shared] for r in routes):
        shared += 1
    rests = ["/".join(f"<{FT}{step}>" for step in route[shared:]) for route in routes]
    rest = rests[0] if len(rests) == 1 else "(" + "|".join(rests) + ")"
    return "/".join([*(f"<{FT}{step}>" for step in routes[0][:shared]), rest])


def pattern(option: str, facet: str, term: str) -> str:
    """The group pattern binding ?track to each track under `term` (or binding `term`, a
    variable), as one path with alternatives, as the endpoint writes it (sparql/virtual.py),
    never a UNION per path: at 1M tracks a union's branch that matches nothing (experiments
    carry no phenotype, but their pattern matches every sample carrier) costs seconds, and
    Oxigraph answers such a union under LIMIT in a millisecond or in seconds from run to run.
    c: through the carrier links (the earlier layout's path); b: the closure join, from the
    track to its annotations' terms and on through ft:descends_from (or ft:found_under, which
    a store of the earlier layout does not hold: the same answers)."""
    path = carrier_path(facet) if option == "c" else annotations.track_path(facet)
    return f"?track {path} {term}"


def queries(option: str, facet: str, term: str) -> dict[str, str]:
    body = pattern(option, facet, term)
    return {"first page": f"SELECT ?track WHERE {{ {body} }} LIMIT 100",
            "count": f"SELECT (COUNT(DISTINCT ?track) AS ?n) WHERE {{ {body} }}"}


def endpoint_kinds(option: str, term: str) -> dict[str, str]:
    """bench/endpoint.py's two heavy kinds for one cell-type class, written with `option`."""
    body = pattern(option, "cell_type", term)
    value = pattern(option, "technique", "?value")
    return {"ancestor search": f"SELECT ?track ?label WHERE {{ {body} . ?track ft:label_short "
                               "?label } ORDER BY ?label LIMIT 50",
            "facet counts": f"SELECT ?value (COUNT(DISTINCT ?track) AS ?tracks) WHERE {{ {body} . "
                            f"{value} }} GROUP BY ?value ORDER BY DESC(?tracks)"}


def sampled_terms(store: ox.Store, tracks: int) -> list[str]:
    """Cell-type classes chosen as bench/endpoint.py chooses them (those selecting 0.5-10 % of
    the tracks, 20 of them; not the same 20: its generator draws tracks first), counted by
    option b's path (the endpoint's)."""
    rows = store.query(f"SELECT ?c (COUNT(?t) AS ?n) WHERE {{ ?t "
                       f"{annotations.track_path('cell_type')} ?c }} GROUP BY ?c")
    counts = {row["c"].value: int(row["n"].value) for row in rows}
    terms = sorted(c for c, n in counts.items() if tracks // 200 <= n <= tracks // 10)
    return random.Random(1).sample(terms, min(20, len(terms)))


def timed(store: ox.Store, sparql: str, runs: int) -> tuple[float, int, float]:
    """Median ms of warm runs, the answer (rows, or the count), the first (cold) run's ms."""
    times, answer = [], 0
    for _ in range(runs + 1):
        started = time.perf_counter()
        rows = list(store.query(PREFIX + sparql))
        times.append((time.perf_counter() - started) * 1000)
        answer = int(rows[0][0].value) if sparql.startswith("SELECT (COUNT") else len(rows)
    return round(statistics.median(times[1:]), 2), answer, round(times[0], 2)


def count(store: ox.Store, sparql: str) -> int:
    return int(next(iter(store.query(sparql, prefixes={"ft": FT})))[0].value)


def disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args()
    snapshot = current_snapshot(args.store.resolve())
    store = ox.Store.read_only(str(snapshot))
    tracks = count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?t a ft:Track }")
    own = " ".join(f"<{FT}own_{name}>" for name in ANCESTOR_PREDICATES)
    results: dict = {
        "store": str(args.store), "tracks": tracks,
        "loadavg start": [round(x, 1) for x in os.getloadavg()],
        "view triples": count(store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"),
        "link triples": count(store, f"SELECT (COUNT(*) AS ?n) WHERE {{ VALUES ?p {{ {own} }} "
                                     "?s ?p ?o }"),
        "store bytes": disk(args.store), "terms": TERMS,
    }
    if not results["link triples"]:
        raise SystemExit(f"{args.store} holds no carrier links (ft:own_*_ancestor): option c "
                         "needs a store of the earlier layout, not migrated since")
    for option in OPTIONS:
        found = {}
        for facet in FACETS:
            for name, sparql in queries(option, facet, f"<{TERMS[facet]}>").items():
                if name in RUNS:
                    ms, answer, cold = timed(store, sparql, RUNS[name])
                    found[f"{facet} {name}"] = {"ms": ms, "answer": answer, "cold ms": cold}
                    print(option, facet, name, ms, answer, cold, flush=True)
        results[option] = found
    sampled = sampled_terms(store, tracks)
    results["endpoint terms"] = sampled
    for option in OPTIONS:
        for kind in ("ancestor search", "facet counts"):
            spent = []
            for term in sampled:
                spent.append(timed(store, endpoint_kinds(option, f"<{term}>")[kind], 1)[0])
            results[option][f"endpoint {kind}, 20 classes, total"] = {
                "ms": round(sum(spent), 1), "answer": len(spent), "cold ms": 0.0}
            print(option, kind, round(sum(spent)), flush=True)
    results["loadavg end"] = [round(x, 1) for x in os.getloadavg()]
    name = f"links-in-place-{tracks}"
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(results))
    print(markdown(results))


def markdown(results: dict) -> str:
    share = results["link triples"] / results["view triples"]
    lines = [f"# Carrier links or the closure join at {results['tracks']:,} tracks "
             "(`bench/links_in_place.py`)", "",
             f"Store: `{results['store']}` (read-only snapshot, in process, no server). Load "
             f"average at start {results['loadavg start']}, end {results['loadavg end']} "
             "(2 cores).", "",
             f"- view triples {results['view triples']:,}, of which carrier links "
             f"{results['link triples']:,} ({share:.1%}); each is also in its version's "
             "companion graph (6 indexes beside the view's 3)",
             f"- store on disk {results['store bytes'] / 1e9:.1f} GB",
             "", "| query (ms, warm median; answer; first run) | "
             + " | ".join(TITLES[o] for o in OPTIONS) + " | b / c |",
             "|---|" + "---:|" * (len(OPTIONS) + 1)]
    for key in results["b"]:
        b, c = results["b"][key], results["c"][key]
        ratio = f"{b['ms'] / c['ms']:.1f}x" if c["ms"] else "-"
        lines.append(f"| {key} | " + " | ".join(
            f"{r['ms']} ({r['answer']:,}; {r['cold ms']})" for r in (b, c)) + f" | {ratio} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
