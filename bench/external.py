"""External engine benchmark: the endpoint's query mix on Virtuoso open source (loaded by
`fairtracks-ld publish`) vs the embedded store, and publish time per method.

Data: `fairtracks-ld generate --tracks N --seed 1`, `load --bulk`, the bundled ontologies (as
bench/endpoint.py), cached under bench/work/external/N/. Virtuoso: the Debian package, started
per measurement in a fresh folder with the tests' ini (tests/virtuoso.py: 170,000 buffers ≈
1.3 GB, 2 threads per query).

Publish: each method into a fresh, empty Virtuoso (update: INSERT DATA of 2,000 triples per
request; gsp: one PUT per graph; virtuoso-bulk: gzip N-Quads + ld_dir/rdf_loader_run through
isql), wall time of the whole command; then one 1,000-track document is loaded and published
again (the incremental publish). The first method's target also answers the queries.

Queries (bench/endpoint.py's mix, its parameters sampled from the data with one seed: a track
by its label, ancestor-aware search, facet counts, DESCRIBE of a track), run one at a time,
each answer read whole: on the embedded store in process (pyoxigraph over the last snapshot,
the current view as the default graph: what `fairtracks-ld query` does, no HTTP), and on
Virtuoso over HTTP (SPARQL JSON / Turtle) twice: with one FROM per graph of the published
current view (as a backend must, since Virtuoso's default graph is the union of every graph),
and with no FROM at all (the union; the same answers only when no history is published).

Usage: python bench/external.py [--tracks 20000 100000] [--queries 40]
       [--methods virtuoso-bulk gsp update]
Writes bench/results/external.json and bench/results/external.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests")]
from endpoint import PREFIXES, query_mix  # noqa: E402  (bench/endpoint.py, the same mix)
from virtuoso import PASSWORD, virtuoso  # noqa: E402  (tests/virtuoso.py)

WORK = HERE / "work" / "external"
RESULTS = HERE / "results"
BASE = "http://127.0.0.1:8000/"
BIN = Path(sys.executable).parent


def fairtracks(store: Path, *args: str | Path) -> None:
    subprocess.run([str(BIN / "fairtracks-ld"), "--store", str(store), "--base-iri", BASE,
                    *map(str, args)], check=True, stdout=subprocess.DEVNULL)


def prepare(tracks: int) -> Path:
    folder = WORK / str(tracks)
    store = folder / "store"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        print(f"{tracks}: generating and loading (minutes)…", flush=True)
        fairtracks(store, "generate", "--tracks", tracks, "--seed", "1", "--out",
                   folder / "corpus")
        fairtracks(store, "load", "--bulk", folder / "corpus")
        fairtracks(store, "ontologies", "load")
        fairtracks(store, "generate", "--tracks", "1000", "--seed", "2",
                   "--tracks-per-document", "1000", "--out", folder / "extra")
        (folder / ".complete").touch()
    return folder


def copy_store(folder: Path, into: Path) -> Path:
    """A private copy (store and snapshots), so the incremental step changes only the copy."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    for name in ("store", "store.snapshots"):
        shutil.copytree(folder / name, into / name, symlinks=True)
    return into / "store"


def publish(store: Path, server, method: str, shared: Path) -> tuple[float, str]:
    base = f"http://127.0.0.1:{server.http_port}"
    options = {"update": ["--method", "update", "--gsp", f"{base}/sparql-graph-crud"],
               "gsp": ["--gsp", f"{base}/sparql-graph-crud"],
               "virtuoso-bulk": ["--virtuoso-isql", f"127.0.0.1:{server.sql_port}",
                                 "--bulk-dir", str(shared)]}[method]
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "fairtracks-ld"), "--store", str(store), "publish",
                           "--to", server.sparql_url, *options], capture_output=True,
                          text=True, env=dict(os.environ, FAIRTRACKS_LD_ISQL_PASSWORD=PASSWORD))
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return seconds, done.stdout.strip()


def publish_and_query(folder: Path, tracks: int, methods: list[str], queries_per_kind: int,
                      results: dict, save) -> None:
    """Per method: a fresh Virtuoso, the full publish (timed); after the first method's, the
    query mix; then a 1,000-track document is loaded and published again (timed). `save`
    writes the results after each method, so a long run keeps what it measured."""
    results["publish"] = {}
    for method in methods:
        run = WORK / "run"
        shutil.rmtree(run, ignore_errors=True)
        store = copy_store(folder, run / "copy")
        shared = run / "shared"
        shared.mkdir()
        with virtuoso(run / "v", extra_dirs=(shared,)) as server:
            first, line = publish(store, server, method, shared)
            print(f"{tracks} {method}: {first:.1f} s", flush=True)
            if "queries" not in results:
                results["queries"] = query_times(store, server, queries_per_kind)
            fairtracks(store, "load", folder / "extra")
            again, line2 = publish(store, server, method, shared)
        shutil.rmtree(run)
        results["publish"][method] = {"full_s": round(first, 1),
                                      "incremental_1k_s": round(again, 1),
                                      "full": line, "incremental": line2}
        print(f"{tracks} {method}: +1k doc {again:.1f} s", flush=True)
        save()


# ---- queries ------------------------------------------------------------------------------


def with_from(query: str, graphs: list[str]) -> str:
    """The query with one FROM per graph (before WHERE, or after DESCRIBE's IRI)."""
    froms = " ".join(f"FROM <{g}>" for g in graphs)
    if query.startswith("DESCRIBE"):
        return f"{query} {froms}"
    head, _, tail = query.partition(" WHERE ")
    return f"{head} {froms} WHERE {tail}"


