"""The constant-answer floor under granian's three Python interfaces: WSGI (what `fairtracks-ld
serve` uses), ASGI and RSGI (granian's own), each a bare application sending one constant Turtle
body (no framework), 2 worker processes, HTTP/1.1, 4 keep-alive clients on loopback.

Why: a cold DESCRIBE costs about twice `oxigraph serve`'s CPU (issue 13); if another interface
answered much more cheaply, the front door could move to it and hand the rest to Flask through
an adapter. Reported per interface: requests/s and the server's CPU milliseconds per answered
request (its process tree, bench/endpoint.CpuMeter), steadier than requests/s on a shared
machine; the median over interleaved rounds.

Usage: python bench/floor_interfaces.py [--rounds 3] [--seconds 5]
Writes bench/results/floor-interfaces.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from endpoint import free_port, measure, server

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BODY = b"@prefix ft: <https://w3id.org/fairtracks-ld/vocab#> .\n" + b"<urn:t> ft:x \"y\" .\n" * 35
APPS = '''
import os

BODY = open(os.environ["FLOOR_BODY"], "rb").read()
HEADERS = [("Content-Type", "text/turtle; charset=utf-8"), ("Content-Length", str(len(BODY)))]


def wsgi(environ, start_response):
    start_response("200 OK", list(HEADERS))
    return [BODY]


async def rsgi(scope, protocol):
    protocol.response_bytes(200, HEADERS, BODY)


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(k.lower().encode(), v.encode()) for k, v in HEADERS]})
    await send({"type": "http.response.body", "body": BODY})
'''
INTERFACES = ("wsgi", "rsgi", "asgi")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    load = [os.getloadavg()[0]]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in INTERFACES}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "floor_interfaces_apps.py").write_text(APPS)
        (Path(folder) / "body.ttl").write_bytes(BODY)
        for _ in range(args.rounds):
            for name in INTERFACES:
                port = free_port()
                threads = ["--blocking-threads", "8"] if name == "wsgi" else []
                with server([sys.executable, "-m", "granian", "--interface", name, "--http", "1",
                             "--no-ws", "--workers", "2", *threads, "--host", "127.0.0.1",
                             "--port", str(port), "--working-dir", folder,
                             f"floor_interfaces_apps:{name}"],
                            f"http://127.0.0.1:{port}/",
                            env={"FLOOR_BODY": str(Path(folder) / "body.ttl")}) as meter:
                    before = meter.seconds()
                    result = measure(f"http://127.0.0.1:{port}",
                                     [("/collection/x/track/t", None, "text/turtle")], 4,
                                     args.seconds, 1.0)
                    used = meter.seconds() - before
                runs[name].append({"requests_per_s": result["requests_per_s"],
                                   "cpu_ms_per_request": round(used * 1000 / result["answered"],
                                                               4)})
                print(name, runs[name][-1], flush=True)
    load.append(os.getloadavg()[0])
    medians = {name: {key: statistics.median(r[key] for r in results) for key in results[0]}
               for name, results in runs.items()}
    report = {"load_average": load, "runs": runs, "medians": medians}
    (RESULTS / "floor-interfaces.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = ["# The constant-answer floor under granian's WSGI, RSGI and ASGI "
             "(`bench/floor_interfaces.py`)", "",
             f"A bare application per interface (no framework) sending one constant Turtle body; "
             f"granian, 2 workers, HTTP/1.1; 4 keep-alive clients on loopback, {args.seconds:g} s "
             f"windows after 1 s of warm-up, {args.rounds} interleaved rounds; load average "
             f"{load[0]:.2f} before, {load[1]:.2f} after (1 min).", "",
             "| interface | requests/s per round | server CPU ms per request, per round | "
             "median CPU ms per request |", "|---|---|---|---:|"]
    for name, results in runs.items():
        rates = ", ".join(f"{r['requests_per_s']:.0f}" for r in results)
        cpu = ", ".join(f"{r['cpu_ms_per_request']:.3f}" for r in results)
        lines.append(f"| {name} | {rates} | {cpu} | {medians[name]['cpu_ms_per_request']:.3f} |")
    (RESULTS / "floor-interfaces.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
