"""Resource-page benchmark: what the people's page (summary, related entities, provenance,
ontology context, genome-browser links, signposting, JSON-LD) costs over the machine
representation of the same resource, and what a collection page costs.

Data: the bundled ontologies, the two vendored example versions and a generated corpus
(`--tracks`, one collection), in a store cached under bench/work/pages/. One server, one
keep-alive connection, requests one at a time (latency); each URL is warmed up first.

Usage: python bench/pages.py [--tracks 20000] [--requests 60]
Writes bench/results/pages.json and bench/results/pages.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from servers import free_port, serve  # noqa: E402

WORK = ROOT / "bench" / "work" / "pages"
RESULTS = ROOT / "bench" / "results"
TRACK = "collection/encode_example/track/encode:ENCFF625ZYB"
EXAMPLES = [ROOT / "standard" / v / "examples" / "fairtracks.example.json"
            for v in ("v1-current", "master")]


def cli(store: Path, base: str, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                    "--base-iri", base, *args], check=True, capture_output=True)


def build(tracks: int, base: str) -> Path:
    store = WORK / f"store-{tracks}"
    if not store.exists():
        corpus = WORK / f"corpus-{tracks}"
        subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "generate", "--tracks",
                        str(tracks), "--seed", "1", "--out", str(corpus)], check=True)
        cli(store, base, "ontologies", "load")
        cli(store, base, "load", "--allow-invalid", *map(str, EXAMPLES))
        cli(store, base, "load", "--bulk", str(corpus))
    return store


def latency(session: requests.Session, url: str, accept: str, count: int) -> dict[str, float]:
    for _ in range(3):
        session.get(url, headers={"Accept": accept}, timeout=120).raise_for_status()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        session.get(url, headers={"Accept": accept}, timeout=120).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(times), 2),
            "p90_ms": round(sorted(times)[int(len(times) * 0.9) - 1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    base = "http://127.0.0.1:8000/"  # the store's IRIs; the server is reached by port
    store = build(args.tracks, base)
    port = free_port()
    collection = "collection/gen-1-0"
    cases = [("track page (HTML)", TRACK, "text/html"),
             ("track (Turtle)", TRACK, "text/turtle"),
             ("collection page, 50 of its tracks (HTML)", collection, "text/html"),
             ("collection page 100 (HTML)", collection + "?page=100", "text/html"),
             ("collection (Turtle)", collection, "text/turtle")]
    found = {}
    with serve(store, port, "--host", "127.0.0.1", workers=1) as url:
        session = requests.Session()
        for name, path, accept in cases:
            found[name] = latency(session, url + path, accept, args.requests)
    body = {"tracks": args.tracks, "requests": args.requests, "machine": platform.platform(),
            "results": found}
    (RESULTS / "pages.json").write_text(json.dumps(body, indent=1) + "\n")
    lines = [f"# Resource pages ({args.tracks:,} generated tracks in one collection + the "
             "examples, bundled ontologies)", "",
             f"`python bench/pages.py --tracks {args.tracks} --requests {args.requests}`; one "
             "gunicorn worker, one client, sequential requests on loopback.", "",
             "| request | median ms | p90 ms |", "|---|---|---|"]
    lines += [f"| {name} | {r['median_ms']} | {r['p90_ms']} |" for name, r in found.items()]
    (RESULTS / "pages.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
