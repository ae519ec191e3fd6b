"""Validation service benchmark: `POST /validate` of large documents against the command-line
validator, and dereferencing while small validations run, against a real `fairtracks-ld serve`
on loopback (its defaults: 2 gunicorn workers, one validation worker process each).

- one generated v1-current document per size (`bench/validate.py`'s planted document) posted
  to `/validate`, median of `--repeat` runs (wall time seen by the client: upload, parsing,
  mapping, context, shapes, answer, in a warm validation worker), and the same file checked by
  `fairtracks-ld validate` (a fresh process each run, as a provider runs it: start-up, shapes and
  ontologies included), median of `--repeat` runs;
- dereferencing latency of a track IRI (Turtle), sequential GETs for `--seconds`, alone and while
  `--concurrent` clients (each its own loopback address) post the v1-current example to
  `/validate` in a loop, honouring Retry-After when refused: p50 / p95, the validations done per
  second and the answers by status.

With `--before REF`, a second server runs the sources of that commit (extracted with `git
archive`) on its own copy of the store, and each size is posted to both servers in turn
(interleaved, so both meet the same machine load): wall time and the CPU seconds the server's
process tree spent on the request (server and validation worker), and their ratios. `uptime` is
recorded at the start and the end.

Usage: python bench/validate_service.py [--sizes 1000 10000] [--repeat 3] [--concurrent 20]
                                        [--before REF] [--name validate-service]
Writes bench/results/NAME.json and bench/results/NAME.md (NAME: `--name`, by default
validate-service).
"""

from __future__ import annotations

import argparse
import http.client
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
from proctree import tree_stats

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


