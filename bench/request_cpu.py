"""Where a cold request's CPU goes: the endpoint's request kinds, one request at a time.

`fairtracks-ld serve` with the cache off (FAIRTRACKS_LD_CACHE=0) on bench/endpoint.py's store
(built by it, as `load` leaves it unless `--compact` was given there), and `oxigraph serve` on
its copy of the current view, in the same run; per kind, `--requests` sequential requests on
one keep-alive connection after a warm-up (a fifth as many for the heavy kinds, ancestor search
and facet counts), and each server's CPU per request read from /proc, split between the web
(granian) processes and the query worker processes. One request at a time, CPU time is much
steadier than throughput on a shared machine. With `--before TREE` (a source tree, e.g.
`git worktree add --detach /tmp/before main`) the same requests also go to a server running
that tree's code. The servers take turns kind by kind and round by round, so all see the same
machine load; the median of the rounds is reported, with oxigraph's CPU per request divided by
each fairtracks-ld server's (the goal: >= 0.7).

Kinds, with the queries bench/endpoint.py sends: a track by its label (SELECT, form POST,
answered in the web process), ancestor search and facet counts (query workers), DESCRIBE of a
track (form POST, answered in the web process), dereferencing a track as Turtle (oxigraph: GET
of the same DESCRIBE), and the ancestor-aware first page (GET, a query worker).

With `--floors`, three bare WSGI apps under the same granian settings (bench/read_floor_app.py)
take their turns too, for DESCRIBE and dereferencing only: a constant answer ("floor:
constant"), the same answer read from the snapshot with as little Python as possible ("floor:
read"), and Oxigraph's own DESCRIBE through pyoxigraph, evaluated and written in Rust ("floor:
pyoxigraph DESCRIBE"): what a Python server reading the store through pyoxigraph must pay,
whatever its own code.

Usage: python bench/request_cpu.py [--tracks 20000] [--requests 1000] [--rounds 3]
       [--before TREE] [--floors] [--name NAME]
Writes bench/results/request-cpu-<tracks>.json and .md (or NAME.json and .md).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode

import endpoint
from proctree import tree_stats

KINDS = ("lookup by label", "ancestor search", "facet counts", "describe track",
         "dereference track", "first page")
HEAVY = ("ancestor search", "facet counts")  # a fifth as many requests
OXIGRAPH = "oxigraph"
FLOORS = {"floor: constant": "constant", "floor: read": "read",
          "floor: pyoxigraph DESCRIBE": "describe"}  # read_floor_app's modes
FLOOR_KINDS = ("describe track", "dereference track")


def requests_for(kind: str, mix: dict[str, list[str]], server: str) -> list[endpoint.Request]:
    """The kind's requests for a server ("oxigraph": its /query endpoint, DESCRIBE for a
    dereference); `mix`: endpoint.query_mix's queries."""
    path = "/query" if server == OXIGRAPH else "/sparql"  # a floor takes any path
    if kind == "dereference track":
        return endpoint.dereferences(mix["_tracks"], server)
    if kind == "first page":
        return [(f"{path}?" + urlencode({"query": endpoint.explicit(endpoint.FIRST_PAGE)}),
                 None, endpoint.JSON_RESULTS)]
    return endpoint.requests_of(mix[kind], path)


