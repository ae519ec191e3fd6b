"""Fairness benchmark: a track dereference while many clients run expensive SPARQL in a loop.

Data: the store of bench/endpoint.py (`--tracks`, generated and loaded once under
bench/work/endpoint-N/). Server: `fairtracks-ld serve` with its defaults (2 granian workers, 2
query processes each, 30 s time limit) and the per-snapshot cache off (FAIRTRACKS_LD_CACHE=0), so
every dereference does its full work.

Heavy clients: 8, then 32 threads, each its own client (its own loopback source address,
127.0.0.10 and up), each sending expensive queries in a loop: facet counts over every track and
a three-way cross join of the tracks that runs into the time limit. They honour Retry-After on
429 and 503 (wait that long), as well-behaved clients do; with `--impatient`, the same numbers of
impatient clients follow, which ignore it and retry after 0.1 s. Meanwhile one more client
dereferences tracks as Turtle, one request at a time: its median and p95 against the same with
no heavy clients (idle). Goal: p95 < 50 ms and median within 2x idle.

With `--heavy lookups` the heavy clients send big one-triple-pattern SELECTs instead (every
track; every track's label), which the server counts (up to executor.SMALL_ROWS solutions)
and hands to a query worker (results in fairness-lookups.{json,md}).

`--baseline-src DIR` runs the same with the fairtracks_ld sources in DIR (e.g. /work/main/src
before this change) for comparison.

Usage: python bench/fairness.py [--tracks 20000] [--seconds 20] [--clients 8 32]
       [--heavy expensive|lookups]
Writes bench/results/fairness.json and bench/results/fairness.md (fairness-lookups.* with
`--heavy lookups`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import threading
import time
from urllib.parse import urlencode, urlsplit

import endpoint
from endpoint import (
    PREFIXES,
    RESULTS,
    free_port,
    ours,
    prepare,
    select,
    summary,
)

EXPENSIVE = [
    "SELECT ?value (COUNT(DISTINCT ?track) AS ?tracks) WHERE { ?track ft:technique_ancestor "
    "?value } GROUP BY ?value ORDER BY DESC(?tracks)",
    "SELECT (COUNT(*) AS ?n) WHERE { ?a a ft:Track . ?b a ft:Track . ?c a ft:Track }",
]
LOOKUPS = [  # one triple pattern each, answers of megabytes
    "SELECT ?track WHERE { ?track a ft:Track }",
    "SELECT ?track ?label WHERE { ?track ft:label_short ?label }",
]
HEAVY = {"expensive": EXPENSIVE, "lookups": LOOKUPS}
HEAVY_TEXT = {
    "expensive": "two expensive queries (facet counts over every track; a three-way cross join "
                 "of the tracks that runs into the 30 s limit)",
    "lookups": "two big one-pattern SELECTs (every track; every track's label: megabytes each, "
               "counted in the server thread up to executor.SMALL_ROWS solutions, then answered "
               "by a query worker)",
}


IMPATIENT_RETRY = 0.1  # seconds an impatient client waits after a refusal


def heavy_client(port: int, source: str, stop: threading.Event, counts: dict[str, int],
                 lock: threading.Lock, patient: bool, queries: list[str]) -> None:
    """Heavy queries in a loop from `source`, honouring Retry-After when `patient`."""
    rng = random.Random(source)
    while not stop.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120,
                                          source_address=(source, 0))
        try:
            conn.request("POST", "/sparql", body=urlencode(
                {"query": PREFIXES + rng.choice(queries)}), headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/sparql-results+json"})
            response = conn.getresponse()
            response.read()
            status, retry = response.status, response.getheader("Retry-After")
        except (OSError, http.client.HTTPException):
            status, retry = 0, None
        finally:
            conn.close()
        with lock:
            counts[str(status)] = counts.get(str(status), 0) + 1
        if retry:
            stop.wait(float(retry) if patient else IMPATIENT_RETRY)


def dereference_loop(port: int, paths: list[str], seconds: float) -> dict[str, float]:
    """GET tracks as Turtle one at a time for `seconds`; latency summary."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120,
                                      source_address=("127.0.0.2", 0))
    latencies, errors, i = [], 0, 0
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        start = time.perf_counter()
        try:
            conn.request("GET", paths[i % len(paths)], headers={"Accept": "text/turtle"})
            response = conn.getresponse()
            status, body = response.status, response.read()
        except (OSError, http.client.HTTPException):  # e.g. no answer within 120 s
            conn.close()
            status, body = 0, b""
        if status == 200 and body:
            latencies.append(time.perf_counter() - start)
        else:
            errors += 1
        i += 1
    conn.close()
    return summary(latencies, None, errors)


