"""Storage layout benchmark: the earlier layout (view = a list of named graphs) against the current
view stored once in the default graph, on the same generated corpus and ontology bundle.

Per layout: load time (validation on: `fairtracks-ld ontologies load` then `load`), disk bytes
(store + snapshots, each file once), the ancestor-aware first page and count (100 tracks under
lymphocyte, CL:0000542) by the track predicate `ft:cell_type_ancestor` in the store, and for the
new layout through a served `/sparql` with the visibility of a new document right after its load
returns; plus, on the new layout, the closure join written out by hand. The earlier layout
answers the track predicate from the per-track links it stored; the current code stores no
ancestor links and rewrites the predicate into its path through the class closure
(sparql/virtual.py), so on the new layout both forms are closure joins. The earlier layout runs
the CLI of a given commit from a `git archive` of it. Medians of warm runs.

    python bench/layout.py --tracks 20000 [--old-commit b14cb02]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox
import requests

from fairtracks_ld.sparql.virtual import rewrite
from fairtracks_ld.store.disk import footprint

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BASE = "http://localhost:8000/"
FT = "https://w3id.org/fairtracks-ld/vocab#"
LYMPHOCYTE = "<http://purl.obolibrary.org/obo/CL_0000542>"
PREFIX = f"PREFIX ft: <{FT}>\n"
QUERIES = {
    "first page (track predicate)": "SELECT ?track WHERE { ?track ft:cell_type_ancestor "
                                    f"{LYMPHOCYTE} }} LIMIT 100",
    "count (track predicate)": "SELECT (COUNT(?track) AS ?n) WHERE { ?track "
                               f"ft:cell_type_ancestor {LYMPHOCYTE} }}",
    "first page (closure join)": "SELECT ?track WHERE { ?t ft:descends_from "
                                 f"{LYMPHOCYTE} . ?track ft:experiment_ref/ft:sample_ref/"
                                 "ft:sample_type/ft:cell_type/ft:term_id ?t } LIMIT 100",
    "count (closure join)": "SELECT (COUNT(DISTINCT ?track) AS ?n) WHERE { ?t ft:descends_from "
                            f"{LYMPHOCYTE} . ?track ft:experiment_ref/ft:sample_ref/"
                            "ft:sample_type/ft:cell_type/ft:term_id ?t }",
}
RUNS = 9


def disk(store: Path) -> int:
    """The store and its snapshots, each file once."""
    return footprint(store, store.with_name(store.name + ".snapshots"))


def cli(src: Path, store: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                    "--base-iri", BASE, *args], check=True, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=str(src)))
    return time.perf_counter() - started


def old_view(store: ox.Store) -> list:
    """The earlier layout's default graph list, as its TrackStore.default_graphs built it."""
    rows = store.query(f"""SELECT ?g ?current WHERE {{ GRAPH <{BASE}graph/catalog> {{
        {{ ?doc <{FT}current_version> ?g BIND(true AS ?current) }}
        UNION {{ ?g a <{FT}OntologyGraph> }} }} }}""")
    graphs: list = [ox.DefaultGraph()]
    for row in rows:
        graphs.append(row["g"])
        if row["current"] is not None:
            graphs.append(ox.NamedNode(row["g"].value + "/inferred"))
    return [*graphs, ox.NamedNode(BASE + "graph/closure")]


def timed(run) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def in_store(store_path: Path, old: bool) -> dict[str, dict]:
    from fairtracks_ld.store.snapshots import current_snapshot

    store = ox.Store.read_only(str(current_snapshot(store_path)))
    options = {"default_graph": old_view(store)} if old else {}
    found = {}
    for name, text in QUERIES.items():
        if old and "closure join" in name:
            continue
        # the earlier layout stored the links; the current one answers through the closure
        sparql = text if old else rewrite(PREFIX + text)
        rows = list(store.query(PREFIX + sparql if old else sparql, **options))
        size = int(rows[0][0].value) if "count" in name else len(rows)
        found[name] = {"ms": round(timed(lambda s=sparql: list(store.query(PREFIX + s if old else s,
                                                                            **options))), 2),
                       "answer": size}
    return found