def cpu_by_role(root: int) -> dict[str, float]:
    """CPU seconds of the server's live processes: query workers (multiprocessing children of
    a web process) and the rest (gunicorn's arbiter and web processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"web": 0.0, "query workers": 0.0}
    for pid, fields in tree_stats(root).items():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        role = "query workers" if b"multiprocessing" in command else "web"
        used[role] += (int(fields[11]) + int(fields[12])) / tick
    return used


def run_kind(port: int, root: int, requests: list[endpoint.Request], count: int,
             warmup: int = 100) -> dict[str, float]:
    """CPU milliseconds per request (web, query workers, total) and the median latency."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    base = f"http://127.0.0.1:{port}"
    latencies = []
    before: dict[str, float] = {}
    for i in range(warmup + count):
        if i == warmup:
            before = cpu_by_role(root)
        path, body, accept = requests[i % len(requests)]
        start = time.perf_counter()
        status, _, _ = endpoint.request(base + path, body, accept, conn)
        if status != 200:
            raise RuntimeError(f"{path}: {status}")
        if i >= warmup:
            latencies.append(time.perf_counter() - start)
    after = cpu_by_role(root)
    conn.close()
    result = {role: round((after[role] - before[role]) * 1000 / count, 3) for role in after}
    result["total"] = round(sum(result.values()), 3)
    result["median_ms"] = round(statistics.median(latencies) * 1000, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path)
    parser.add_argument("--floors", action="store_true",
                        help="also the bare WSGI floors (read_floor_app), DESCRIBE and "
                             "dereferencing only")
    parser.add_argument("--name", help="the results' file name, without suffix (default: "
                                       "request-cpu-<tracks>)")
    args = parser.parse_args()
    endpoint.use_work(endpoint.HERE / "work" / f"endpoint-{args.tracks}")
    endpoint.prepare(args.tracks)
    load_before = os.getloadavg()[0]
    trees = {"after": None, **({"before": args.before} if args.before else {})}
    floors = FLOORS if args.floors else {}
    names = [*trees, OXIGRAPH, *floors]
    ports = {name: endpoint.free_port() for name in names}
    rounds: dict[str, dict[str, list[dict[str, float]]]] = {
        name: {kind: [] for kind in KINDS if name not in floors or kind in FLOOR_KINDS}
        for name in names}
    with ExitStack() as stack:
        meters = {name: stack.enter_context(endpoint.ours(ports[name], cache=False, source=tree))
                  for name, tree in trees.items()}
        meters[OXIGRAPH] = stack.enter_context(endpoint.oxigraph(ports[OXIGRAPH]))
        mix = endpoint.query_mix(f"http://127.0.0.1:{ports['after']}/sparql", random.Random(1))
        if floors:  # the constant floor's body: oxigraph's answer to the first DESCRIBE
            _, body, _ = endpoint.request(f"http://127.0.0.1:{ports[OXIGRAPH]}/query",
                                          endpoint.requests_of(mix["describe track"][:1],
                                                               "")[0][1], "text/turtle")
            (endpoint.WORK / "describe-answer.ttl").write_bytes(body)
        for name, mode in floors.items():
            meters[name] = stack.enter_context(endpoint.read_floor(
                ports[name], endpoint.WORK / "describe-answer.ttl", mode))
        for _ in range(args.rounds):
            for kind in KINDS:
                count = args.requests // 5 if kind in HEAVY else args.requests
                for name in (n for n in names if kind in rounds[n]):
                    print(f"{name}: {kind}…", flush=True)
                    rounds[name][kind].append(run_kind(
                        ports[name], meters[name].root, requests_for(kind, mix, name), count,
                        warmup=min(100, count)))
    medians = {name: {kind: {key: round(statistics.median(r[key] for r in results), 3)
                             for key in results[0]}
                      for kind, results in kinds.items()}
               for name, kinds in rounds.items()}
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_before": round(load_before, 2),
                    "load_average_after": round(os.getloadavg()[0], 2)},
        "config": {"tracks": args.tracks, "requests_per_kind": args.requests,
                   "rounds": args.rounds, "compacted": (endpoint.WORK / "store.compacted").exists(),
                   "after": endpoint.commit_of(endpoint.HERE.parent),
                   **({"before": endpoint.commit_of(args.before)} if args.before else {})},
        "median_of_rounds": medians,
        "rounds": rounds,
    }
    name = args.name or f"request-cpu-{args.tracks}"
    (endpoint.RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (endpoint.RESULTS / f"{name}.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict) -> str:
    config, medians = report["config"], report["median_of_rounds"]
    floors = [n for n in medians if n in FLOORS]
    names = [n for n in medians if n not in floors]
    ours = [n for n in names if n != OXIGRAPH]
    lines = [
        "# CPU per cold request, one request at a time",
        "",
        f"{config['tracks']:,} generated tracks, the store as `load` leaves it"
        f"{' (compacted)' if config['compacted'] else ''}; `fairtracks-ld serve` with the cache "
        f"off; {config['requests_per_kind']} sequential requests per kind and round, median of "
        f"{config['rounds']} rounds, servers in turn; load average before / after: "
        f"{report['machine']['load_average_before']} / {report['machine']['load_average_after']}"
        f" on {report['machine']['cpus']} CPUs. Code: "
        + ", ".join(f"{n} = {config[n]}" for n in ours) + "; oxigraph = `oxigraph serve-read-only`"
        " on the optimised copy of the current view (heavy kinds: a fifth as many requests).",
        "",
        "| kind | " + " | ".join(f"{n}: web ms | query workers ms | total ms | median latency ms"
                               for n in names) + " |",
        "| --- |" + " --- | --- | --- | --- |" * len(names),
    ]
    for kind in KINDS:
        lines.append(f"| {kind} | " + " | ".join(
            f"{medians[n][kind]['web']} | {medians[n][kind]['query workers']} | "
            f"{medians[n][kind]['total']} | {medians[n][kind]['median_ms']}" for n in names)
            + " |")
    lines += ["", "web: granian's processes (HTTP, the front door, Flask, the endpoint's own "
              "code, and the evaluation of what is answered inline: DESCRIBE, dereferencing, "
              "one-pattern lookups); query workers: the processes evaluating other SPARQL; "
              "oxigraph: its one process. CPU time on a busy machine is inflated by "
              "contention, for all servers alike.", "",
              "| kind | " + " | ".join(f"oxigraph ÷ {n} (CPU per request)" for n in ours) + " |",
              "| --- |" + " --- |" * len(ours)]
    for kind in KINDS:
        lines.append(f"| {kind} | " + " | ".join(
            f"{medians[OXIGRAPH][kind]['total'] / medians[n][kind]['total']:.2f}"
            if medians[n][kind]["total"] else "-" for n in ours) + " |")
    lines.append("")
    if floors:
        lines += _floors_table(medians, floors)
    return "\n".join(lines)


def _floors_table(medians: dict, floors: list[str]) -> list[str]:
    """CPU per request of the bare WSGI floors (read_floor_app) beside oxigraph's."""
    lines = ["Floors (bench/read_floor_app.py: bare WSGI apps, no Flask and no fairtracks-ld "
             "code, under the same granian settings; `read` reads and writes the answer "
             "fairtracks-ld gives, `pyoxigraph DESCRIBE` is Oxigraph's own DESCRIBE through "
             "pyoxigraph, without the nested nodes), total CPU ms per request, and oxigraph's "
             "CPU per request divided by each:", "",
             "| kind | " + " | ".join(floors) + " | " + " | ".join(
                 f"oxigraph ÷ {n}" for n in floors) + " |",
             "| --- |" + " --- |" * (2 * len(floors))]
    for kind in FLOOR_KINDS:
        totals = [medians[n][kind]["total"] for n in floors]
        lines.append(f"| {kind} | " + " | ".join(str(t) for t in totals) + " | " + " | ".join(
            f"{medians[OXIGRAPH][kind]['total'] / t:.2f}" if t else "-" for t in totals)
            + " |")
    lines.append("")
    return lines


if __name__ == "__main__":
    main()
