"""`serve --backend` on Virtuoso open source vs the embedded `serve`, same store, same requests.

Data per scale: the bundled examples, and `fairtracks-ld generate --tracks N --seed 1` loaded with
`load --bulk` (no ontology bundle: the query mix then filters on techniques, as bench/endpoint.py
does without ancestor links). The store is dumped as N-Quads and bulk-loaded into a private
Virtuoso (tests/virtuoso.py: `ld_dir` + `rdf_loader_run()`); cached under bench/work/backend/.

Both servers run with the answer cache off (FAIRTRACKS_LD_CACHE=0), so every request reaches the
store or the backend. One request at a time on loopback, a keep-alive session per server, the
same requests in the same order; reported: the median milliseconds per request kind and the
ratio backend / embedded. Also: the first `/search` answer after start (the facet index, built
from local segments or from the backend over SPARQL) and Virtuoso's bulk-load time.

Usage: python bench/backend.py [--tracks 20000] [--repeat 30]
Writes bench/results/backend.json and bench/results/backend.md.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "backend"
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
BASE = "https://tracks.example.org/"
sys.path.insert(0, str(HERE.parent / "tests"))

from servers import EXAMPLES, free_port  # noqa: E402  (the tests' helpers)
from virtuoso import virtuoso  # noqa: E402


def fairtracks(store: Path, *args: str | Path) -> None:
    subprocess.run([BIN / "fairtracks-ld", "--store", store, "--base-iri", BASE,
                    *map(str, args)], check=True, stdout=subprocess.DEVNULL)


def prepare(name: str, tracks: int) -> Path:
    """The scale's folder, holding `store` and `dump/all.nq` (built once)."""
    folder = WORK / name
    if (folder / "dump" / "all.nq").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if tracks:
        subprocess.run([BIN / "fairtracks-ld", "generate", "--tracks", str(tracks), "--seed",
                        "1", "--out", folder / "corpus"], check=True, stdout=subprocess.DEVNULL)
        fairtracks(folder / "store", "load", "--bulk", folder / "corpus")
    else:
        fairtracks(folder / "store", "load", "--allow-invalid", *EXAMPLES)
    (folder / "dump").mkdir()
    fairtracks(folder / "store", "dump", "-o", folder / "dump" / "all.nq")
    return folder


@contextmanager
def server(store: Path, *args: str) -> Iterator[tuple[str, float]]:
    """`fairtracks-ld serve` (cache off); yields its URL and the seconds until its first
    `/search` answer (the facet index built)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.monotonic()
    process = subprocess.Popen(
        [BIN / "fairtracks-ld", "--store", store, "serve", "--port", str(port), *args],
        env=dict(os.environ, FAIRTRACKS_LD_CACHE="0"), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if requests.get(url + "search", timeout=300).status_code == 200:
                    break
            except requests.RequestException:
                if process.poll() is not None:
                    raise RuntimeError(f"serve {args} stopped") from None
                time.sleep(0.1)
        yield url, time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=60)


def requests_for(url: str, repeat: int, rng: random.Random) -> dict[str, list[tuple]]:
    """Each kind's requests (method, path, form, accept), sampled from the data."""
    def select(query: str) -> list[dict]:
        answer = requests.post(url + "sparql", data={"query": query}, timeout=300)
        answer.raise_for_status()
        return [{k: v["value"] for k, v in b.items()} for b in
                answer.json()["results"]["bindings"]]

    tracks = select("SELECT ?t ?l WHERE { ?t a ft:Track ; ft:label_short ?l }")
    sample = rng.sample(tracks, min(repeat, len(tracks)))
    techniques = [r["c"] for r in select(
        "SELECT DISTINCT ?c WHERE { ?t ft:experiment_ref/ft:technique/ft:term_id ?c }")]
    chosen = [rng.choice(techniques) for _ in range(repeat)]
    link = "ft:experiment_ref/ft:technique/ft:term_id"
    facet = "ft:experiment_ref/ft:target/ft:term_id"
    json_type = "application/sparql-results+json"
    return {
        "deref track (Turtle)": [("GET", t["t"][len(BASE):], None, "text/turtle")
                                 for t in sample],
        "deref track (HTML)": [("GET", t["t"][len(BASE):], None, "text/html") for t in sample],
        "lookup by label": [("POST", "sparql", {"query": "SELECT ?track WHERE { ?track "
                             f"ft:label_short {json.dumps(t['l'])} }}"}, json_type)
                            for t in sample],
        "technique filter": [("POST", "sparql", {"query": f"SELECT ?track ?label WHERE {{ "
                              f"?track {link} <{c}> ; ft:label_short ?label }} ORDER BY ?label "
                              "LIMIT 50"}, json_type) for c in chosen],
        "facet counts": [("POST", "sparql", {"query": "SELECT ?value (COUNT(DISTINCT ?track) "
                          f"AS ?n) WHERE {{ ?track {link} <{c}> ; {facet} ?value }} GROUP BY "
                          "?value ORDER BY DESC(?n)"}, json_type) for c in chosen],
        "describe track": [("POST", "sparql", {"query": f"DESCRIBE <{t['t']}>"}, "text/turtle")
                           for t in sample],
        "search page": [("GET", "search", None, "text/html")] * repeat,
    }


