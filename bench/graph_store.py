"""Graph Store HTTP Protocol benchmark: fairtracks-ld's /rdf-graph-store vs `oxigraph serve`'s
/store, same graphs, one client, one request at a time (latency, not throughput).

Both servers start on empty stores. For each graph size, a graph of that many triples
(`<s{i}> <p> "literal {i}"`) is PUT (replace) `--repeat` times, then read back with GET as
N-Triples and as Turtle `--repeat` times. The medians are reported with their ratio. A PUT here
opens the primary store (the writer's lock), writes the graph and its catalog record in one
update, and publishes a snapshot so readers see it; Oxigraph writes into the store it serves.

Usage: python bench/graph_store.py [--sizes 1000 10000] [--repeat 9]
Writes bench/results/graph-store.json and bench/results/graph-store.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
TOKEN = "bench-token"
GRAPH = "https://example.org/bench/graph"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait(url: str, process: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while True:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                raise RuntimeError(f"server at {url} did not start") from None
            time.sleep(0.3)


@contextmanager
def ours(folder: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(folder / "ours"), "serve",
         "--port", str(port), "--workers", "2"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env=dict(os.environ, FAIRTRACKS_LD_ADMIN_TOKEN=TOKEN))
    try:
        wait(f"http://127.0.0.1:{port}/", process)
        yield f"http://127.0.0.1:{port}/rdf-graph-store"
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def oxigraph(folder: Path) -> Iterator[str]:
    port = free_port()
    command = BIN / "oxigraph" if (BIN / "oxigraph").exists() else shutil.which("oxigraph")
    process = subprocess.Popen(
        [str(command), "serve", "--location", str(folder / "oxigraph"), "--bind",
         f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait(f"http://127.0.0.1:{port}/", process)
        yield f"http://127.0.0.1:{port}/store"
    finally:
        process.terminate()
        process.wait(timeout=30)


def median_ms(action: Callable[[], requests.Response], repeat: int, expect: set[int]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = action()
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code in expect, (answer.status_code, answer.text[:200])
    return statistics.median(times)


def measure(store: str, size: int, repeat: int) -> dict[str, float]:
    body = "".join(f'<https://example.org/s{i}> <https://example.org/p> "literal {i}" .\n'
                   for i in range(size)).encode()
    session = requests.Session()
    url = f"{store}?graph={GRAPH}"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/n-triples"}
    return {
        "put_ms": median_ms(lambda: session.put(url, data=body, headers=headers, timeout=300),
                            repeat, {200, 201, 204}),
        "get_nt_ms": median_ms(lambda: session.get(url, timeout=300, headers={
            "Accept": "application/n-triples"}), repeat, {200}),
        "get_ttl_ms": median_ms(lambda: session.get(url, timeout=300, headers={
            "Accept": "text/turtle"}), repeat, {200}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        for name, server in (("fairtracks-ld", ours), ("oxigraph serve", oxigraph)):
            with server(folder) as store:
                results[name] = {str(size): measure(store, size, args.repeat)
                                 for size in args.sizes}
    record = {"sizes": args.sizes, "repeat": args.repeat, "results": results,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load": os.getloadavg()}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "graph-store.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = ["# Graph Store HTTP Protocol: fairtracks-ld vs oxigraph serve", "",
             f"One client, sequential requests, median of {args.repeat}; "
             f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs. "
             "Ratio = oxigraph time / fairtracks-ld time (1.0 = as fast).", "",
             "| triples | request | fairtracks-ld ms | oxigraph serve ms | ratio |",
             "|---:|---|---:|---:|---:|"]
    for size in args.sizes:
        for key, label in (("put_ms", "PUT (replace)"), ("get_nt_ms", "GET N-Triples"),
                           ("get_ttl_ms", "GET Turtle")):
            mine = results["fairtracks-ld"][str(size)][key]
            theirs = results["oxigraph serve"][str(size)][key]
            lines.append(f"| {size:,} | {label} | {mine:.1f} | {theirs:.1f} | "
                         f"{theirs / mine:.2f} |")
    (RESULTS / "graph-store.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
