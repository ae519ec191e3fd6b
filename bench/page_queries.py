"""Every backend query of resource pages through `serve --backend`, counted and costed one by one.

A scale's store (bench/backend.py's `prepare`) is published into a fresh private Virtuoso with
the view graph; `serve --backend` (answer cache off, its facet index built first) reaches it
through a forwarding proxy that logs every query it sends. Pages: `--pages` tracks sampled with a
fixed seed, then one experiment, sample, study and collection. Each query a page sent is then
asked alone of Virtuoso in `--repeat` rounds (every query once a round; a query that took over
a second, once): Virtuoso's CPU per query (user + system of its process, a mean: 10 ms ticks),
its wall time, the answer's bytes and rows, and the time pyoxigraph takes to read it (as the
server does). With `--before SRC` (a
source tree as for bench/backend.py) the same pages are asked of that code's `serve --backend`
too, on the same Virtuoso, page by page in turn, and the HTML of each page is compared byte for
byte.

The catalog's answers (current versions, withdrawals, a version's record) are asked once per
catalog state: the first track page pays them, so per-page figures leave it out.

Usage: python bench/page_queries.py [--tracks 20000] [--pages 8] [--repeat 10] [--before SRC]
Writes bench/results/page_queries.json and bench/results/page_queries.md.
"""

from __future__ import annotations

import argparse
import http.server
import json
import random
import re
import shutil
import statistics
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qsl

import requests
from backend import (
    BASE,
    PASSWORD,
    RESULTS,
    cpu_seconds,
    fairtracks,
    prepare,
    process_of,
    server,
    uptime,
    virtuoso,
)

from fairtracks_ld.web.backend.endpoint import parse_results

FT = "https://w3id.org/fairtracks-ld/vocab#"
VIEW = f"{BASE}graph/view"
KINDS = (  # what a query asks, told by its text (the first that matches)
    ("SELECT DISTINCT ?s ?p ?o ?g ?k", "page: description, links in, types, reach"),
    ("SELECT DISTINCT ?s ?p ?o", "describe"),
    ("SELECT ?t ?at ?why", "withdrawals"),
    (f"SELECT * WHERE {{ GRAPH <{BASE}graph/catalog> {{ ?s ?p", "links in (catalog)"),
    (f"SELECT * WHERE {{ GRAPH <{VIEW}> {{ ?s ?p", "links in (view graph)"),
    ("SELECT * WHERE { GRAPH ?g {", "rdf:type by graph"),
    (f"SELECT * WHERE {{ GRAPH <{BASE}graph/catalog> {{", "a version's catalog record"),
    ("SELECT ?t ?a ?b", "ancestors (rows)"),
    ("SELECT ?t ?a (COUNT(?b)", "ancestors (counts)"),
    ("SELECT ?s ?p ?o ?g WHERE { VALUES", "labels (GRAPH ?g)"),
    ("SELECT ?s ?p ?o WHERE { VALUES", "labels (view graph)"),
)


class Proxy(http.server.BaseHTTPRequestHandler):
    """Forwards form POSTs to Virtuoso and logs each (its form, wall time, answer bytes)."""

    target = ""
    log: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        started = time.perf_counter()
        answer = requests.post(self.target, data=body, timeout=600, headers={
            "Content-Type": self.headers["Content-Type"], "Accept": self.headers["Accept"]})
        self.log.append({"form": parse_qsl(body.decode()), "accept": self.headers["Accept"],
                         "wall_ms": (time.perf_counter() - started) * 1000,
                         "bytes": len(answer.content)})
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "text/plain"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args: object) -> None:
        pass


def kind_of(query: str) -> str:
    text = " ".join(query.split())
    for start, kind in KINDS:
        if text.startswith(start):
            if kind == "describe":
                return f"describe, subjects: {len(re.findall(r'[?]p [?]o [}] BIND', text))}"
            return kind
    return text[:60]


