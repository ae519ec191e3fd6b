"""Endpoint benchmark: fairtracks-ld's /sparql vs `oxigraph serve`, same data, same queries.

Data: `fairtracks-ld generate --tracks 100000 --seed 1`, `load --bulk`, the bundled ontologies
(so the class closure the ft:*_ancestor paths join exists); the store's current view (its
default graph, every triple a query sees by default) is copied into an Oxigraph store's default
graph.
Everything is cached under bench/work/endpoint-<tracks>/.

Load: Python threads on loopback, one keep-alive HTTP connection each, each from its own loopback
address (127.0.0.20 and up: separate clients, as far as per-client limits go), the same
concurrency for both servers, one server measured at a time. Query mix (same text to both,
form POST, JSON results): a track by its label; an ancestor-aware search (tracks whose cell
type is a class or below it, via ft:cell_type_ancestor; a technique filter if that answers
nothing); facet counts (techniques among those tracks); DESCRIBE of a track; and all
four interleaved.
Then dereferencing tracks as Turtle under the same load (for oxigraph: GET of the same DESCRIBE),
and one request at a time (latency); and the ancestor-aware first page (100 tracks under
lymphocyte) through each SPARQL endpoint, one request at a time (latency).

fairtracks-ld runs twice: with the per-snapshot cache on (warm: the warm-up has seen every
request; the hit rate is counted from the X-Cache headers of the measured answers) and with
FAIRTRACKS_LD_CACHE=0 (cold: no answer comes from a cache). Each server is measured once its
process tree has gone quiet after start-up (its query worker processes are ready).

Each server's CPU time per request (its whole process tree, warm-up included) is reported next to
throughput: on a shared 2-core machine it is steadier than requests/s. It is sampled from /proc
every 0.2 s per process (pid and start time) and each process keeps the most it was seen to use,
so the total cannot go down when a process exits (it misses at most a process's last 0.2 s). As
a floor for the Python web stack, the DESCRIBE requests are also sent to a Flask app under the
same HTTP server settings (granian) that answers each with a constant Turtle body
(bench/floor_app.py): no server built on Flask can pass that throughput. As a floor for reading
the store from Python, they also go to a bare WSGI app (bench/read_floor_app.py, no Flask) that
reads the answer fairtracks-ld gives from the same snapshot through pyoxigraph and writes it:
no Python server reading the store that way can pass that one.

With --rounds N (N > 1) every server is started at once and each of N rounds measures each
query kind on each server in turn, the servers' order rotated a round: a ratio then compares
windows seconds apart, not minutes, and the report gives medians of the rounds (each round's
ratios are in the JSON). The servers not being measured are idle.

Usage: python bench/endpoint.py [--concurrency 4] [--seconds 10] [--tracks 100000] [--compact]
       [--rounds 3] [--client wrk]   (DESCRIBE and dereferencing sent by wrk, Debian `wrk`)
       [--before SOURCE_TREE]   (e.g. `git worktree add --detach /tmp/before main`: the same run
       also measures that tree's code, warm and cold, as `before` / `before_cold`)
       [--loader SOURCE_TREE]   (the store is loaded by that tree's code, in its own work folder,
       and served by this one: the store as an earlier `load` left it; results go to
       endpoint-loaded-by-<tree>-<tracks>)
       [--store STORE --base-iri IRI]   (measure a store loaded elsewhere, e.g. the 1M store
       bench/million.py uses; only its Oxigraph copy is made, in bench/work/endpoint-given-<tracks>)
       [--other-store STORE]    (also serve that store, same corpus, cold, in the same run: e.g.
       the store --loader built, so two stores are compared under the same machine load)
Writes bench/results/endpoint[-compacted][-loaded-by-<tree>]-<tracks>.json and .md (or
--name NAME: NAME.json and .md). The store
is as `load` leaves it unless --compact (fairtracks-ld's `load` waits for RocksDB's own
compactions after a big write before it publishes: fairtracks_ld/store/compaction.py).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import itertools
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from proctree import tree_stats

from fairtracks_ld.sparql import virtual
from fairtracks_ld.writer_lock import writer_lock

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "endpoint"  # one folder per track count: see use_work
RESULTS = HERE / "results"
BASE = "http://127.0.0.1:8000/"  # minted IRIs; the server answers for them on any port
BIN = Path(sys.executable).parent
PREFIXES = ("PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>\n"
            "PREFIX obo: <http://purl.obolibrary.org/obo/>\n")
JSON_RESULTS = "application/sparql-results+json"


def explicit(query: str) -> str:
    """The query as every contender runs it: the track → ancestor predicates (`ft:*_ancestor`)
    written as the paths fairtracks-ld's endpoint rewrites them to, since a peer store knows no
    such predicate: it holds the annotations and the class closure the paths join
    (sparql/virtual.py)."""
    return virtual.rewrite(PREFIXES + query)


STORE = WORK / "store"  # the measured store: see use_work
LOADER: Path | None = None  # --loader: the source tree whose `load` builds the store


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(a) for a in args], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, **env} if env else None)


def fairtracks(*args: str | Path) -> None:
    """A command on the benchmark's store, with --loader's code when given."""
    run(BIN / "fairtracks-ld", "--store", STORE, "--base-iri", BASE, *args,
        env={"PYTHONPATH": str(LOADER / "src")} if LOADER else None)


def use_work(folder: Path, store: Path | None = None) -> None:
    """Measure in `folder` (its corpus, Oxigraph copy, answers) the store `store`, by default
    the folder's own: every script sharing this module's servers and preparation calls it."""
    global WORK, STORE
    WORK, STORE = folder, store or folder / "store"


def prepare(tracks: int, given: Path | None = None) -> None:
    """Corpus, store (with ontologies) and the Oxigraph copy of its current view, once; with a
    `given` store (loaded elsewhere, e.g. bench/million.py's 1M store), only the copy."""
    WORK.mkdir(parents=True, exist_ok=True)
    if given is not None:
        _copy_view()
        return
    corpus, marker = WORK / "corpus", WORK / "corpus" / ".complete"  # holds the track count
    if not marker.exists() or marker.read_text() != str(tracks):
        shutil.rmtree(corpus, ignore_errors=True)
        for stale in ("store", "store.snapshots", "oxigraph", "view"):
            shutil.rmtree(WORK / stale, ignore_errors=True)
        (WORK / "store.complete").unlink(missing_ok=True)
        (WORK / "store.compacted").unlink(missing_ok=True)
        run(BIN / "fairtracks-ld", "generate", "--tracks", str(tracks), "--seed", "1",
            "--out", corpus)
        marker.write_text(str(tracks))
    if not (WORK / "store.complete").exists():
        for stale in ("store", "store.snapshots", "oxigraph", "view"):
            shutil.rmtree(WORK / stale, ignore_errors=True)
        (WORK / "store.compacted").unlink(missing_ok=True)
        print("loading the corpus and the ontologies (a few minutes)…", flush=True)
        fairtracks("load", "--bulk", corpus)
        background_optimize_done(STORE)  # before the next write would stop it
        fairtracks("ontologies", "load")
        (WORK / "store.complete").touch()
    _copy_view()


def _copy_view() -> None:
    """The Oxigraph store holding the store's current view in its default graph, once."""
    if not (WORK / "oxigraph" / ".complete").exists():
        shutil.rmtree(WORK / "oxigraph", ignore_errors=True)
        shutil.rmtree(WORK / "view", ignore_errors=True)
        (WORK / "view").mkdir()
        dump_view(WORK / "view" / "view.nt")
        run(BIN / "oxigraph", "load", "--location", WORK / "oxigraph", "--lenient", "--file",
            WORK / "view" / "view.nt")
        run(BIN / "oxigraph", "optimize", "--location", WORK / "oxigraph")
        (WORK / "oxigraph" / ".complete").touch()
        shutil.rmtree(WORK / "view")


def background_optimize_done(store: Path) -> None:
    """Wait until the compaction a big load starts in the background (store/optimizer.py) has
    published, as a user's store would be once it has: the writer lock, without stopping it."""
    with writer_lock(store, command="bench: waiting for the background compaction",
                     wait=3600, preempt=False):
        pass


def compact() -> None:
    """Compact the store as `oxigraph optimize` compacts the peer's (RocksDB's full compaction,
    pyoxigraph `Store.optimize`), then publish it as the snapshot the server reads; once per
    store (`store.compacted`), what `fairtracks-ld optimize` does; `--compact` measures what it
    changes beyond what `load` leaves."""
    if (WORK / "store.compacted").exists():
        return
    from fairtracks_ld.store import TrackStore
    from fairtracks_ld.store.snapshots import publish
    from fairtracks_ld.writer_lock import writer_lock

    with writer_lock(STORE):
        store = TrackStore(STORE, base=BASE)
        store.ox.optimize()
        publish(store)
        del store
    (WORK / "store.compacted").touch()


def dump_view(path: Path) -> None:
    """The store's current view (every triple a query sees by default: its default graph, see
    fairtracks_ld.store.current_view) as N-Triples."""
    import pyoxigraph as ox

    from fairtracks_ld.store.snapshots import current_snapshot

    store = ox.Store.read_only(str(current_snapshot(STORE)))
    # Oxigraph's own dump to a path: no Python object per triple, no Python write per block
    store.dump(str(path), ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())


# ---- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CpuMeter:
    """CPU seconds used by a process tree, which never decrease: each process (pid and start
    time) counts the most user + system time it was seen to use, sampled in the background, so
    a process that exits keeps its share (the time since its last sample is missed)."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        self.root = root
        self.tick = os.sysconf("SC_CLK_TCK")
        self.used: dict[tuple[int, int], float] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample_until_stopped, args=(interval,),
                                       daemon=True)
        self.sample()
        self.thread.start()

    def _sample_until_stopped(self, interval: float) -> None:
        while not self.stopped.wait(interval):
            self.sample()

    def sample(self) -> None:
        tree = tree_stats(self.root)
        with self.lock:
            for pid, fields in tree.items():
                key = (pid, int(fields[19]))  # start time: pids are reused
                seconds = (int(fields[11]) + int(fields[12])) / self.tick
                self.used[key] = max(self.used.get(key, 0.0), seconds)

    def seconds(self) -> float:
        self.sample()
        with self.lock:
            return sum(self.used.values())

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()


@contextmanager
def server(args: list[str], probe: str,
           env: dict[str, str] | None = None) -> Iterator[CpuMeter]:
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, **(env or {})))
    try:
        deadline = time.time() + 180
        while True:
            try:
                status, _, _ = request(probe, None, "*/*")
                if status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"server did not start: {args}")
            time.sleep(0.3)
        meter = CpuMeter(process.pid)
        settle(meter, deadline)
        try:
            yield meter
        finally:
            meter.stop()
    finally:
        process.terminate()
        process.wait(timeout=60)


def settle(meter: CpuMeter, deadline: float, idle: float = 0.1) -> None:
    """Wait until the server's process tree uses less than `idle` of a CPU over a second: its
    worker processes have started (a server answers `/` before its query workers are ready)."""
    before = meter.seconds()
    while time.time() < deadline:
        time.sleep(1.0)
        now = meter.seconds()
        if now - before < idle:
            return
        before = now


def ours(port: int, cache: bool = True, source: Path | None = None,
         env: dict[str, str] | None = None,
         store: Path | None = None) -> AbstractContextManager[CpuMeter]:
    """`fairtracks-ld serve` on the store (or `store`); with `source`, the code of that source
    tree (its `src/` first on the path: e.g. a git worktree of an earlier commit)."""
    code = {"PYTHONPATH": str(source / "src")} if source else {}
    return server([sys.executable, "-m", "fairtracks_ld.cli", "--store",
                   str(store or STORE),
                   "serve", "--port", str(port)],
                  f"http://127.0.0.1:{port}/sparql?query=ASK%7B%7D",
                  env={"FAIRTRACKS_LD_CACHE": "1" if cache else "0", **code, **(env or {})})


def oxigraph(port: int) -> AbstractContextManager[CpuMeter]:
    return server([str(BIN / "oxigraph"), "serve-read-only", "--location",
                   str(WORK / "oxigraph"), "--bind", f"127.0.0.1:{port}"],
                  f"http://127.0.0.1:{port}/query?query=ASK%7B%7D")


def floor(port: int, body: Path) -> AbstractContextManager[CpuMeter]:
    """The constant-answer Flask app under the HTTP server settings `fairtracks-ld serve` uses
    (granian, WSGI, HTTP/1.1, 2 workers, as many threads: web/httpd.py)."""
    from fairtracks_ld.web.serve import threads_for
    from fairtracks_ld.web.settings import Settings

    return server([sys.executable, "-m", "granian", "--interface", "wsgi", "--http", "1",
                   "--no-ws", "--workers", "2", "--blocking-threads",
                   str(threads_for(Settings())), "--host", "127.0.0.1", "--port", str(port),
                   "--working-dir", str(HERE), "floor_app:app"],
                  f"http://127.0.0.1:{port}/", env={"FLOOR_BODY": str(body)})


def read_floor(port: int, body: Path, mode: str = "read") -> AbstractContextManager[CpuMeter]:
    """bench/read_floor_app.py in `mode` (`read`, `describe` or `constant`: its docstring)
    under the same granian settings as `floor`, on the snapshot fairtracks-ld serves."""
    from fairtracks_ld.store.snapshots import current_snapshot
    from fairtracks_ld.web.serve import threads_for
    from fairtracks_ld.web.settings import Settings

    return server([sys.executable, "-m", "granian", "--interface", "wsgi", "--http", "1",
                   "--no-ws", "--workers", "2", "--blocking-threads",
                   str(threads_for(Settings())), "--host", "127.0.0.1", "--port", str(port),
                   "--working-dir", str(HERE), "read_floor_app:app"],
                  f"http://127.0.0.1:{port}/?query=ASK",
                  env={"FLOOR_MODE": mode, "FLOOR_BODY": str(body),
                       "FLOOR_STORE": str(current_snapshot(STORE)),
                       "FLOOR_BASE": BASE.rstrip("/")})


# ---- load generation -------------------------------------------------------------------------


def request(url: str, body: bytes | None, accept: str,
            connection: http.client.HTTPConnection | None = None
            ) -> tuple[int, bytes, str | None]:
    """One HTTP request (form POST when body is given), on `connection` if one is passed:
    (status, body, X-Cache header)."""
    parts = urlsplit(url)
    conn = connection or http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Accept": accept}
    if body is None:
        conn.request("GET", path, headers=headers)
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if connection is None:
        conn.close()
    return response.status, data, response.getheader("X-Cache")


Request = tuple[str, bytes | None, str]  # path (and query string), form body or None, Accept


def measure(base: str, requests: list[Request], concurrency: int, seconds: float,
            warmup: float = 3.0) -> dict[str, float]:
    """Send the requests round-robin from `concurrency` threads to the server at `base`;
    latencies, throughput and the cache hit rate (of answers that say, in X-Cache).

    A request counts when it starts after the warm-up and ends within the window."""
    counter = itertools.count()
    completed = itertools.count()  # every answered request, warm-up included (for CPU/request)
    latencies: list[float] = []
    errors = [0]
    cache = {"hit": 0, "miss": 0}
    lock = threading.Lock()
    start = time.perf_counter()
    measure_from, stop = start + warmup, start + warmup + seconds
    parts = urlsplit(base)

    def worker(index: int) -> None:
        def connect() -> http.client.HTTPConnection:  # each thread its own client address
            return http.client.HTTPConnection(parts.hostname, parts.port, timeout=120,
                                              source_address=(f"127.0.0.{20 + index}", 0))

        conn = connect()
        mine: list[float] = []
        while (now := time.perf_counter()) < stop:
            path, body, accept = requests[next(counter) % len(requests)]
            seen = None
            try:
                status, _, seen = request(base + path, body, accept, conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = connect()
                status = 0
            done = time.perf_counter()
            next(completed)
            if now >= measure_from and done <= stop:
                if status == 200:
                    mine.append(done - now)
                with lock:
                    errors[0] += status != 200
                    if seen in cache:
                        cache[seen] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = {**summary(latencies, seconds, errors[0]), "answered": next(completed)}
    if cache["hit"] + cache["miss"]:
        result["cache_hit_rate"] = round(cache["hit"] / (cache["hit"] + cache["miss"]), 3)
    return result


WRK_SCRIPT = """
local requests = {%s}
local counter = 0
request = function()
  counter = counter + 1
  local r = requests[(counter %% #requests) + 1]
  local headers = {["Accept"] = r[3]}
  if r[2] then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  return wrk.format(r[2] and "POST" or "GET", r[1], headers, r[2])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("FIGURES %%d %%d %%d %%d\\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50),
    latency:percentile(95)))
end
"""


def measure_wrk(base: str, requests: list[Request], concurrency: int, seconds: float,
                warmup: float = 3.0) -> dict[str, float]:
    """The requests sent by wrk (C, one event-loop thread, `concurrency` keep-alive
    connections, round-robin through `requests`) after a `warmup` run of its own: a load
    generator that spends a fraction of the Python clients' CPU per request, so that on 2
    cores the server, not the client, is what is measured (all connections come from
    127.0.0.1). Every answered request counts, warm-up included, for CPU per request."""
    def lua(text: str | bytes | None) -> str:
        if text is None:
            return "nil"
        text = text.decode() if isinstance(text, bytes) else text
        assert "]==]" not in text
        return f"[==[{text}]==]"

    script = WORK / "wrk-requests.lua"
    script.write_text(WRK_SCRIPT % ", ".join(
        f"{{{lua(path)}, {lua(body)}, {lua(accept)}}}" for path, body, accept in requests))
    figures = []
    for duration in (warmup, seconds):
        out = subprocess.run(["wrk", "-t", "1", "-c", str(concurrency), "-d",
                              f"{duration:g}s", "-s", str(script), base],
                             capture_output=True, text=True, check=True).stdout
        line = next(line for line in out.splitlines() if line.startswith("FIGURES "))
        figures.append([int(value) for value in line.split()[1:]])
    (warm, _, _, _), (count, errors, median_us, p95_us) = figures
    return {"requests": count - errors, "errors": errors, "median_ms": round(median_us / 1000, 2),
            "p95_ms": round(p95_us / 1000, 2),
            "requests_per_s": round((count - errors) / seconds, 1), "answered": warm + count}


def summary(latencies: list[float], seconds: float | None, errors: int = 0) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"requests": 0, "errors": errors}
    result = {
        "requests": len(ordered),
        "errors": errors,
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 2),
    }
    if seconds:
        result["requests_per_s"] = round(len(ordered) / seconds, 1)
    return result


# ---- the query mix ---------------------------------------------------------------------------


def select(url: str, query: str) -> list[dict[str, str]]:
    status, data, _ = request(url, urlencode({"query": explicit(query)}).encode(), "text/csv")
    if status != 200:
        raise RuntimeError(f"{status}: {data[:500]!r}")
    return list(csv.DictReader(io.StringIO(data.decode())))


def literal(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid SPARQL string literal


def query_mix(url: str, rng: random.Random) -> dict[str, list[str]]:
    """Each kind's queries, their parameters sampled from the data (the same for both servers)."""
    tracks = select(url, "SELECT ?t ?l WHERE { ?t a ft:Track ; ft:label_short ?l }")
    sample = rng.sample(tracks, 200)
    has_ancestors = bool(select(url, "SELECT ?t WHERE { ?t ft:cell_type_ancestor ?c } LIMIT 1"))
    if has_ancestors:
        link = "ft:cell_type_ancestor"
        counts = select(url, "SELECT ?c (COUNT(?t) AS ?n) WHERE { ?t ft:cell_type_ancestor ?c } "
                             "GROUP BY ?c")
    else:
        link = "ft:experiment_ref/ft:technique/ft:term_id"
        counts = select(url, f"SELECT ?c (COUNT(?t) AS ?n) WHERE {{ ?t {link} ?c }} GROUP BY ?c")
    # classes that select between 0.5% and 10% of the tracks: a realistic search
    terms = sorted(r["c"] for r in counts if len(tracks) // 200 <= int(r["n"]) <= len(tracks) // 10)
    terms = rng.sample(terms, min(20, len(terms)))
    facet = "ft:technique_ancestor" if has_ancestors else "ft:experiment_ref/ft:target/ft:term_id"
    return {
        "lookup by label": [
            f"SELECT ?track WHERE {{ ?track ft:label_short {literal(t['l'])} }}" for t in sample],
        "ancestor search" if has_ancestors else "technique filter": [
            f"SELECT ?track ?label WHERE {{ ?track {link} <{c}> ; ft:label_short ?label }} "
            "ORDER BY ?label LIMIT 50" for c in terms],
        "facet counts": [
            f"SELECT ?value (COUNT(DISTINCT ?track) AS ?tracks) WHERE {{ ?track {link} <{c}> ; "
            f"{facet} ?value }} GROUP BY ?value ORDER BY DESC(?tracks)" for c in terms],
        "describe track": [f"DESCRIBE <{t['t']}>" for t in sample],
        "_tracks": [t["t"] for t in sample],
    }


def requests_of(queries: list[str], path: str) -> list[Request]:
    """Form bodies; graph results (DESCRIBE) as Turtle, solutions as SPARQL JSON."""
    return [(path, urlencode({"query": explicit(q)}).encode(),
             "text/turtle" if q.startswith("DESCRIBE") else JSON_RESULTS) for q in queries]


def dereferences(tracks: list[str], server_name: str) -> list[Request]:
    """GET of each track as Turtle; for oxigraph, which does not dereference, GET of the same
    DESCRIBE."""
    if server_name == "oxigraph":
        return [("/query?" + urlencode({"query": f"DESCRIBE <{t}>"}), None, "text/turtle")
                for t in tracks]
    return [(urlsplit(t).path, None, "text/turtle") for t in tracks]


FIRST_PAGE = ("SELECT ?track WHERE { ?track ft:cell_type_ancestor obo:CL_0000542 } LIMIT 100")


def first_page(url: str, count: int = 100) -> dict[str, float]:
    """Latency of the ancestor-aware first page (100 tracks under lymphocyte) asked of a SPARQL
    endpoint `url` as a GET, one request at a time on one connection (issue 18: <= 20 ms)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    target = url + "?" + urlencode({"query": explicit(FIRST_PAGE)})
    latencies = []
    for i in range(count + 10):
        start = time.perf_counter()
        status, body, _ = request(target, None, JSON_RESULTS, conn)
        if status != 200 or body.count(b'"track"') < 100:
            raise RuntimeError(f"first page: {status} {body[:200]!r}")
        if i >= 10:
            latencies.append(time.perf_counter() - start)
    conn.close()
    return summary(latencies, None)


def interleaved(mix: dict[str, list[Request]]) -> list[Request]:
    lists = list(mix.values())
    return [lists[i % len(lists)][i // len(lists) % len(lists[i % len(lists)])]
            for i in range(len(lists) * 200)]


def dereference(tracks: list[str], port: int, count: int = 300) -> dict[str, float]:
    """Median latency of GET {track} as Turtle, one request at a time on one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies = []
    for i in range(count + 20):
        path = urlsplit(tracks[i % len(tracks)]).path
        start = time.perf_counter()
        status, body, _ = request(f"http://127.0.0.1:{port}{path}", None, "text/turtle", conn)
        if status != 200 or not body:
            raise RuntimeError(f"dereferencing {path}: {status}")
        if i >= 20:
            latencies.append(time.perf_counter() - start)
    conn.close()
    return summary(latencies, None)


# ---- report ----------------------------------------------------------------------------------


SERVERS = {
    "oxigraph": "oxigraph serve-read-only, the current view in its default graph",
    "ours": "fairtracks-ld serve, defaults (granian, 2 worker processes, 2 query processes per "
            "worker): queries that name no graphs answered from the store's default graph (the "
            "current view, see fairtracks_ld.store.current_view); per-snapshot cache on (warm: "
            "dereferenced resources, DESCRIBE and every repeatable query's answer)",
    "ours_cold": "the same with FAIRTRACKS_LD_CACHE=0: no answer from a cache (cold)",
    "before": "with --before: fairtracks-ld serve from an earlier source tree (the commit named "
              "in the config), cache on (warm)",
    "before_cold": "the earlier source tree with FAIRTRACKS_LD_CACHE=0 (cold)",
    "other_cold": "with --other-store: this code, cold, serving another store of the same "
                  "corpus (e.g. one an earlier tree's `load` left: --loader)",
    "floor": "bench/floor_app.py under the same granian settings: a Flask route answering every "
             "DESCRIBE and dereference request with one constant Turtle answer (no store), the "
             "ceiling of any Flask server on this machine",
    "read_floor": "bench/read_floor_app.py under the same granian settings: a bare WSGI app (no "
                  "Flask, no fairtracks-ld code) reading the answer fairtracks-ld gives from the "
                  "same snapshot, pattern by pattern as nested.describe_one does, and writing it "
                  "with ox.serialize: the floor of any Python server reading the store through "
                  "pyoxigraph",
}
DEREFERENCE = "dereference track"
OURS = ("ours", "ours_cold", "other_cold", "before", "before_cold")  # the fairtracks-ld servers
FLOOR_KINDS = ("describe track", DEREFERENCE)
FLOORS = ("floor", "read_floor")  # measured for FLOOR_KINDS only


def main() -> None:
    global LOADER, BASE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--client", choices=("python", "wrk"), default="python",
                        help="the load generator of DESCRIBE and dereferencing: Python threads, "
                             "or wrk (Debian package `wrk`; see measure_wrk)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with more than one: every server runs at once, and each round "
                             "measures each query kind on each server in turn (the order "
                             "rotated a round); figures are medians of the rounds, ratios "
                             "medians of each round's ratio (see the docstring)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="build the corpus and both stores, measure nothing")
    parser.add_argument("--compact", action="store_true",
                        help="compact fairtracks-ld's store first (as the peer's is optimized); "
                             "results go to endpoint-compacted-<tracks>.{json,md}")
    parser.add_argument("--other-store", type=Path,
                        help="also serve this store (same corpus: e.g. bench/work/endpoint-"
                             "loaded-by-TREE-N/store), cold, in the same run; results go to "
                             "endpoint-<tracks>-vs-other-store")
    parser.add_argument("--loader", type=Path,
                        help="load the store with this source tree's code (in its own work "
                             "folder); the servers still run this tree's code")
    parser.add_argument("--before", type=Path,
                        help="also measure fairtracks-ld from this source tree (e.g. `git "
                             "worktree add /tmp/before main`), warm and cold, in the same run")
    parser.add_argument("--store", type=Path,
                        help="measure this store, loaded elsewhere (its Oxigraph copy is made in "
                             "bench/work/endpoint-given-<tracks>/), e.g. bench/million.py's")
    parser.add_argument("--base-iri", default=BASE,
                        help="the base IRI a --store was loaded with (e.g. the default "
                             "http://localhost:8000/)")
    parser.add_argument("--name",
                        help="the results' file name, without suffix (default: endpoint-"
                             "[compacted-][loaded-by-TREE-]<tracks>[-vs-other-store])")
    args = parser.parse_args()
    BASE = args.base_iri
    LOADER = args.loader.resolve() if args.loader else None
    loaded_by = f"loaded-by-{LOADER.name}-" if LOADER else ""
    given = "given-" if args.store else ""
    use_work(HERE / "work" / f"endpoint-{given}{loaded_by}{args.tracks}",
             args.store.resolve() if args.store else None)
    prepare(args.tracks, args.store)
    if args.compact:
        compact()
    if args.prepare_only:
        return
    load_before = os.getloadavg()[0]
    rng = random.Random(1)
    port = free_port()
    oxi_url = f"http://127.0.0.1:{port}/query"
    floor_body = WORK / "describe-answer.ttl"
    with oxigraph(port):
        queries = query_mix(oxi_url, rng)
        _, answer, _ = request(oxi_url, requests_of(queries["describe track"][:1], "")[0][1],
                               "text/turtle")
        floor_body.write_bytes(answer)
    tracks = queries.pop("_tracks")
    order = ("oxigraph", "ours_cold", "other_cold", "before_cold", "ours", "before",
             "floor", "read_floor")  # pairs close
    names = [n for n in order if (args.before or not n.startswith("before"))
             and (args.other_store or n != "other_cold")]
    ports = {name: free_port() for name in names}
    launches = {
        "oxigraph": lambda: oxigraph(ports["oxigraph"]),
        "ours": lambda: ours(ports["ours"]),
        "ours_cold": lambda: ours(ports["ours_cold"], cache=False),
        "before": lambda: ours(ports["before"], source=args.before),
        "before_cold": lambda: ours(ports["before_cold"], cache=False, source=args.before),
        "other_cold": lambda: ours(ports["other_cold"], cache=False, store=args.other_store),
        "floor": lambda: floor(ports["floor"], floor_body),
        "read_floor": lambda: read_floor(ports["read_floor"], floor_body),
    }
    mixes = {}
    for name in names:
        mix = {kind: requests_of(q, "/query" if name == "oxigraph" else "/sparql")
               for kind, q in queries.items()}
        mix["mixed (all four interleaved)"] = interleaved(mix)
        mix[DEREFERENCE] = dereferences(tracks, name)
        mixes[name] = {k: mix[k] for k in FLOOR_KINDS} if name in FLOORS else mix
    if args.rounds > 1:
        results = in_rounds(names, launches, mixes, ports, tracks, args.rounds,
                            args.concurrency, args.seconds, args.client)
    else:
        results = {}
        for name in names:
            with launches[name]() as meter:
                results[name] = {kind: measured(f"http://127.0.0.1:{ports[name]}", reqs,
                                                args.concurrency, args.seconds, meter,
                                                client_of(kind, args.client))
                                 for kind, reqs in announced(name, mixes[name])}
                results[name].update(one_request_at_a_time(name, tracks, ports[name]))
    kinds = [k for k in results["oxigraph"] if k != "first page"]
    report = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "load_average_before": round(load_before, 2),
                    "load_average_after": round(os.getloadavg()[0], 2)},
        "config": {"tracks": args.tracks, "concurrency": args.concurrency,
                   "seconds_per_kind": args.seconds, "rounds": args.rounds,
                   "client": args.client,
                   **{n: t for n, t in SERVERS.items() if n in names}},
        "queries": {kind: explicit(q[0]) for kind, q in queries.items()},
        **results,
        "throughput_ratio": {n: ratios(results, n, kinds) for n in names if n != "oxigraph"},
    }
    if args.rounds > 1:  # each round's ratio, measured minutes apart at most; their median
        report["throughput_ratio"] = {n: {k: round(statistics.median(
            ratios(r, n, [k])[k] for r in results["_rounds"]), 3) for k in kinds
            if k in results[n]} for n in names if n != "oxigraph"}
        report["round_ratios"] = {n: {k: [ratios(r, n, [k])[k] for r in results["_rounds"]]
                                      for k in kinds if k in results[n]}
                                  for n in names if n != "oxigraph"}
        del report["_rounds"]
    report["config"]["compacted"] = (WORK / "store.compacted").exists()
    report["config"]["code"] = commit_of(HERE.parent)
    if args.before:
        report["config"]["before_code"] = commit_of(args.before)
    if LOADER:
        report["config"]["store_loaded_by_code"] = commit_of(LOADER)
    if args.other_store:
        report["config"]["other_store"] = str(args.other_store)
    name = args.name or (f"endpoint{'-compacted' if args.compact else ''}-{loaded_by}"
                         f"{args.tracks}{'-vs-other-store' if args.other_store else ''}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(report))
    print(markdown(report))


def client_of(kind: str, client: str) -> str:
    """The load generator of a query kind: `--client wrk` sends DESCRIBE and dereferencing
    (cheap requests, which the server answers inline, with no per-client admission) by wrk;
    the SPARQL kinds stay with the Python clients, each from its own address."""
    return client if kind in FLOOR_KINDS else "python"


def announced(name: str, mix: dict[str, list[Request]]) -> Iterator[tuple[str, list[Request]]]:
    for kind, reqs in mix.items():
        print(f"{name}: {kind}…", flush=True)
        yield kind, reqs


def one_request_at_a_time(name: str, tracks: list[str], port: int) -> dict[str, dict]:
    """Dereferencing (fairtracks-ld servers) and the first page (SPARQL servers), one request
    at a time: latency, not throughput."""
    found = {}
    if name in OURS:
        found["one at a time"] = dereference(tracks, port)
    if name not in FLOORS:
        path = "/query" if name == "oxigraph" else "/sparql"
        found["first page"] = first_page(f"http://127.0.0.1:{port}{path}")
    return found


def in_rounds(names: list[str], launches: dict, mixes: dict[str, dict[str, list[Request]]],
              ports: dict[str, int], tracks: list[str], rounds: int, concurrency: int,
              seconds: float, client: str) -> dict[str, dict]:
    """Every server started at once; each round measures each kind on each server in turn,
    the servers' order rotated a round, so a ratio compares windows seconds apart rather than
    minutes (on a noisy shared machine, figures drift over a run). Per server and kind: the
    round with the median requests/s, with `rounds_requests_per_s`; `_rounds`: each round's
    results, for per-round ratios."""
    per_round: list[dict[str, dict]] = []
    with ExitStack() as stack:
        meters = {name: stack.enter_context(launches[name]()) for name in names}
        for number in range(rounds):
            order = names[number % len(names):] + names[:number % len(names)]
            found: dict[str, dict] = {name: {} for name in names}
            for kind in mixes["oxigraph"]:
                for name in order:
                    if kind in mixes[name]:
                        print(f"round {number + 1}: {name}: {kind}…", flush=True)
                        found[name][kind] = measured(f"http://127.0.0.1:{ports[name]}",
                                                     mixes[name][kind], concurrency, seconds,
                                                     meters[name], client_of(kind, client))
            per_round.append(found)
        results: dict[str, dict] = {"_rounds": per_round}
        for name in names:
            results[name] = {}
            for kind in mixes[name]:
                runs = sorted((r[name][kind] for r in per_round),
                              key=lambda run: run.get("requests_per_s", 0.0))
                results[name][kind] = {**runs[len(runs) // 2], "rounds_requests_per_s": [
                    r[name][kind].get("requests_per_s", 0.0) for r in per_round]}
            results[name].update(one_request_at_a_time(name, tracks, ports[name]))
    return results


def commit_of(tree: Path) -> str:
    """The short commit a source tree is at, with `+changes` when its files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tree), *args], capture_output=True,
                              text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--", "src") else "")


def measured(base: str, requests: list[Request], concurrency: int, seconds: float,
             meter: CpuMeter, client: str = "python") -> dict[str, float]:
    """measure() (or measure_wrk() with `client` "wrk"), plus the server's CPU milliseconds
    per answered request."""
    before = meter.seconds()
    sender = measure_wrk if client == "wrk" else measure
    result = sender(base, requests, concurrency, seconds)
    used = meter.seconds() - before
    assert used >= 0, f"CPU time went down by {-used} s: the accounting is broken"
    answered = result.pop("answered")
    if answered:
        result["server_cpu_ms_per_request"] = round(used * 1000 / answered, 2)
    return result


def ratios(results: dict[str, dict], name: str, kinds) -> dict[str, float]:
    """Throughput of `name` over oxigraph's, per query kind."""
    return {kind: round(results[name][kind].get("requests_per_s", 0.0)
                        / results["oxigraph"][kind]["requests_per_s"], 3)
            for kind in kinds if kind in results[name]
            and results["oxigraph"][kind].get("requests_per_s")}


def markdown(report: dict) -> str:
    config = report["config"]
    ours = [n for n in OURS if n in report]
    titles = {"ours": "fairtracks-ld, cache on (warm)", "ours_cold": "cache off (cold)",
              "before": f"before ({config.get('before_code', '?')}), warm",
              "before_cold": "before, cold", "other_cold": "other store, cold"}

    def cell(result: dict) -> str:
        if not result.get("requests"):
            return "no request finished in the window | 0"
        return f"{result['median_ms']} / {result['p95_ms']} | {result['requests_per_s']}"

    lines = [
        "# Endpoint benchmark",
        "",
        f"{config['tracks']:,} generated tracks (+ bundled ontologies and their class closure); "
        f"{config['concurrency']} concurrent keep-alive clients (Python threads) on loopback, "
        f"{config['seconds_per_kind']:g} s per query kind after a 3 s warm-up, one server at a "
        "time" + (f", in {config['rounds']} interleaved rounds (every server up at once, each "
                  "kind measured on each server in turn, the order rotated a round; each figure "
                  "is the median round's, each ratio the median of the rounds' ratios)"
                  if config.get("rounds", 1) > 1 else "")
        + ("; DESCRIBE and dereferencing sent by wrk (`--client wrk`: one C event-loop thread "
           "with as many keep-alive connections, all from 127.0.0.1, so the server, not a "
           "Python client, is the bottleneck), the SPARQL kinds by the Python clients"
           if config.get("client") == "wrk" else "")
        + f"; {report['machine']['cpus']} CPUs shared by servers and load generator, Python "
        f"{report['machine']['python']}. Load average (1 min) before / after the run: "
        f"{report['machine']['load_average_before']} / {report['machine']['load_average_after']}"
        " (anything above ~1 is other work on the machine: the figures are then noisy).",
        "",
        "fairtracks-ld's store: "
        + ("compacted in full after the load (`--compact`, as `fairtracks-ld optimize` does)"
           if config.get("compacted") else "as `load` left it")
        + (f", loaded by the code of commit {config['store_loaded_by_code']} (`--loader`) and "
           f"served by {config.get('code')}" if config.get("store_loaded_by_code") else "")
        + (f"; the other store (`--other-store`): {config['other_store']}"
           if config.get("other_store") else "")
        + ".",
        "",
        *(f"- **{name}**: {text}" for name, text in SERVERS.items() if name in report),
        "",
        "| query | oxigraph median / p95 ms | req/s | "
        + " | ".join(f"{titles[n]}: median / p95 ms | req/s | ratio" for n in ours) + " |",
        "| --- | --- | --- |" + " --- | --- | --- |" * len(ours),
    ]
    for kind in [k for k in report["oxigraph"] if k != "first page"]:
        lines.append(f"| {kind} | {cell(report['oxigraph'][kind])} | " + " | ".join(
            f"{cell(report[n][kind])} | {report['throughput_ratio'][n].get(kind, 'n/a')}"
            for n in ours) + " |")
    lines += [
        "",
        f"{DEREFERENCE}: fairtracks-ld answers GET of the track's IRI as Turtle; oxigraph, which "
        "does not dereference, GET of `DESCRIBE <track>` as Turtle. Cache hit rate (answers "
        "saying X-Cache: hit in the measured window) with the cache on: "
        + ", ".join(f"{k} {report['ours'][k].get('cache_hit_rate', 'n/a')}"
                    for k in report["oxigraph"] if k in report["ours"] and k != "first page")
        + "; with it off no answer comes from the cache.",
        "",
        "Server CPU milliseconds per answered request (the server's whole process tree; steadier "
        "than requests/s on a shared machine):",
        "",
        "| query | oxigraph | " + " | ".join(titles[n] for n in ours) + " |",
        "| --- | --- |" + " --- |" * len(ours),
    ]
    for kind in [k for k in report["oxigraph"] if k != "first page"]:
        lines.append("| " + " | ".join([kind, *(
            str(report[name][kind].get("server_cpu_ms_per_request", "n/a"))
            for name in ("oxigraph", *ours))]) + " |")
    lines += [
        "",
        "ratio = fairtracks-ld requests/s ÷ oxigraph serve requests/s at the same concurrency "
        "(goal ≥ 0.70 cold, ≥ 1.0 warm for DESCRIBE and dereferencing). Non-200 answers are "
        "counted as errors in endpoint.json, which also lists one query of each kind.",
        "",
        " ".join(f"{title}: " + "; ".join(
            f"{k} {report[name][k].get('requests_per_s', 0)} req/s (ratio "
            f"{report['throughput_ratio'][name].get(k, 'n/a')} to oxigraph), "
            f"{report[name][k].get('server_cpu_ms_per_request', 'n/a')} ms CPU per request"
            for k in FLOOR_KINDS) + "." for name, title in (
                ("floor", "Floor of the web stack (the constant-answer Flask app)"),
                ("read_floor", "Floor of reading the store from Python (the bare WSGI app "
                               "reading and writing the same answer)")) if name in report),
        "",
        "Dereferencing a track as Turtle, one request at a time (goal: median < 10 ms): "
        + "; ".join(f"{titles[n]}: median {report[n]['one at a time']['median_ms']} ms, p95 "
                    f"{report[n]['one at a time']['p95_ms']} ms" for n in ours)
        + ".",
        "",
        "The ancestor-aware first page (100 tracks under lymphocyte, CL:0000542) through the "
        "SPARQL endpoint, GET, one request at a time (issue 18 goal: <= 20 ms): "
        + "; ".join(f"{t}: median {report[n]['first page']['median_ms']} ms, p95 "
                    f"{report[n]['first page']['p95_ms']} ms" for n, t in (
                        ("oxigraph", "oxigraph serve"), *((n, titles[n]) for n in ours))
                    if "first page" in report.get(n, {}))
        + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