def timed(run, queries: list[str]) -> list[float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        run(query)
        times.append(time.perf_counter() - started)
    return times


def query_times(store_path: Path, server, queries_per_kind: int) -> dict:
    import pyoxigraph as ox

    from fairtracks_ld.publication.state import read_state
    from fairtracks_ld.publication.target import Endpoints, Target
    from fairtracks_ld.store import TrackStore
    from fairtracks_ld.store.snapshots import current_snapshot

    view = read_state(Target(Endpoints(server.sparql_url)), BASE).default_graphs
    mix = query_mix(server.sparql_url, random.Random(1))
    mix.pop("_tracks")
    embedded = TrackStore(current_snapshot(store_path), base=BASE, read_only=True)
    session = requests.Session()

    def on_embedded(query: str) -> None:
        result = embedded.query(PREFIXES + query)
        if isinstance(result, ox.QueryTriples):
            ox.serialize(result, format=ox.RdfFormat.TURTLE)
        else:
            list(result)

    def on_virtuoso(query: str) -> None:
        describe = query.startswith("DESCRIBE")
        answer = session.post(server.sparql_url, data=urlencode({"query": PREFIXES + query}),
                              headers={"Content-Type": "application/x-www-form-urlencoded",
                                       "Accept": "text/turtle" if describe else
                                       "application/sparql-results+json"}, timeout=300)
        answer.raise_for_status()

    results = {}
    for kind, queries in mix.items():
        queries = queries[:queries_per_kind]
        for warm in queries[:3]:  # caches of both engines
            on_embedded(warm)
            on_virtuoso(with_from(warm, view))
            on_virtuoso(warm)
        results[kind] = {
            "embedded_ms": _median_ms(timed(on_embedded, queries)),
            "virtuoso_from_view_ms": _median_ms(timed(
                on_virtuoso, [with_from(q, view) for q in queries])),
            "virtuoso_union_ms": _median_ms(timed(on_virtuoso, queries)),
            "queries": len(queries),
        }
        print(kind, results[kind], flush=True)
    return {"view_graphs": len(view), "kinds": results}


def _median_ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 2)


# ---- report -------------------------------------------------------------------------------


def markdown(report: dict) -> str:
    lines = ["# External engines: Virtuoso open source vs the embedded store", "",
             f"On {report['machine']}, a shared, busy machine: compare columns of one run, not "
             "runs. Script: `bench/external.py`. Runs:", ""]
    for tracks, scale in report["scales"].items():
        lines.append(f"- {int(tracks):,} tracks, {scale.get('date', '')}: load before "
                     f"`{scale.get('uptime_before', '')}`, after "
                     f"`{scale.get('uptime_after', '')}`"
                     + (f". {scale['note']}" if scale.get("note") else ""))
    lines += ["",
             "## Publish time per method (a fresh, empty Virtuoso each)", "",
             "| tracks | method | full publish (s) | +1k-track document, incremental (s) |",
             "|---:|---|---:|---:|"]
    for tracks, scale in report["scales"].items():
        for method, times in scale["publish"].items():
            lines.append(f"| {int(tracks):,} | {method} | {times['full_s']} | "
                         f"{times['incremental_1k_s']} |")
    lines += ["", "What each full publish sent:", ""]
    for tracks, scale in report["scales"].items():
        for method, times in scale["publish"].items():
            lines.append(f"- {int(tracks):,}, {method}: {times['full']}")
    lines += ["", "## Query mix, one query at a time, median ms", "",
              "Embedded: pyoxigraph in process over the snapshot (the current view as default "
              "graph). Virtuoso over HTTP: with FROM for each graph of the published view "
              "(what a backend sends), and with no FROM (Virtuoso's union of all graphs).", "",
              "| tracks | query | embedded | Virtuoso, FROM view | Virtuoso, union | "
              "ratio FROM view / embedded | ratio union / embedded |",
              "|---:|---|---:|---:|---:|---:|---:|"]
    for tracks, scale in report["scales"].items():
        for kind, row in scale.get("queries", {}).get("kinds", {}).items():
            base = row["embedded_ms"] or 0.01
            lines.append(
                f"| {int(tracks):,} | {kind} | {row['embedded_ms']} | "
                f"{row['virtuoso_from_view_ms']} | {row['virtuoso_union_ms']} | "
                f"{row['virtuoso_from_view_ms'] / base:.2f} | "
                f"{row['virtuoso_union_ms'] / base:.2f} |")
    lines += ["", "Ratios above 1: Virtuoso slower. Graphs in the published view: " + ", ".join(
        f"{int(t):,}: {s['queries']['view_graphs']}" for t, s in report["scales"].items()
        if "queries" in s), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracks", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--queries", type=int, default=40, help="per kind")
    parser.add_argument("--methods", nargs="+", default=["virtuoso-bulk", "gsp", "update"],
                        help="publish methods (the first one's target answers the queries)")
    args = parser.parse_args()
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "uptime_before": subprocess.run(["uptime"], capture_output=True,
                                              text=True).stdout.strip(),
              "scales": {}}

    def save() -> None:
        for scale in report["scales"].values():
            scale.setdefault("uptime_after", "")
        report["scales"][str(tracks)]["uptime_after"] = subprocess.run(
            ["uptime"], capture_output=True, text=True).stdout.strip()
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "external.json").write_text(json.dumps(report, indent=1) + "\n")
        (RESULTS / "external.md").write_text(markdown(report))

    if (RESULTS / "external.json").exists():  # other scales measured earlier are kept
        report["scales"] = json.loads((RESULTS / "external.json").read_text())["scales"]
    for tracks in args.tracks:
        report["scales"][str(tracks)] = {"date": report["date"],
                                         "uptime_before": report["uptime_before"]}
        publish_and_query(prepare(tracks), tracks, args.methods, args.queries,
                          report["scales"][str(tracks)], save)
    print(markdown(report))


if __name__ == "__main__":
    main()