def sample(sparql: str, tracks: int, rng: random.Random) -> list[str]:
    """`tracks` tracks, then one experiment, sample, study and collection."""
    def of(kind: str) -> list[str]:
        answer = requests.post(sparql, data={"query": f"SELECT ?t WHERE {{ GRAPH <{VIEW}> {{ "
                                                      f"?t a <{FT}{kind}> }} }}"},
                               headers={"Accept": "application/sparql-results+json"},
                               timeout=600)
        answer.raise_for_status()
        return sorted(b["t"]["value"] for b in answer.json()["results"]["bindings"])
    return rng.sample(of("Track"), tracks) + [rng.choice(of(kind)) for kind in
                                                ("Experiment", "Sample", "Study", "Collection")]


def pages(servers: dict[str, tuple[str, int]], engine: int, iris: list[str]
          ) -> dict[str, list[dict]]:
    """Each code's pages, asked in turn (each page of one code, then the same page of the
    next): their wall time, CPU (server, Virtuoso), HTML and the queries they sent."""
    found: dict[str, list[dict]] = {code: [] for code in servers}
    session = requests.Session()
    for iri in iris:
        for code, (url, pid) in servers.items():
            start = len(Proxy.log)
            cpu = (cpu_seconds(pid), cpu_seconds(engine))
            started = time.perf_counter()
            answer = session.get(url + iri[len(BASE):], headers={"Accept": "text/html"},
                                 timeout=600)
            wall = time.perf_counter() - started
            answer.raise_for_status()
            found[code].append({
                "iri": iri, "wall_ms": wall * 1000,
                "server_cpu_ms": (cpu_seconds(pid) - cpu[0]) * 1000,
                "virtuoso_cpu_ms": (cpu_seconds(engine) - cpu[1]) * 1000, "html": answer.text,
                "queries": [q for q in Proxy.log[start:]
                            if "SELECT ?g ?at ?m" not in dict(q["form"])["query"]]})
    return found


def replay(sparql: str, engine: int, queries: list[dict], repeat: int) -> None:
    """Each query asked alone of Virtuoso, in rounds (every query once per round, so a change
    in the machine's load weighs on all alike; a query that took over a second, in the first
    round only): its CPU, wall, rows and the time to read its answer."""
    cpu: dict[int, list[float]] = {n: [] for n in range(len(queries))}
    walls: dict[int, list[float]] = {n: [] for n in range(len(queries))}
    for turn in range(repeat):
        for n, query in enumerate(queries):
            if turn and query["wall_ms"] >= 1000:
                continue
            before = cpu_seconds(engine)
            started = time.perf_counter()
            answer = requests.post(sparql, data=query["form"],
                                   headers={"Accept": query["accept"]}, timeout=600)
            walls[n].append(time.perf_counter() - started)
            cpu[n].append(cpu_seconds(engine) - before)
            if turn == 0:
                media = answer.headers.get("Content-Type", "").split(";")[0]
                started = time.perf_counter()
                parsed = parse_results(media, answer.content)
                rows = sum(1 for _ in parsed) if hasattr(parsed, "variables") else 1
                query.update(kind=kind_of(dict(query["form"])["query"]), rows=rows,
                             parse_ms=(time.perf_counter() - started) * 1000)
    for n, query in enumerate(queries):
        query.update(replay_cpu_ms=statistics.mean(cpu[n]) * 1000,
                     replay_wall_ms=statistics.median(walls[n]) * 1000)


def summary(found: list[dict]) -> dict:
    """Per track page (the first left out: it pays the catalog's answers) and per kind."""
    tracks = [p for p in found if "/track/" in p["iri"]][1:]
    kinds: dict[str, list[dict]] = {}
    for page in tracks:
        for query in page["queries"]:
            kinds.setdefault(query["kind"], []).append(query)
    med = statistics.median
    return {
        "track_pages": len(tracks),
        "queries_per_page": med(len(p["queries"]) for p in tracks),
        "wall_ms": med(p["wall_ms"] for p in tracks),
        "server_cpu_ms": med(p["server_cpu_ms"] for p in tracks),
        "virtuoso_cpu_ms": med(p["virtuoso_cpu_ms"] for p in tracks),
        "kinds": {kind: {"per_page": len(qs) / len(tracks),
                         "cpu_ms": med(q["replay_cpu_ms"] for q in qs),
                         "wall_ms": med(q["replay_wall_ms"] for q in qs),
                         "rows": med(q["rows"] for q in qs),
                         "kb": med(q["bytes"] for q in qs) / 1000,
                         "parse_ms": med(q["parse_ms"] for q in qs)}
                  for kind, qs in kinds.items()}}