def start(store: Path, port: int, workers: int, sources: Path | None = None
          ) -> subprocess.Popen:
    env = dict(os.environ)
    if sources is not None:
        env["PYTHONPATH"] = str(sources)
    server = subprocess.Popen(
        [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "serve", "--port",
         str(port), "--workers", str(workers)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200:
                return server
        except requests.RequestException:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("the server did not start")


_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of a process and all its live descendants, from /proc."""
    return sum(int(f[11]) + int(f[12]) for f in tree_stats(root).values()) / _TICKS


def timed_post(url: str, body: bytes, server: subprocess.Popen
               ) -> tuple[float, float | None, dict]:
    """(wall seconds, server CPU seconds, answer) of one POST /validate; the CPU seconds are
    None when a process of the tree ended meanwhile (a worker replaced: its time is lost)."""
    cpu, started = tree_cpu(server.pid), time.perf_counter()
    answer = requests.post(url, data=body, timeout=600).json()
    wall = time.perf_counter() - started
    spent = tree_cpu(server.pid) - cpu
    return wall, spent if spent >= 0 else None, answer


def median(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def post(port: int, body: bytes, source: str) -> tuple[int, str | None]:
    """POST a document to /validate from the loopback address `source`: (status, Retry-After)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600,
                                      source_address=(source, 0))
    try:
        conn.request("POST", "/validate", body=body,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After")
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        conn.close()


def cli_seconds(store: Path, path: Path) -> float:
    """Wall time of `fairtracks-ld validate FILE` against the served store, a fresh process."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                    "validate", str(path)], capture_output=True, timeout=1200)
    return time.perf_counter() - started


def latencies(url: str, seconds: float) -> list[float]:
    """GETs of `url` as Turtle one after another for `seconds`: their times in ms."""
    found = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        started = time.perf_counter()
        response = requests.get(url, headers={"Accept": "text/turtle"}, timeout=60)
        found.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return found


def warm_up(port: int, body: bytes, workers: int) -> None:
    """Start and warm each process's validation worker (twice: the connections of one round
    may all reach one process)."""
    for _ in range(2):
        warm = [threading.Thread(target=post, args=(port, body, f"127.0.0.{3 + i}"))
                for i in range(2 * workers)]
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join()


def same_answer(ours: dict, theirs: dict, base: str, their_base: str) -> bool:
    """Both servers answer alike: the same findings (in any order: findings the answer does
    not order apart come in the order the engine's threads found them), IRIs differing by
    base only."""
    def findings(answer: dict, own: str) -> list[str]:
        return sorted(json.dumps(item, sort_keys=True).replace(own, "BASE/")
                      for key in ("errors", "warnings") for item in answer.get(key, []))

    rest = {k: v for k, v in ours.items() if k not in ("errors", "warnings")}
    their_rest = {k: v for k, v in theirs.items() if k not in ("errors", "warnings")}
    return rest == their_rest and findings(ours, base) == findings(theirs, their_base)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--before", metavar="REF",
                        help="also serve the sources of this commit and post to both in turn")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI timings")
    parser.add_argument("--name", default="validate-service",
                        help="results file name (without .json/.md) under bench/results")
    args = parser.parse_args()

    from validate import planted_document

    from fairtracks_ld.standard import example_documents

    example_bytes = example_documents()["v1-current"].read_bytes()
    earlier = RESULTS / f"{args.name}.json"
    kept = json.loads(earlier.read_text()) if earlier.exists() else {}
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "load_at_start": os.getloadavg()[0],
                                 "uptime_at_start": uptime()},
                     "validation_pool": True, "workers": args.workers, "sizes": [],
                     "dereferencing": {}, "compared_with": args.before,
                     "before": kept.get("before") or ({k: kept[k] for k in
                                                       ("machine", "sizes", "dereferencing")}
                                                      if kept else None)}
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        store = Path(folder) / "store"
        cli(store, base, "load", "--allow-invalid", *map(str, example_documents().values()))
        server = start(store, port, args.workers)
        old_server, old_port = None, free_port()
        try:
            if args.before:
                from ingest import sources_of

                old_store = Path(folder) / "store-before"
                cli(old_store, f"http://127.0.0.1:{old_port}/", "load", "--allow-invalid",
                    *map(str, example_documents().values()))
                old_server = start(old_store, old_port, args.workers, sources_of(args.before))
            for warmed in (port, old_port) if old_server else (port,):
                warm_up(warmed, example_bytes, args.workers)
                for index in range(2 * args.workers):  # one at a time: never refused
                    post(warmed, example_bytes, f"127.0.0.{3 + index}")
            track = base + "collection/encode_example/track/encode:ENCFF625ZYB"
            alone = latencies(track, args.seconds)
            stop, done, statuses = threading.Event(), [], {}
            lock = threading.Lock()

            def validate_loop(source: str) -> None:
                while not stop.is_set():
                    status, retry = post(port, example_bytes, source)
                    with lock:
                        statuses[str(status)] = statuses.get(str(status), 0) + 1
                        if status == 200:
                            done.append(time.perf_counter())
                    if retry:  # refused: wait as told, as a well-behaved client does
                        stop.wait(float(retry))

            clients = [threading.Thread(target=validate_loop, args=(f"127.0.0.{10 + i}",))
                       for i in range(args.concurrent)]
            for client in clients:
                client.start()
            time.sleep(2)
            started, before = time.perf_counter(), len(done)
            loaded = latencies(track, args.seconds)
            elapsed, validations = time.perf_counter() - started, len(done) - before
            stop.set()
            for client in clients:
                client.join()
            results["dereferencing"] = {
                "seconds": args.seconds, "requests_alone": len(alone),
                "requests_loaded": len(loaded), "concurrent_validations": args.concurrent,
                "alone_p50_ms": percentile(alone, 0.5), "alone_p95_ms": percentile(alone, 0.95),
                "loaded_p50_ms": percentile(loaded, 0.5),
                "loaded_p95_ms": percentile(loaded, 0.95),
                "validations_per_s": validations / elapsed,
                "validation_answers_by_status": dict(sorted(statuses.items()))}
            for size in args.sizes:
                path = Path(folder) / f"planted-{size}.json"
                path.write_text(json.dumps(planted_document(size)), encoding="utf-8")
                body = path.read_bytes()
                times, cpus, old_times, old_cpus, answer, alike = [], [], [], [], {}, []
                for _ in range(args.repeat):  # interleaved with the earlier sources' server
                    wall, cpu, answer = timed_post(base + "validate", body, server)
                    times.append(wall)
                    cpus.append(cpu)
                    if old_server is not None:
                        wall, cpu, old_answer = timed_post(
                            f"http://127.0.0.1:{old_port}/validate", body, old_server)
                        old_times.append(wall)
                        old_cpus.append(cpu)
                        alike.append(same_answer(answer, old_answer, base,
                                                 f"http://127.0.0.1:{old_port}/"))
                cli_times = [] if args.no_cli else [cli_seconds(store, path)
                                                    for _ in range(args.repeat)]
                row = {"tracks": size, "bytes": len(body), "median_s": statistics.median(times),
                       "runs_s": times, "median_cpu_s": median(cpus), "cpu_s": cpus,
                       "errors": len(answer["errors"]), "warnings": len(answer["warnings"]),
                       "cli_median_s": statistics.median(cli_times) if cli_times else None,
                       "cli_runs_s": cli_times}
                if old_times:
                    row.update(before_median_s=statistics.median(old_times),
                               before_runs_s=old_times,
                               before_median_cpu_s=median(old_cpus),
                               before_cpu_s=old_cpus, same_answers=all(alike))
                results["sizes"].append(row)
                print(json.dumps(row), flush=True)
        finally:
            for running in (server, old_server):
                if running is not None:
                    running.terminate()
                    running.wait(timeout=60)
    results["machine"]["uptime_at_end"] = uptime()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(render(results))
    print(render(results))


def render(results: dict) -> str:
    machine, deref = results["machine"], results["dereferencing"]
    lines = ["# Validation service benchmark (`bench/validate_service.py`)", "",
             f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, shared with other "
             f"work: `uptime` at start `{machine['uptime_at_start']}`, at end "
             f"`{machine['uptime_at_end']}`. `fairtracks-ld serve` with {results['workers']} "
             "gunicorn workers on loopback (one validation worker process each, `nice` 10), "
             "its snapshot holding the two examples. Service times are the client's wall time "
             "(upload, parsing, mapping, context, shapes, answer) in a warm validation worker; "
             "CLI times are `fairtracks-ld validate FILE` against the same store, a fresh "
             "process each run (start-up, shapes and ontologies included). Medians of "
             f"{len(results['sizes'][0]['runs_s']) if results['sizes'] else 0} runs.", "",
             "| tracks | body bytes | POST /validate median s | runs s | server CPU s "
             "| CLI median s | CLI runs s | errors | warnings |",
             "|---:|---:|---:|---|---:|---:|---|---:|---:|"]
    for row in results["sizes"]:
        runs = ", ".join(f"{t:.2f}" for t in row["runs_s"])
        cli_runs = ", ".join(f"{t:.2f}" for t in row["cli_runs_s"]) or "-"
        cli = f"{row['cli_median_s']:.2f}" if row.get("cli_median_s") else "-"
        cpu = f"{row['median_cpu_s']:.2f}" if row.get("median_cpu_s") else "-"
        lines.append(f"| {row['tracks']:,} | {row['bytes']:,} | {row['median_s']:.2f} | {runs} "
                     f"| {cpu} | {cli} | {cli_runs} | {row['errors']} | {row['warnings']} |")
    compared = [row for row in results["sizes"] if "before_median_s" in row]
    if compared:
        lines += ["", f"Side by side with the sources of `{results['compared_with']}` (a second "
                  "server on its own copy of the store, posted in turn with the same body):", "",
                  "| tracks | before median s | now median s | before ÷ now (wall) | before CPU s "
                  "| now CPU s | before ÷ now (CPU) | same answers |",
                  "|---:|---:|---:|---:|---:|---:|---:|---|"]
        for row in compared:
            lines.append(
                f"| {row['tracks']:,} | {row['before_median_s']:.2f} | {row['median_s']:.2f} | "
                f"{row['before_median_s'] / row['median_s']:.2f}x | "
                f"{row['before_median_cpu_s'] or 0:.2f} | {row['median_cpu_s'] or 0:.2f} | "
                f"{(row['before_median_cpu_s'] or 0) / (row['median_cpu_s'] or 1e9):.2f}x | "
                f"{'yes' if row['same_answers'] else 'NO'} |")
    answers = ", ".join(f"{k}: {v}" for k, v in deref["validation_answers_by_status"].items())
    lines += ["", f"Dereferencing a track IRI (Turtle), sequential GETs for {deref['seconds']:g} s "
              f"({deref['requests_alone']} alone, {deref['requests_loaded']} loaded): "
              f"alone p50 {deref['alone_p50_ms']:.1f} ms, p95 {deref['alone_p95_ms']:.1f} ms; "
              f"while {deref['concurrent_validations']} clients (each its own address) validate "
              f"the v1-current example in a loop, honouring Retry-After "
              f"({deref['validations_per_s']:.1f} validations/s done; their answers by status: "
              f"{answers}): p50 {deref['loaded_p50_ms']:.1f} ms, p95 "
              f"{deref['loaded_p95_ms']:.1f} ms.", ""]
    before = results.get("before")
    if before:
        old = before["dereferencing"]
        sizes = "; ".join(f"{row['tracks']:,} tracks {row['median_s']:.2f} s"
                          for row in before["sizes"])
        lines += [f"Before (validation on the server's threads; load average at start "
                  f"{before['machine']['load_at_start']:.1f}): POST /validate {sizes}; "
                  f"dereferencing p95 {old['alone_p95_ms']:.1f} ms alone, "
                  f"{old['loaded_p95_ms']:.1f} ms with {old['concurrent_validations']} "
                  "concurrent validations.", ""]
    lines += ["Goals (issue 16): a 10k-track document in under 2 s; p95 dereferencing under "
              "50 ms with 20 concurrent small validations.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
