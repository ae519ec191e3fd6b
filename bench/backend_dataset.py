"""Why the heavy SPARQL kinds of bench/backend.py cost Virtuoso more through `serve --backend`
than sent to Virtuoso directly: the dataset each is asked over.

`serve --backend` sends the current view's source graphs as `default-graph-uri`s (docs/backends.md:
Virtuoso's own default graph is the union of every graph, old versions and reports included);
Virtuoso /sparql answers over that union. Here the same query texts (bench/backend.py's first
page under lymphocyte, ancestor search and facet counts, 10 of each) are asked of the Virtuoso
database bench/backend.py left for the scale, over:

- the view's graph list, as the backend sends it;
- no dataset (Virtuoso's union, as bench/backend.py's Virtuoso /sparql column);
- one graph holding the view's merge of the predicates these queries read (written with a SPARQL
  INSERT over the view before, dropped after; the same answers are checked, without LIMIT);
- the view graph `publish` keeps (`{base}graph/view`, the whole view's merge), when the
  database has one (bench/backend.py --before-list publishes it; the same answers are checked);
- for the first page: one document's graph and the closure graph (the two graphs its answers
  come from: the track predicate is a path from the track to its annotation's term and on
  through the closure), then the same plus 8, 16 and 40 graph IRIs that hold nothing (the same
  answers): the cost of the list's length alone.

Reported: Virtuoso's CPU per query (user + system of its process, /proc; 10 ms ticks) and wall
medians. Usage: python bench/backend_dataset.py [--tracks 100000]; writes
bench/results/backend-dataset.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from backend import BASE, LYMPHOCYTE, RESULTS, WORK, cpu_seconds, explicit, uptime

from fairtracks_ld.publication.view import view_graph
from fairtracks_ld.web.backend.dataset import RemoteStore
from fairtracks_ld.web.backend.endpoint import Endpoint

MERGED = "urn:fairtracks-ld:bench-merged-view"
EMPTY = [f"urn:fairtracks-ld:bench-empty-{n}" for n in range(40)]
FT = "https://w3id.org/fairtracks-ld/vocab#"
# the predicates the three kinds read once their ancestors are paths (annotations.track_path:
# track → experiment → sample → annotation → term, then the closure; a technique hangs off the
# experiment)
READ = ("experiment_ref", "sample_ref", "sample_type", "cell_type", "technique", "term_id",
        "descends_from", "found_under", "label_short")


@contextmanager
def engine(folder) -> Iterator[tuple[str, int]]:
    """The Virtuoso of bench/backend.py's scale folder, started again on its database (its ini
    file names its ports); yields its SPARQL URL and process id."""
    ini = folder / "virtuoso" / "virtuoso.ini"
    port = re.findall(r"ServerPort = 127\.0\.0\.1:(\d+)", ini.read_text())[-1]
    url = f"http://127.0.0.1:{port}/sparql"
    process = subprocess.Popen(["virtuoso-t", "+foreground", "+configfile", str(ini)],
                               cwd=ini.parent, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 1800  # a database stopped uncleanly replays its log first
        while not answers_ask(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Virtuoso did not start: see {ini.parent}/virtuoso.log")
            time.sleep(1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=120)


def answers_ask(url: str) -> bool:
    try:
        return requests.get(url, params={"query": "ASK {}"}, timeout=5).ok
    except requests.RequestException:
        return False


def queries(endpoint: Endpoint, view: list[str]) -> dict[str, list[str]]:
    """bench/backend.py's three heavy kinds, 10 each, on cell types holding 0.5-10% of tracks."""
    counts = endpoint.solutions(explicit(
        "SELECT ?c (COUNT(?t) AS ?n) WHERE { ?t ft:cell_type_ancestor ?c } GROUP BY ?c"), view)
    rows = [(r["c"].value, int(r["n"].value)) for r in counts]
    tracks = next(iter(endpoint.solutions(explicit(
        "SELECT (COUNT(?t) AS ?n) WHERE { ?t a ft:Track }"), view)))["n"].value
    terms = sorted(c for c, n in rows if int(tracks) // 200 <= n <= int(tracks) // 10)
    rng = random.Random(1)
    chosen = [rng.choice(terms) for _ in range(10)]
    return {
        "first page under lymphocyte": [explicit(
            f"SELECT ?track WHERE {{ ?track ft:cell_type_ancestor {LYMPHOCYTE} }} LIMIT 100")
        ] * 10,
        "ancestor search": [explicit(
            f"SELECT ?track ?label WHERE {{ ?track ft:cell_type_ancestor <{c}> ; "
            "ft:label_short ?label } ORDER BY ?label LIMIT 50") for c in chosen],
        "facet counts": [explicit(
            f"SELECT ?value (COUNT(DISTINCT ?track) AS ?n) WHERE {{ ?track "
            f"ft:cell_type_ancestor <{c}> ; ft:technique_ancestor ?value }} GROUP BY ?value "
            "ORDER BY DESC(?n)") for c in chosen],
    }


def unlimited(query: str) -> str:
    return re.sub(r"\s(ORDER BY \S+ )?LIMIT \d+$", "", query)


def answers(endpoint: Endpoint, query: str, graphs: list[str] | None) -> list[tuple]:
    return sorted(tuple(str(t) for t in row) for row in endpoint.solutions(query, graphs))


def timed(endpoint: Endpoint, pid: int, texts: list[str], graphs: list[str] | None) -> dict:
    endpoint.solutions(texts[0], graphs)  # warm-up
    times = []
    before = cpu_seconds(pid)
    for text in texts:
        started = time.perf_counter()
        list(endpoint.solutions(text, graphs))
        times.append(time.perf_counter() - started)
    return {"graphs": len(graphs or []), "median_ms": statistics.median(times) * 1000,
            "virtuoso_cpu_ms": (cpu_seconds(pid) - before) / len(texts) * 1000}


def measure(tracks: int) -> dict:
    with engine(WORK / f"generated-{tracks}") as (url, pid):
        endpoint = Endpoint(url, timeout=600)
        view = RemoteStore(endpoint, "bench").ox.view()
        asked = queries(endpoint, view)
        endpoint.post(f"DROP SILENT GRAPH <{MERGED}>", "application/sparql-results+xml")
        started = time.monotonic()
        for name in READ:  # one INSERT per predicate, unlogged (log-enable 2: a logged one
            # is replayed triple by triple at the next start when not checkpointed)
            endpoint.post(f"DEFINE sql:log-enable 2 INSERT {{ GRAPH <{MERGED}> {{ ?s <{FT}{name}>"
                          f" ?o }} }} WHERE {{ ?s <{FT}{name}> ?o }}",
                          "application/sparql-results+xml", view)
        merged_seconds = time.monotonic() - started
        try:
            counted = endpoint.solutions(
                f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{MERGED}> {{ ?s ?p ?o }} }}")
            merged_triples = int(next(iter(counted))["n"].value)
            published = [view_graph(BASE)]
            has_view = bool(endpoint.solutions(f"ASK {{ GRAPH <{published[0]}> {{ ?s ?p ?o }} }}"))
            kinds = {}
            for kind, texts in asked.items():
                kinds[kind] = {
                    "view": timed(endpoint, pid, texts, view),
                    "no dataset": timed(endpoint, pid, texts, None),
                    "one merged graph": timed(endpoint, pid, texts, [MERGED]),
                    "same answers": all(answers(endpoint, unlimited(t), view) ==
                                        answers(endpoint, unlimited(t), [MERGED])
                                        for t in dict.fromkeys(texts[:3]))}
                if has_view:
                    kinds[kind]["the view graph"] = timed(endpoint, pid, texts, published)
                    kinds[kind]["same answers, view graph"] = all(
                        answers(endpoint, unlimited(t), view) ==
                        answers(endpoint, unlimited(t), published)
                        for t in dict.fromkeys(texts[:3]))
                print(tracks, kind, kinds[kind], flush=True)
            document = [g for g in view if "/document/" in g][:1]
            document += [g for g in view if g.endswith("/graph/closure")]
            first = asked["first page under lymphocyte"]
            listed = {f"2 + {n} empty": timed(endpoint, pid, first, document + EMPTY[:n])
                      for n in (0, 8, 16, 40)}
            same = answers(endpoint, unlimited(first[0]), document) == answers(
                endpoint, unlimited(first[0]), document + EMPTY)
        finally:
            endpoint.post(f"DEFINE sql:log-enable 2 DROP SILENT GRAPH <{MERGED}>",
                          "application/sparql-results+xml")
    return {"tracks": tracks, "view_graphs": len(view), "kinds": kinds,
            "merged": {"triples": merged_triples, "seconds": merged_seconds},
            "list_length": listed, "list_length_same_answers": same}