def served(src: Path, store_path: Path, corpus: Path, work: Path) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from servers import free_port, serve

    with serve(store_path, free_port(), env={"PYTHONPATH": str(src)}) as base:
        found = {}
        session = requests.Session()
        accept = {"Accept": "application/sparql-results+json"}
        for name in ("first page (track predicate)", "count (track predicate)",
                     "first page (closure join)"):
            def ask(sparql=QUERIES[name]):
                return session.get(base + "sparql", params={"query": sparql}, headers=accept,
                                   timeout=120).json()
            ask()
            found[name] = {"ms": round(timed(ask), 2)}
        new_doc = work / "visible"
        subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "generate", "--tracks", "1000",
                        "--seed", "99", "--out", str(new_doc)], check=True, capture_output=True,
                       env=dict(os.environ, PYTHONPATH=str(src)))
        path = next(new_doc.glob("*.json"))  # its own collection (gen-99-0)
        document = json.loads(path.read_text())
        track = document["tracks"][0]["local_id"]
        load_seconds = cli(src, store_path, "load", str(path))
        returned = time.perf_counter()
        query = f'ASK {{ ?t a ft:Track ; ft:local_id "{track}" }}'
        while not session.get(base + "sparql", params={"query": query}, headers=accept,
                              timeout=60).json()["boolean"]:
            time.sleep(0.05)
        found["1k-track document: load s"] = round(load_seconds, 1)
        found["1k-track document: visible after load returned, s"] = round(
            time.perf_counter() - returned, 3)
        return found


def layout(name: str, src: Path, corpus: Path, work: Path) -> dict:
    store = work / name / "store"
    store.parent.mkdir(parents=True)
    result: dict = {"ontologies load s": round(cli(src, store, "ontologies", "load"), 1)}
    result["corpus load s (validation on)"] = round(cli(src, store, "load", *map(
        str, sorted(corpus.glob("*.json")))), 1)
    result["disk bytes"] = disk(store)
    result["in store"] = in_store(store, old=name == "old")
    if name == "new":
        try:
            result["served /sparql"] = served(src, store, corpus, work / name)
        except (subprocess.CalledProcessError, requests.RequestException, RuntimeError) as error:
            result["served /sparql"] = {"error": str(error)}
        result["disk bytes after visibility load"] = disk(store)
    return result


def markdown(results: dict) -> str:
    old, new = results["old"], results["new"]
    rows = [("ontologies load s", old["ontologies load s"], new["ontologies load s"]),
            ("corpus load s (validation on)", old["corpus load s (validation on)"],
             new["corpus load s (validation on)"]),
            ("disk MB (store + snapshots)", round(old["disk bytes"] / 1e6, 1),
             round(new["disk bytes"] / 1e6, 1))]
    for name in QUERIES:
        before, after = old["in store"].get(name), new["in store"].get(name)
        before = before or old["in store"].get(name.replace("track predicate", "links"))
        rows.append((f"{name}, in store: ms (answer)",
                     f"{before['ms']} ({before['answer']})" if before else "n/a",
                     f"{after['ms']} ({after['answer']})"))
    lines = [f"# Storage layout benchmark (`bench/layout.py`), {results['tracks']:,} tracks", "",
             f"Earlier layout: commit {results['old commit']} (view = list of named graphs; its "
             "server answered from a one-graph copy built in the background). New: the view "
             "stored once in the default graph. Medians of 9 warm runs. Load averages (1, 5, 15 "
             f"min) old: {old['loadavg']}, new: {new['loadavg']} (2 cores shared with other "
             "jobs: absolute times are inflated).", "",
             "| | earlier layout | new layout |", "|---|---:|---:|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", "Through a served `/sparql` (new layout, no build window):", ""]
    lines += [f"- {k}: {v['ms'] if isinstance(v, dict) else v}"
              + (" ms" if isinstance(v, dict) else "")
              for k, v in new["served /sparql"].items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--old-commit", default="b14cb02")
    parser.add_argument("--work", default=None)
    parser.add_argument("--layouts", default="old,new", help="which to measure (comma-separated;"
                        " runs measuring one each may go side by side: results are merged)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-layout-"))
    old_src = work / "old-code"
    old_src.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old_commit, "src",
                              "standard", "context", "shapes", "ontologies"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(old_src, filter="data")
    corpus = work / "corpus"
    if not corpus.is_dir():
        subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "generate", "--tracks",
                        str(args.tracks), "--out", str(corpus)], check=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    out = RESULTS / f"layout-{args.tracks}.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    results.update({"tracks": args.tracks, "old commit": args.old_commit})
    for name in args.layouts.split(","):
        started = [round(x, 1) for x in os.getloadavg()]
        src = old_src / "src" if name == "old" else ROOT / "src"
        results[name] = layout(name, src, corpus, work)
        results[name]["loadavg"] = {"start": started,
                                    "end": [round(x, 1) for x in os.getloadavg()]}
        out.write_text(json.dumps(results, indent=2) + "\n")  # another run may add the other
    if "old" in results and "new" in results:
        (RESULTS / f"layout-{args.tracks}.md").write_text(markdown(results))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
