"""The web stack's floor under two WSGI servers: the constant-answer Flask app (floor_app.py)
served by gunicorn with the settings `fairtracks-ld serve` uses (2 workers, gthread, 4 threads)
and by granian (a Rust HTTP server, WSGI interface, 2 workers), side by side, interleaved.

Why: on an idle machine the gunicorn floor alone reaches only ~0.7x `oxigraph serve` on
DESCRIBE (bench/results/endpoint-quiet-20000.md), so no Flask app under gunicorn can meet issue
13's ratios for DESCRIBE and dereferencing; this measures how much a faster server lifts it.
granian is not a dependency of the project: install it into the Python that runs the servers
(`--python`, default this one).

Usage: python bench/floor_servers.py [--rounds 3] [--seconds 6] [--python PATH]
Writes bench/results/floor-servers.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from endpoint import free_port, measure, request

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BODY = b"@prefix ft: <https://w3id.org/fairtracks-ld/vocab#> .\n" + b"<urn:t> ft:x \"y\" .\n" * 35


def commands(python: str, port: int) -> dict[str, list[str]]:
    return {
        "gunicorn (gthread, 2 workers x 4 threads)": [
            python, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--worker-class",
            "gthread", "--bind", f"127.0.0.1:{port}", "floor_app:app"],
        "granian (WSGI, 2 workers)": [
            python, "-m", "granian", "--interface", "wsgi", "--workers", "2", "--host",
            "127.0.0.1", "--port", str(port), "floor_app:app"],
    }


def serve(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=HERE, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while True:
        try:
            request(f"http://127.0.0.1:{port}/", None, "text/turtle")
            return process
        except OSError:
            if time.time() > deadline:
                process.kill()
                raise SystemExit(f"did not start: {' '.join(command)}") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile(suffix=".ttl") as body:
        body.write(BODY)
        body.flush()
        env = {**os.environ, "FLOOR_BODY": body.name}
        started = os.getloadavg()[0]
        runs: dict[str, list[dict]] = {}
        for _ in range(args.rounds):
            for name, command in commands(args.python, port := free_port()).items():
                process = serve(command, port, env)
                try:
                    runs.setdefault(name, []).append(measure(
                        f"http://127.0.0.1:{port}", [("/collection/x/track/t", None,
                                                      "text/turtle")], 4, args.seconds, 2.0))
                finally:
                    process.terminate()
                    process.wait()
    ended = os.getloadavg()[0]
    report = {"load_average": [started, ended], "runs": runs,
              "median_requests_per_s": {n: statistics.median(r["requests_per_s"] for r in rs)
                                        for n, rs in runs.items()}}
    (RESULTS / "floor-servers.json").write_text(json.dumps(report, indent=1) + "\n")
    medians = report["median_requests_per_s"]
    gunicorn = next(v for n, v in medians.items() if n.startswith("gunicorn"))
    lines = ["# The floor under two WSGI servers (`bench/floor_servers.py`)", "",
             "The constant-answer Flask app (bench/floor_app.py), GET of a track path, "
             f"4 keep-alive clients on loopback, {args.seconds:g} s windows after 2 s of warm-up, "
             f"{args.rounds} interleaved rounds; load average {started:.2f} before, "
             f"{ended:.2f} after.", "",
             "| server | requests/s per round | median | ÷ gunicorn |", "|---|---|---:|---:|"]
    for name, results in runs.items():
        rounds = ", ".join(f"{r['requests_per_s']:.0f}" for r in results)
        lines.append(f"| {name} | {rounds} | {medians[name]:.0f} | "
                     f"{medians[name] / gunicorn:.2f} |")
    (RESULTS / "floor-servers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