def markdown(report: dict) -> str:
    lines = ["# The dataset a backend query is asked over (Virtuoso)", "",
             "Script: bench/backend_dataset.py (its docstring says what is measured). Cells: "
             "Virtuoso's CPU ms per query / wall median ms; 10 queries per kind after one "
             "warm-up.", ""]
    for scale in report["scales"]:
        merged = scale["merged"]
        lines += [f"## {scale['tracks']:,} tracks", "",
                  f"Measured {scale['when']}; `uptime` before: {scale['uptime_before']}; after: "
                  f"{scale['uptime_after']}. The view: {scale['view_graphs']} graphs. The merged "
                  f"graph: {merged['triples']:,} triples, written in {merged['seconds']:.0f} s.",
                  ""]
        published = all("the view graph" in row for row in scale["kinds"].values())
        names = ["view", "no dataset", "one merged graph"] + (["the view graph"] if published
                                                               else [])
        lines += ["| request | view's graph list | no dataset | one merged graph | "
                  + ("the view graph (publish) | " if published else "") + "same answers |",
                  "|---|---:|---:|---:|" + ("---:|" if published else "") + "---|"]
        for kind, row in scale["kinds"].items():
            cells = [f"{row[n]['virtuoso_cpu_ms']:.1f} / {row[n]['median_ms']:.1f}"
                     for n in names]
            same = row["same answers"] and row.get("same answers, view graph", True)
            lines.append(f"| {kind} | {' | '.join(cells)} | {same} |")
        lines += ["", "First page under lymphocyte over one document's graph and the closure "
                  "graph and graph IRIs "
                  "holding nothing (same answers: "
                  f"{scale['list_length_same_answers']}):", "",
                  "| graphs listed | Virtuoso CPU ms / wall ms |", "|---|---:|"]
        lines += [f"| {name} | {f['virtuoso_cpu_ms']:.1f} / {f['median_ms']:.1f} |"
                  for name, f in scale["list_length"].items()]
        lines.append("")
    return "\n".join(lines + report.get("notes", []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    args = parser.parse_args()
    path = RESULTS / "backend-dataset.json"
    report = json.loads(path.read_text()) if path.exists() else {"scales": []}
    before = uptime()
    scale = measure(args.tracks)
    scale.update(uptime_before=before, uptime_after=uptime(),
                 when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    report["scales"] = sorted([s for s in report["scales"] if s["tracks"] != args.tracks] +
                              [scale], key=lambda s: s["tracks"])
    path.write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "backend-dataset.md").write_text(markdown(report) + "\n")
    print(markdown(report))


if __name__ == "__main__":
    main()
