"""Endpoint benchmark: fairtracks-ld's /sparql vs `oxigraph serve`, same data, same queries.

Data: `fairtracks-ld generate --tracks 100000 --seed 1`, `load --bulk`, the bundled ontologies
(so the inferred ft:*_ancestor links exist); the store's current view (every graph a query sees
by default) is dumped with `fairtracks-ld dump --graph` into an Oxigraph store's default graph.
Everything is cached under bench/work/endpoint/.

Load: Python threads on loopback, one keep-alive HTTP connection each, the same concurrency for
both servers, one server measured at a time. Query mix (same text to both, form POST, JSON
results): a track by its label; an ancestor-aware search (tracks whose cell type is a class or
below it, via ft:cell_type_ancestor; a technique filter if the store has no ancestor links);
facet counts (techniques among those tracks); DESCRIBE of a track; and all four interleaved.
Then dereferencing a track as Turtle, one request at a time (latency).

Usage: python bench/endpoint.py [--concurrency 4] [--seconds 10] [--tracks 100000]
Writes bench/results/endpoint.json and bench/results/endpoint.md.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import itertools
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "endpoint"
RESULTS = HERE / "results"
BASE = "http://127.0.0.1:8000/"  # minted IRIs; the server answers for them on any port
BIN = Path(sys.executable).parent
PREFIXES = ("PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>\n"
            "PREFIX obo: <http://purl.obolibrary.org/obo/>\n")
JSON_RESULTS = "application/sparql-results+json"


def run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, stdout=subprocess.DEVNULL)


def fairtracks(*args: str | Path) -> None:
    run(BIN / "fairtracks-ld", "--store", WORK / "store", "--base-iri", BASE, *args)


def prepare(tracks: int) -> None:
    """Corpus, store (with ontologies) and the Oxigraph copy of its current view, once."""
    WORK.mkdir(parents=True, exist_ok=True)
    corpus, marker = WORK / "corpus", WORK / "corpus" / ".complete"  # holds the track count
    if not marker.exists() or marker.read_text() != str(tracks):
        shutil.rmtree(corpus, ignore_errors=True)
        for stale in ("store", "store.snapshots", "oxigraph", "view"):
            shutil.rmtree(WORK / stale, ignore_errors=True)
        (WORK / "store.complete").unlink(missing_ok=True)
        run(BIN / "fairtracks-ld", "generate", "--tracks", str(tracks), "--seed", "1",
            "--out", corpus)
        marker.write_text(str(tracks))
    if not (WORK / "store.complete").exists():
        for stale in ("store", "store.snapshots", "oxigraph", "view"):
            shutil.rmtree(WORK / stale, ignore_errors=True)
        print("loading the corpus and the ontologies (a few minutes)…", flush=True)
        fairtracks("load", "--bulk", corpus)
        fairtracks("ontologies", "load")
        (WORK / "store.complete").touch()
    if not (WORK / "oxigraph" / ".complete").exists():
        shutil.rmtree(WORK / "oxigraph", ignore_errors=True)
        shutil.rmtree(WORK / "view", ignore_errors=True)
        (WORK / "view").mkdir()
        files = []
        for index, graph in enumerate(view_graphs()):
            files.append(WORK / "view" / f"{index}.nt")
            fairtracks("dump", "--graph", graph, "--format", "nt", "-o", files[-1])
        run(BIN / "oxigraph", "load", "--location", WORK / "oxigraph", "--lenient", "--file",
            *files)
        (WORK / "oxigraph" / ".complete").touch()
        shutil.rmtree(WORK / "view")


def view_graphs() -> list[str]:
    """The named graphs a query on the store sees by default (its current view)."""
    import pyoxigraph as ox

    from fairtracks_ld.snapshots import current_snapshot
    from fairtracks_ld.store import TrackStore

    store = TrackStore(current_snapshot(WORK / "store"), read_only=True)
    graphs = [g.value for g in store.default_graphs() if isinstance(g, ox.NamedNode)]
    return [g for g in graphs if store.has_graph(g)]


# ---- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(args: list[str], probe: str, env: dict[str, str] | None = None) -> Iterator[None]:
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, **(env or {})))
    try:
        deadline = time.time() + 120
        while True:
            try:
                status, _ = request(probe, None, "*/*")
                if status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"server did not start: {args}")
            time.sleep(0.3)
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


def ours(port: int) -> AbstractContextManager[None]:
    return server([str(BIN / "fairtracks-ld"), "--store", str(WORK / "store"), "serve",
                   "--port", str(port)], f"http://127.0.0.1:{port}/")


def oxigraph(port: int) -> AbstractContextManager[None]:
    return server([str(BIN / "oxigraph"), "serve-read-only", "--location",
                   str(WORK / "oxigraph"), "--bind", f"127.0.0.1:{port}"],
                  f"http://127.0.0.1:{port}/query?query=ASK%7B%7D")


# ---- load generation -------------------------------------------------------------------------


def request(url: str, body: bytes | None, accept: str,
            connection: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    """One HTTP request (form POST when body is given), on `connection` if one is passed."""
    parts = urlsplit(url)
    conn = connection or http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Accept": accept}
    if body is None:
        conn.request("GET", path, headers=headers)
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if connection is None:
        conn.close()
    return response.status, data


def measure(url: str, bodies: list[bytes], accept: str, concurrency: int, seconds: float,
            warmup: float = 2.0) -> dict[str, float]:
    """Send the bodies round-robin from `concurrency` threads; latencies and throughput."""
    counter = itertools.count()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = time.perf_counter()
    measure_from, stop = start + warmup, start + warmup + seconds
    parts = urlsplit(url)

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        mine: list[float] = []
        while (now := time.perf_counter()) < stop:
            body = bodies[next(counter) % len(bodies)]
            try:
                status, _ = request(url, body, accept, conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
                status = 0
            done = time.perf_counter()
            if now >= measure_from and done <= stop:
                if status == 200:
                    mine.append(done - now)
                else:
                    with lock:
                        errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summary(latencies, seconds, errors[0])


def summary(latencies: list[float], seconds: float | None, errors: int = 0) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"requests": 0, "errors": errors}
    result = {
        "requests": len(ordered),
        "errors": errors,
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 2),
    }
    if seconds:
        result["requests_per_s"] = round(len(ordered) / seconds, 1)
    return result


# ---- the query mix ---------------------------------------------------------------------------


def select(url: str, query: str) -> list[dict[str, str]]:
    status, data = request(url, urlencode({"query": PREFIXES + query}).encode(), "text/csv")
    if status != 200:
        raise RuntimeError(f"{status}: {data[:500]!r}")
    return list(csv.DictReader(io.StringIO(data.decode())))


def literal(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid SPARQL string literal


def query_mix(url: str, rng: random.Random) -> dict[str, list[str]]:
    """Each kind's queries, their parameters sampled from the data (the same for both servers)."""
    tracks = select(url, "SELECT ?t ?l WHERE { ?t a ft:Track ; ft:label_short ?l }")
    sample = rng.sample(tracks, 200)
    has_ancestors = bool(select(url, "SELECT ?t WHERE { ?t ft:cell_type_ancestor ?c } LIMIT 1"))
    if has_ancestors:
        link = "ft:cell_type_ancestor"
        counts = select(url, "SELECT ?c (COUNT(?t) AS ?n) WHERE { ?t ft:cell_type_ancestor ?c } "
                             "GROUP BY ?c")
    else:
        link = "ft:experiment_ref/ft:technique/ft:term_id"
        counts = select(url, f"SELECT ?c (COUNT(?t) AS ?n) WHERE {{ ?t {link} ?c }} GROUP BY ?c")
    # classes that select between 0.5% and 10% of the tracks: a realistic search
    terms = sorted(r["c"] for r in counts if len(tracks) // 200 <= int(r["n"]) <= len(tracks) // 10)
    terms = rng.sample(terms, min(20, len(terms)))
    facet = "ft:technique_ancestor" if has_ancestors else "ft:experiment_ref/ft:target/ft:term_id"
    return {
        "lookup by label": [
            f"SELECT ?track WHERE {{ ?track ft:label_short {literal(t['l'])} }}" for t in sample],
        "ancestor search" if has_ancestors else "technique filter": [
            f"SELECT ?track ?label WHERE {{ ?track {link} <{c}> ; ft:label_short ?label }} "
            "ORDER BY ?label LIMIT 50" for c in terms],
        "facet counts": [
            f"SELECT ?value (COUNT(DISTINCT ?track) AS ?tracks) WHERE {{ ?track {link} <{c}> ; "
            f"{facet} ?value }} GROUP BY ?value ORDER BY DESC(?tracks)" for c in terms],
        "describe track": [f"DESCRIBE <{t['t']}>" for t in sample],
        "_tracks": [t["t"] for t in sample],
    }


def bodies_of(queries: list[str]) -> list[bytes]:
    return [urlencode({"query": PREFIXES + q}).encode() for q in queries]


def interleaved(mix: dict[str, list[bytes]]) -> list[bytes]:
    lists = list(mix.values())
    return [lists[i % len(lists)][i // len(lists) % len(lists[i % len(lists)])]
            for i in range(len(lists) * 200)]


def dereference(tracks: list[str], port: int, count: int = 300) -> dict[str, float]:
    """Median latency of GET {track} as Turtle, one request at a time on one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies = []
    for i in range(count + 20):
        path = urlsplit(tracks[i % len(tracks)]).path
        start = time.perf_counter()
        status, body = request(f"http://127.0.0.1:{port}{path}", None, "text/turtle", conn)
        if status != 200 or not body:
            raise RuntimeError(f"dereferencing {path}: {status}")
        if i >= 20:
            latencies.append(time.perf_counter() - start)
    conn.close()
    return summary(latencies, None)


# ---- report ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    prepare(args.tracks)
    rng = random.Random(1)
    ours_port, oxi_port = free_port(), free_port()
    ours_url = f"http://127.0.0.1:{ours_port}/sparql"
    oxi_url = f"http://127.0.0.1:{oxi_port}/query"
    with oxigraph(oxi_port):
        queries = query_mix(oxi_url, rng)
    tracks = queries.pop("_tracks")
    mix = {kind: bodies_of(q) for kind, q in queries.items()}
    mix["mixed (all four interleaved)"] = interleaved(mix)
    results: dict[str, dict] = {"ours": {}, "oxigraph": {}}
    for name, url, launch in (("oxigraph", oxi_url, lambda: oxigraph(oxi_port)),
                              ("ours", ours_url, lambda: ours(ours_port))):
        with launch():
            for kind, bodies in mix.items():
                print(f"{name}: {kind}…", flush=True)
                results[name][kind] = measure(url, bodies, JSON_RESULTS, args.concurrency,
                                              args.seconds)
            if name == "ours":
                results["dereference_turtle"] = dereference(tracks, ours_port)
    report = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "config": {"tracks": args.tracks, "concurrency": args.concurrency,
                   "seconds_per_kind": args.seconds, "ours": "fairtracks-ld serve (defaults: "
                   "gunicorn 2 workers x 4 threads, 2 query processes per worker)",
                   "oxigraph": "oxigraph serve-read-only, current view in the default graph"},
        "queries": {kind: PREFIXES + q[0] for kind, q in queries.items()},
        **results,
        "throughput_ratio": {
            kind: round(results["ours"][kind]["requests_per_s"]
                        / results["oxigraph"][kind]["requests_per_s"], 2)
            for kind in mix
            if results["ours"][kind].get("requests_per_s")
            and results["oxigraph"][kind].get("requests_per_s")},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "endpoint.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "endpoint.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    config = report["config"]
    lines = [
        "# Endpoint benchmark",
        "",
        f"{config['tracks']:,} generated tracks (+ bundled ontologies, inferred ancestor links); "
        f"{config['concurrency']} concurrent keep-alive clients on loopback, "
        f"{config['seconds_per_kind']:g} s per query kind after a 2 s warm-up; "
        f"{report['machine']['cpus']} CPUs, Python {report['machine']['python']}.",
        f"fairtracks-ld: {config['ours']}. Oxigraph: {config['oxigraph']}.",
        "",
        "| query | fairtracks-ld median / p95 (ms) | req/s | oxigraph serve median / p95 (ms) "
        "| req/s | throughput ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind, ratio_of in ((k, report["throughput_ratio"].get(k)) for k in report["ours"]):
        a, b = report["ours"][kind], report["oxigraph"][kind]
        lines.append(
            f"| {kind} | {a.get('median_ms')} / {a.get('p95_ms')} | {a.get('requests_per_s')} "
            f"| {b.get('median_ms')} / {b.get('p95_ms')} | {b.get('requests_per_s')} "
            f"| {ratio_of if ratio_of is not None else 'n/a'} |")
    deref = report["dereference_turtle"]
    lines += [
        "",
        f"Dereferencing a track as Turtle (sequential, {deref['requests']} requests): median "
        f"{deref['median_ms']} ms, p95 {deref['p95_ms']} ms (goal: median < 10 ms).",
        "",
        "Goal: fairtracks-ld at ≥ 0.70 of oxigraph serve's throughput at the same concurrency.",
        "Errors (non-200) are counted in the JSON; the queries are listed there too.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
