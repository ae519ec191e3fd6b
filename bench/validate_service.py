"""Validation service benchmark: `POST /validate` of large documents, and dereferencing while
small validations run, against a real `fairtracks-ld serve` on loopback.

- one generated v1-current document per size (`bench/validate.py`'s planted document) posted
  to `/validate`, median of `--repeat` runs (wall time seen by the client: upload, mapping,
  context, shapes, report);
- dereferencing latency of a track IRI (Turtle), `--requests` sequential GETs, alone and while
  `--concurrent` clients post the v1-current example to `/validate` in a loop: p50 / p95, and
  the validations' throughput.

Usage: python bench/validate_service.py [--sizes 1000 10000] [--repeat 3] [--concurrent 20]
Writes bench/results/validate-service.json and bench/results/validate-service.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(store: Path, base: str, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                    "--base-iri", base, *args], check=True, capture_output=True, timeout=600)


def start(store: Path, port: int, workers: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "serve", "--port",
         str(port), "--workers", str(workers)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200:
                return server
        except requests.RequestException:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("the server did not start")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latencies(url: str, count: int) -> list[float]:
    found = []
    for _ in range(count):
        started = time.perf_counter()
        response = requests.get(url, headers={"Accept": "text/turtle"}, timeout=60)
        found.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from validate import planted_document

    from fairtracks_ld.standard import example_documents

    example = json.loads(example_documents()["v1-current"].read_text(encoding="utf-8"))
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "load_at_start": os.getloadavg()[0]},
                     "workers": args.workers, "sizes": [], "dereferencing": {}}
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        store = Path(folder) / "store"
        cli(store, base, "load", "--allow-invalid", *map(str, example_documents().values()))
        server = start(store, port, args.workers)
        try:
            requests.post(base + "validate", json=example, timeout=300)  # warm both paths
            for size in args.sizes:
                body = json.dumps(planted_document(size)).encode()
                times, answer = [], None
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    answer = requests.post(base + "validate", data=body, timeout=600).json()
                    times.append(time.perf_counter() - started)
                results["sizes"].append({
                    "tracks": size, "bytes": len(body), "median_s": statistics.median(times),
                    "runs_s": times, "errors": len(answer["errors"]),
                    "warnings": len(answer["warnings"])})
                print(f"{size} tracks: {statistics.median(times):.2f} s", flush=True)
            track = base + "collection/encode_example/track/encode:ENCFF625ZYB"
            alone = latencies(track, args.requests)
            stop, done = threading.Event(), []

            def validate_loop() -> None:
                session = requests.Session()
                while not stop.is_set():
                    session.post(base + "validate", json=example, timeout=300)
                    done.append(time.perf_counter())

            clients = [threading.Thread(target=validate_loop) for _ in range(args.concurrent)]
            for client in clients:
                client.start()
            time.sleep(2)
            started, before = time.perf_counter(), len(done)
            loaded = latencies(track, args.requests)
            elapsed, validations = time.perf_counter() - started, len(done) - before
            stop.set()
            for client in clients:
                client.join()
            results["dereferencing"] = {
                "requests": args.requests, "concurrent_validations": args.concurrent,
                "alone_p50_ms": percentile(alone, 0.5), "alone_p95_ms": percentile(alone, 0.95),
                "loaded_p50_ms": percentile(loaded, 0.5),
                "loaded_p95_ms": percentile(loaded, 0.95),
                "validations_per_s": validations / elapsed}
        finally:
            server.terminate()
            server.wait(timeout=60)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "validate-service.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "validate-service.md").write_text(render(results))
    print(render(results))


def render(results: dict) -> str:
    machine, deref = results["machine"], results["dereferencing"]
    lines = ["# Validation service benchmark (`bench/validate_service.py`)", "",
             f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, load average at "
             f"start {machine['load_at_start']:.2f}; `fairtracks-ld serve` with "
             f"{results['workers']} workers (4 threads each) on loopback, its snapshot holding "
             "the two examples. Times are the client's wall time (upload, mapping, context, "
             "shapes, answer).", "",
             "| tracks | body bytes | POST /validate median s | runs s | errors | warnings |",
             "|---:|---:|---:|---|---:|---:|"]
    for row in results["sizes"]:
        runs = ", ".join(f"{t:.2f}" for t in row["runs_s"])
        lines.append(f"| {row['tracks']:,} | {row['bytes']:,} | {row['median_s']:.2f} | {runs} "
                     f"| {row['errors']} | {row['warnings']} |")
    lines += ["", f"Dereferencing a track IRI (Turtle), {deref['requests']} sequential GETs: "
              f"alone p50 {deref['alone_p50_ms']:.1f} ms, p95 {deref['alone_p95_ms']:.1f} ms; "
              f"while {deref['concurrent_validations']} clients validate the v1-current example "
              f"in a loop ({deref['validations_per_s']:.1f} validations/s): p50 "
              f"{deref['loaded_p50_ms']:.1f} ms, p95 {deref['loaded_p95_ms']:.1f} ms.", "",
              "Goals (issue 16): a 10k-track document in under 2 s; p95 dereferencing under "
              "50 ms with 20 concurrent small validations.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