def scenario(port: int, paths: list[str], clients: int, seconds: float,
             patient: bool = True, queries: list[str] = EXPENSIVE) -> dict:
    stop, lock, counts = threading.Event(), threading.Lock(), {}
    threads = [threading.Thread(target=heavy_client,
                                args=(port, f"127.0.0.{10 + i}", stop, counts, lock, patient,
                                      queries))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    if clients:
        time.sleep(3)  # every query worker busy, the queues full
    result = dereference_loop(port, paths, seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return {"dereference": result, "heavy_answers_by_status": dict(sorted(counts.items()))}


def run(port: int, paths: list[str], client_counts: list[int], seconds: float,
        env: dict[str, str], impatient: bool = False, queries: list[str] = EXPENSIVE) -> dict:
    results = {}
    with ours(port, cache=False, env=env):
        dereference_loop(port, paths[:20], 2)  # warm-up
        results["idle"] = scenario(port, paths, 0, seconds)
        for clients in client_counts:
            print(f"{clients} heavy clients…", flush=True)
            results[f"{clients} clients"] = scenario(port, paths, clients, seconds,
                                                     queries=queries)
            time.sleep(5)  # let the last stopped queries drain
        for clients in client_counts if impatient else []:
            print(f"{clients} impatient heavy clients…", flush=True)
            results[f"{clients} impatient clients"] = scenario(port, paths, clients, seconds,
                                                               patient=False, queries=queries)
            time.sleep(5)
    idle = results["idle"]["dereference"]["median_ms"]
    for result in results.values():
        deref = result["dereference"]
        if deref.get("median_ms"):
            result["median_vs_idle"] = round(deref["median_ms"] / idle, 2)
            result["goal_met"] = deref["p95_ms"] < 50 and deref["median_ms"] <= 2 * idle
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--baseline-src", help="fairtracks_ld sources to compare with")
    parser.add_argument("--impatient", action="store_true",
                        help="also clients that ignore Retry-After (this branch only)")
    parser.add_argument("--heavy", choices=list(HEAVY), default="expensive",
                        help="what the heavy clients send (default: expensive queries)")
    args = parser.parse_args()
    queries = HEAVY[args.heavy]
    name = "fairness" if args.heavy == "expensive" else f"fairness-{args.heavy}"
    endpoint.use_work(endpoint.HERE / "work" / f"endpoint-{args.tracks}")
    prepare(args.tracks)
    load_before = os.getloadavg()[0]
    port = free_port()
    with ours(port, cache=False):
        tracks = select(f"http://127.0.0.1:{port}/sparql",
                        "SELECT ?t WHERE { ?t a ft:Track } LIMIT 200")
    paths = [urlsplit(row["t"]).path for row in tracks]
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_before": round(load_before, 2)},
        "config": {"tracks": args.tracks, "seconds": args.seconds, "clients": args.clients,
                   "heavy": args.heavy, "expensive_queries": [PREFIXES + q for q in queries]},
        "this branch": run(free_port(), paths, args.clients, args.seconds, {}, args.impatient,
                           queries),
    }
    earlier = RESULTS / f"{name}.json"
    if args.baseline_src:
        report["baseline"] = run(free_port(), paths, args.clients, args.seconds,
                                 {"PYTHONPATH": args.baseline_src}, queries=queries)
        report["config"]["baseline_src"] = args.baseline_src
    elif earlier.exists() and "baseline" in (kept := json.loads(earlier.read_text())):
        report["baseline"] = kept["baseline"]  # it takes minutes: kept from the last run
        report["config"]["baseline_src"] = kept["config"]["baseline_src"] + " (earlier run)"
    report["machine"]["load_average_after"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    config, machine = report["config"], report["machine"]
    lines = [
        "# Fairness benchmark",
        "",
        f"{config['tracks']:,} generated tracks (bench/work/endpoint-N/ store). `fairtracks-ld "
        "serve` defaults, cache off. Heavy clients (each its own loopback address) loop over "
        f"{HEAVY_TEXT[config.get('heavy', 'expensive')]}, honouring Retry-After (impatient "
        f"ones retry after {IMPATIENT_RETRY:g} s instead); one more client "
        f"dereferences tracks as Turtle one at a time for {config['seconds']:g} s. "
        f"{machine['cpus']} CPUs shared with the load generator and other work: load average "
        f"{machine['load_average_before']} before, {machine['load_average_after']} after. "
        "Goal: p95 < 50 ms, median at most twice idle.",
        "",
        "| server | heavy clients | dereference median ms | p95 ms | requests | median ÷ idle "
        "| goal met | heavy clients' answers by status |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for server in ("this branch", "baseline"):
        for name, result in report.get(server, {}).items():
            deref = result["dereference"]
            lines.append(
                f"| {server} | {name} | {deref.get('median_ms', 'n/a')} | "
                f"{deref.get('p95_ms', 'n/a')} | {deref['requests']} | "
                f"{result.get('median_vs_idle', 'n/a')} | {result.get('goal_met', 'n/a')} | "
                + ", ".join(f"{k}: {v}" for k, v in result["heavy_answers_by_status"].items())
                + " |")
    if "baseline" in report:
        lines += ["", f"baseline = the same benchmark with the sources in "
                      f"`{config['baseline_src']}` (before this change)."]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