def timed(url: str, plan: list[tuple]) -> list[float]:
    session = requests.Session()
    times = []
    for method, path, form, accept in plan:
        started = time.perf_counter()
        answer = session.request(method, url + path, data=form, headers={"Accept": accept},
                                 timeout=300)
        times.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
    return times


def measure(name: str, tracks: int, repeat: int) -> dict:
    folder = prepare(name, tracks)
    shutil.rmtree(folder / "virtuoso", ignore_errors=True)  # a fresh database: a real load
    with virtuoso(folder / "virtuoso", extra_dirs=(folder / "dump",)) as engine:
        started = time.monotonic()
        engine.bulk_load(folder / "dump", "*.nq", "urn:unused")
        loaded = time.monotonic() - started
        with server(folder / "store") as (embedded, embedded_start), \
                server(folder / "no-store", "--backend", engine.sparql_url) as (remote,
                                                                                 remote_start):
            plan = requests_for(embedded, repeat, random.Random(1))
            kinds = {}
            for kind, requested in plan.items():
                timed(embedded, requested[:3])  # warm-up: connections, first index pages
                timed(remote, requested[:3])
                here, there = timed(embedded, requested), timed(remote, requested)
                kinds[kind] = {"embedded_ms": statistics.median(here) * 1000,
                               "backend_ms": statistics.median(there) * 1000}
                kinds[kind]["ratio"] = kinds[kind]["backend_ms"] / kinds[kind]["embedded_ms"]
                print(name, kind, kinds[kind], flush=True)
    quads = sum(1 for _ in (folder / "dump" / "all.nq").open("rb"))
    return {"tracks": tracks or "examples", "quads": quads, "virtuoso_load_s": loaded,
            "first_search_s": {"embedded": embedded_start, "backend": remote_start},
            "kinds": kinds}


def markdown(report: dict) -> str:
    lines = ["# `serve --backend` (Virtuoso open source) vs embedded `serve`", "",
             f"Measured {report['when']} on {report['machine']}; load before: "
             f"{report['uptime']}. One request at a time on loopback, answer cache off on both "
             f"servers, {report['repeat']} requests per kind, medians in ms; ratio = backend / "
             "embedded (above 1: the backend is slower). Script: bench/backend.py.", ""]
    for scale in report["scales"]:
        lines += [f"## {scale['tracks']} tracks ({scale['quads']:,} quads)", "",
                  f"Virtuoso bulk load of the dump: {scale['virtuoso_load_s']:.1f} s. Start to "
                  f"first `/search` answer (facet index built): embedded "
                  f"{scale['first_search_s']['embedded']:.1f} s, backend "
                  f"{scale['first_search_s']['backend']:.1f} s.", "",
                  "| request | embedded ms | backend ms | ratio |", "|---|---:|---:|---:|"]
        for kind, row in scale["kinds"].items():
            lines.append(f"| {kind} | {row['embedded_ms']:.1f} | {row['backend_ms']:.1f} | "
                         f"{row['ratio']:.2f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    scales = [measure("examples", 0, args.repeat)]
    if args.tracks:
        scales.append(measure(f"generated-{args.tracks}", args.tracks, args.repeat))
    report = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "uptime": uptime,
              "repeat": args.repeat, "scales": scales}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "backend.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "backend.md").write_text(markdown(report) + "\n")
    print(markdown(report))


if __name__ == "__main__":
    main()