def markdown(report: dict) -> str:
    lines = ["# A resource page's backend queries, one by one", "",
             f"Measured {report['when']} on {report['tracks']:,} generated tracks (`uptime` "
             f"before: {report['uptime_before']}; after: {report['uptime_after']}); "
             f"{report['pages']} track pages, then an experiment, a sample, a study and a "
             "collection; script: bench/page_queries.py. Per track page (medians; the first "
             "track page, which asks the catalog's answers, left out): queries sent, wall ms, "
             "CPU ms of the server's process tree and of Virtuoso. Per kind of query: how many "
             "per page, then each asked alone of Virtuoso (medians): its CPU ms (a mean of "
             f"{report['repeat']}; 10 ms ticks), wall ms, rows, kB, pyoxigraph's reading ms.", ""]
    for code, figures in report["codes"].items():
        lines += [f"## {code}", "",
                  f"{figures['queries_per_page']:g} queries per track page; wall "
                  f"{figures['wall_ms']:.0f} ms; CPU: server {figures['server_cpu_ms']:.0f} ms, "
                  f"Virtuoso {figures['virtuoso_cpu_ms']:.0f} ms.", "",
                  "| query | per page | Virtuoso CPU ms | wall ms | rows | kB | read ms |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {kind} | {k['per_page']:.1f} | {k['cpu_ms']:.1f} | {k['wall_ms']:.1f} | "
                  f"{k['rows']:.0f} | {k['kb']:.1f} | {k['parse_ms']:.1f} |"
                  for kind, k in figures["kinds"].items()]
        lines.append("")
    if "same_html" in report:
        lines += [f"Pages whose HTML is byte for byte the same through both codes: "
                  f"{report['same_html']} of {report['pages'] + 4}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--before", type=Path, help="a source tree also asked, side by side")
    parser.add_argument("--before-label", default="before")
    args = parser.parse_args()
    folder = prepare(args.tracks)
    report = {"tracks": args.tracks, "pages": args.pages, "repeat": args.repeat,
              "uptime_before": uptime(), "codes": {}}
    shutil.rmtree(folder / "virtuoso", ignore_errors=True)
    shutil.rmtree(folder / "bulk", ignore_errors=True)
    (folder / "bulk").mkdir()
    with virtuoso(folder / "virtuoso", extra_dirs=(folder / "bulk",)) as engine:
        fairtracks(folder / "store", "publish", "--to", engine.sparql_url, "--virtuoso-isql",
                   f"127.0.0.1:{engine.sql_port}", "--bulk-dir", folder / "bulk",
                   env={"FAIRTRACKS_LD_ISQL_PASSWORD": PASSWORD})
        engine.isql("checkpoint")
        pid = process_of(str(folder / "virtuoso" / "virtuoso.ini"))
        Proxy.target = engine.sparql_url
        proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{proxy.server_address[1]}/sparql"
        iris = sample(engine.sparql_url, args.pages, random.Random(1))
        codes = {args.before_label: args.before} if args.before else {}
        codes["this code"] = None
        with ExitStack() as running:
            servers = {}
            for code, source in codes.items():
                address, _, server_pid = running.enter_context(server(
                    folder / f"no-store-pages-{len(servers)}", "--backend", url,
                    "--query-timeout", "600", source=source))
                servers[code] = (address, server_pid)
            runs = pages(servers, pid, iris)
        proxy.shutdown()
        replay(engine.sparql_url, pid, [q for found in runs.values() for page in found
                                        for q in page["queries"]], args.repeat)
    report["codes"] = {code: summary(found) for code, found in runs.items()}
    if len(runs) == 2:
        before, after = runs.values()
        report["same_html"] = sum(a["html"] == b["html"] for a, b in zip(before, after,
                                                                         strict=True))
    report.update(uptime_after=uptime(), when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "page_queries.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "page_queries.md").write_text(markdown(report) + "\n")
    print(markdown(report))


if __name__ == "__main__":
    main()
