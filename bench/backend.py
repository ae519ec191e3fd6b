"""The query mix on three servers of the same data: the embedded `serve`, `serve --backend` on
Virtuoso open source, and Virtuoso's own /sparql; how publishing into Virtuoso scales.

Data per scale: `fairtracks-ld generate --tracks N --seed 1`, the bundled ontologies (`ontologies
load`, so the class closure the ft:*_ancestor paths join exists) and `load --bulk`; cached under
bench/work/backend/generated-N/. The store is published into a fresh private Virtuoso
(tests/virtuoso.py) with `fairtracks-ld publish --method virtuoso-bulk` (its bulk loader, the way
for big graphs): wall time, triples, Virtuoso's disk after the checkpoint, the store's disk.

Requests, one at a time on loopback, a keep-alive session per server, the same requests in the
same order to each: lookup by label, ancestor search (tracks under a sampled class, 50 by
label), facet counts (techniques among those tracks), DESCRIBE of a track, dereference of a track
(Turtle; for Virtuoso a GET of `DESCRIBE <track>`), the first page under lymphocyte (100 tracks
under CL:0000542), the track page and the collection page (HTML) and the search page (the
last three: fairtracks-ld only). Virtuoso directly answers the same query text with the
prefixes declared, over its default graph (the union of all its graphs). Both fairtracks-ld
servers run with the answer cache off (FAIRTRACKS_LD_CACHE=0), so every request reaches the
store or the backend. Reported per kind: median and p95 ms, requests/s (one client), ratios
to the embedded server; `uptime` before and after. CPU per request (the trusted figure on a
shared machine, where wall times wait for the cores): user and system seconds of the server's
process tree and of Virtuoso's process over each kind's timed requests, divided by their
number. With `--before SRC` (a source tree holding `src/fairtracks_ld` and the data folders
beside it, e.g. `git archive main src context ontologies queries shapes standard | tar -x -C
SRC`), a second `serve --backend` runs that code on the same Virtuoso, side by side: its figures
and the ratio after / before. `--kinds` times only the kinds whose names contain one of the
words given (e.g. `--kinds "page: track"`); such a run is kept beside the scale's full run, not
in its place. `--reuse-publication` queries the database an earlier run published (kept with
its figures) instead of publishing again: at a million tracks a publish takes half an hour. With
`--before-list`, the second `serve --backend` runs this code with the view graph off
(FAIRTRACKS_LD_BACKEND_VIEW_GRAPH=0: the view's sources sent as the graph list, as before the view
graph). The store is then published twice: `publish --no-view-graph`, then `publish`, which adds
the view graph (its time, triples and Virtuoso's disk after each, checkpointed). The replica
timed first for a kind reads Virtuoso's pages of the sampled resources cold, the second warm:
`--before-first` times the second replica first (run both orders to see the bias).

Usage: python bench/backend.py [--tracks 10000 100000] [--repeat 30] [--before SRC]
Writes bench/results/backend.json and bench/results/backend.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import quote

import requests

from fairtracks_ld.sparql import virtual

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "backend"
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
BASE = "https://tracks.example.org/"
PREFIXES = ("PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>\n"
            "PREFIX obo: <http://purl.obolibrary.org/obo/>\n")
LYMPHOCYTE = "obo:CL_0000542"
JSON_RESULTS = "application/sparql-results+json"


def explicit(query: str) -> str:
    """The query as every contender runs it: the track → ancestor predicates (`ft:*_ancestor`)
    written as the paths fairtracks-ld's endpoint rewrites them to, since a peer store knows no
    such predicate: it holds the annotations and the class closure the paths join
    (sparql/virtual.py)."""
    return virtual.rewrite(PREFIXES + query)
FIXED_ROLES = ("ontology", "closure")  # graphs whose size does not grow with the tracks
PUBLISHED = "published.json"  # beside a Virtuoso database: what its publish measured
SAMPLING_SECONDS = 600  # the embedded server's time limit: plan() reads every track from it,
# which was answered 503 under load at 50,000 tracks with the default 30 s; requests take ms
sys.path.insert(0, str(HERE.parent / "tests"))

from proctree import tree_stats  # noqa: E402
from servers import free_port  # noqa: E402  (the tests' helpers)
from virtuoso import PASSWORD, virtuoso  # noqa: E402


def fairtracks(store: Path, *args: str | Path, env: dict | None = None
               ) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "fairtracks-ld", "--store", store, "--base-iri", BASE,
                           *map(str, args)], check=True, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})))


def disk(*paths: Path) -> int:
    """Bytes of the files under `paths`, each file once (snapshots hard-link the store's)."""
    files = {f.stat().st_ino: f.stat().st_size for p in paths if p.exists()
             for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()}
    return sum(files.values())


def prepare(tracks: int) -> Path:
    """The scale's folder holding `store` (built once: generate, ontologies, load --bulk)."""
    folder = WORK / f"generated-{tracks}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subprocess.run([BIN / "fairtracks-ld", "generate", "--tracks", str(tracks), "--seed", "1",
                    "--out", folder / "corpus"], check=True, stdout=subprocess.DEVNULL)
    fairtracks(folder / "store", "ontologies", "load")
    fairtracks(folder / "store", "load", "--bulk", folder / "corpus")
    (folder / ".complete").touch()
    return folder


@contextmanager
def server(store: Path, *args: str, source: Path | None = None, env: dict | None = None
           ) -> Iterator[tuple[str, float, int]]:
    """`fairtracks-ld serve` (cache off; the code of `source`'s src/ when given); yields its URL,
    the seconds until its first `/search` answer (the facet index built) and its process id."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.monotonic()
    process = subprocess.Popen(
        [BIN / "fairtracks-ld", "--store", store, "serve", "--port", str(port), *args],
        env=dict(os.environ, FAIRTRACKS_LD_CACHE="0", **(env or {}),
                 **({"PYTHONPATH": str(source / "src")} if source else {})),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if requests.get(url + "search", timeout=1800).status_code == 200:
                    break
            except requests.RequestException:
                if process.poll() is not None:
                    raise RuntimeError(f"serve {args} stopped") from None
                time.sleep(0.2)
        yield url, time.monotonic() - started, process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)


def select(url: str, query: str) -> list[dict]:
    answer = requests.post(url + "sparql", data={"query": explicit(query)},
                           headers={"Accept": JSON_RESULTS}, timeout=1800)
    answer.raise_for_status()
    return [{k: v["value"] for k, v in b.items()} for b in answer.json()["results"]["bindings"]]


def sparql(query: str, accept: str = JSON_RESULTS) -> tuple:
    return ("POST", "sparql", {"query": explicit(query)}, accept)


def plan(url: str, repeat: int, rng: random.Random) -> dict[str, list[tuple]]:
    """Each kind's requests (method, path, form, accept), sampled from the data; kinds whose
    name starts with "page:" are fairtracks-ld's own (no SPARQL form)."""
    tracks = select(url, "SELECT ?t ?l WHERE { ?t a ft:Track ; ft:label_short ?l }")
    sample = rng.sample(tracks, min(repeat, len(tracks)))
    counts = select(url, "SELECT ?c (COUNT(?t) AS ?n) WHERE { ?t ft:cell_type_ancestor ?c } "
                         "GROUP BY ?c")
    terms = sorted(r["c"] for r in counts
                   if len(tracks) // 200 <= int(r["n"]) <= len(tracks) // 10)
    chosen = [rng.choice(terms) for _ in range(repeat)]
    collections = sorted({t["t"].split("/track/")[0] for t in tracks})
    turtle = "text/turtle"
    return {
        "lookup by label": [sparql(f"SELECT ?track WHERE {{ ?track ft:label_short "
                                   f"{json.dumps(t['l'])} }}") for t in sample],
        "ancestor search": [sparql(f"SELECT ?track ?label WHERE {{ ?track ft:cell_type_ancestor "
                                   f"<{c}> ; ft:label_short ?label }} ORDER BY ?label LIMIT 50")
                            for c in chosen],
        "facet counts": [sparql(f"SELECT ?value (COUNT(DISTINCT ?track) AS ?n) WHERE {{ ?track "
                                f"ft:cell_type_ancestor <{c}> ; ft:technique_ancestor ?value }} "
                                "GROUP BY ?value ORDER BY DESC(?n)") for c in chosen],
        "describe track": [sparql(f"DESCRIBE <{t['t']}>", turtle) for t in sample],
        "first page under lymphocyte": [sparql(
            f"SELECT ?track WHERE {{ ?track ft:cell_type_ancestor {LYMPHOCYTE} }} LIMIT 100")
        ] * repeat,
        "dereference track (Turtle)": [("GET", t["t"][len(BASE):], None, turtle)
                                       for t in sample],
        "page: track (HTML)": [("GET", t["t"][len(BASE):], None, "text/html") for t in sample],
        "page: collection (HTML)": [("GET", rng.choice(collections)[len(BASE):], None,
                                     "text/html") for _ in range(repeat)],
        "page: search": [("GET", "search", None, "text/html")] * repeat,
    }


def for_virtuoso(kind: str, requested: list[tuple]) -> list[tuple] | None:
    """The same requests to Virtuoso's /sparql: a dereference becomes a GET of DESCRIBE."""
    if kind.startswith("page:"):
        return None
    if kind.startswith("dereference"):
        return [("GET", f"sparql?query={quote(f'DESCRIBE <{BASE}{path}>')}", None, accept)
                for _, path, _, accept in requested]
    return requested


def cpu_seconds(root: int) -> float:
    """User and system CPU seconds of the process `root` and its live descendants."""
    return sum(int(f[11]) + int(f[12]) for f in tree_stats(root).values()
               ) / os.sysconf("SC_CLK_TCK")


def process_of(marker: str) -> int:
    """The id of the process whose command line holds `marker` (Virtuoso's ini file)."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except OSError:
            continue
    raise RuntimeError(f"no process runs with {marker}")


def timed(url: str, requested: list[tuple]) -> list[float]:
    session = requests.Session()
    times = []
    for method, path, form, accept in requested:
        started = time.perf_counter()
        answer = session.request(method, url + path, data=form, headers={"Accept": accept},
                                 timeout=600)
        times.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"{url}{path[:80]}: {answer.status_code} {answer.text[:300]}")
    return times


def figures(url: str, requested: list[tuple], server: int | None, engine: int) -> dict:
    """Wall times of the requests and CPU per request of `server` (None: Virtuoso asked
    directly) and of Virtuoso (`engine`)."""
    before = (cpu_seconds(server) if server else 0.0, cpu_seconds(engine))
    times = timed(url, requested)
    after = (cpu_seconds(server) if server else 0.0, cpu_seconds(engine))
    ordered = sorted(times)
    return {"median_ms": statistics.median(times) * 1000,
            "p95_ms": ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000,
            "per_s": len(times) / sum(times),
            "server_cpu_ms": (after[0] - before[0]) / len(times) * 1000,
            "virtuoso_cpu_ms": (after[1] - before[1]) / len(times) * 1000}


def add_view_graph(folder: Path, engine, options: tuple) -> dict:
    """`publish` again, with the view graph this time: its time (the whole run, and the view
    graph's own part as the publisher reports it), triples and Virtuoso's disk growth."""
    started = time.monotonic()
    done = fairtracks(folder / "store", "publish", *options,
                      env={"FAIRTRACKS_LD_ISQL_PASSWORD": PASSWORD})
    seconds = time.monotonic() - started
    print(done.stdout.strip(), flush=True)
    engine.isql("checkpoint")
    taken = re.search(r"view graph: (\d+) sources taken in in ([\d.]+) s", done.stderr)
    answer = requests.post(engine.sparql_url, data={"query": (
        f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{BASE}graph/view> {{ ?s ?p ?o }} }}")},
        headers={"Accept": JSON_RESULTS}, timeout=600)
    answer.raise_for_status()
    return {"seconds": seconds, "insert_seconds": float(taken[2]) if taken else None,
            "sources": int(taken[1]) if taken else None,
            "triples": int(answer.json()["results"]["bindings"][0]["n"]["value"]),
            "virtuoso_bytes": disk(folder / "virtuoso")}


def measure(tracks: int, repeat: int, queries: bool = True, before: Path | None = None,
            list_before: bool = False, before_first: bool = False,
            only: list[str] | None = None, buffers: int = 170_000,
            reuse: bool = False) -> dict:
    folder = prepare(tracks)
    record = folder / "virtuoso" / PUBLISHED
    reuse = reuse and record.exists() and not list_before
    if not reuse:
        shutil.rmtree(folder / "virtuoso", ignore_errors=True)  # a fresh database: a real load
    shutil.rmtree(folder / "bulk", ignore_errors=True)
    (folder / "bulk").mkdir()
    with virtuoso(folder / "virtuoso", extra_dirs=(folder / "bulk",), buffers=buffers) as engine:
        options = ("--to", engine.sparql_url, "--virtuoso-isql", f"127.0.0.1:{engine.sql_port}",
                   "--bulk-dir", folder / "bulk", "-v")
        if reuse:
            publication = json.loads(record.read_text())
            publication["reused"] = True
            return _queries(folder, engine, tracks, repeat, publication, queries, before,
                            list_before, before_first, only)
        started = time.monotonic()
        done = fairtracks(folder / "store", "publish", *options,
                          *(("--no-view-graph",) if list_before else ()),
                          env={"FAIRTRACKS_LD_ISQL_PASSWORD": PASSWORD})
        published = time.monotonic() - started
        print(done.stdout.strip(), flush=True)
        roles: dict[str, int] = {}
        for role, count in re.findall(r"^sent <[^>]+> \((\w+), (\d+) triples\)$",
                                      done.stderr, re.MULTILINE):
            roles[role] = roles.get(role, 0) + int(count)
        engine.isql("checkpoint")
        publication = {"seconds": published, "triples": sum(roles.values()), "by_role": roles,
                       "virtuoso_bytes": disk(folder / "virtuoso"),
                       "store_bytes": disk(folder / "store", folder / "store.snapshots")}
        if list_before:
            publication["view_graph"] = add_view_graph(folder, engine, options)
            print(publication["view_graph"], flush=True)
        record.write_text(json.dumps(publication, indent=2) + "\n")
        return _queries(folder, engine, tracks, repeat, publication, queries, before,
                        list_before, before_first, only)


def _queries(folder: Path, engine, tracks: int, repeat: int, publication: dict, queries: bool,
             before: Path | None, list_before: bool, before_first: bool,
             only: list[str] | None) -> dict:
    """The query mix on the published Virtuoso `engine` (see the module's docstring)."""
    virtuoso_url = engine.sparql_url.removesuffix("sparql")
    if not queries:
        return {"tracks": tracks, "publish": publication, "kinds": {}}
    engine_pid = process_of(str(folder / "virtuoso" / "virtuoso.ini"))
    with ExitStack() as running:
        embedded, embedded_start, embedded_pid = running.enter_context(
            server(folder / "store", "--query-timeout", str(SAMPLING_SECONDS)))
        # a long time limit: a replica's first facet index over the graph list asks queries
        # that take minutes at 100,000 tracks (answered 504 under the default 30 s)
        remote, remote_start, remote_pid = running.enter_context(
            server(folder / "no-store", "--backend", engine.sparql_url,
                   "--query-timeout", str(SAMPLING_SECONDS)))
        earlier = running.enter_context(server(
            folder / "no-store-before", "--backend", engine.sparql_url,
            "--query-timeout", str(SAMPLING_SECONDS), source=before,
            env={"FAIRTRACKS_LD_BACKEND_VIEW_GRAPH": "0"} if list_before else None)
        ) if before or list_before else None
        kinds = {}
        for kind, requested in plan(embedded, repeat, random.Random(1)).items():
            if only and not any(word in kind for word in only):
                continue
            direct = for_virtuoso(kind, requested)
            targets = {"embedded": (embedded, requested, embedded_pid)}
            if earlier and before_first:  # the first replica asked reads Virtuoso cold
                targets["before"] = (earlier[0], requested, earlier[2])
            targets["backend"] = (remote, requested, remote_pid)
            if earlier:
                targets.setdefault("before", (earlier[0], requested, earlier[2]))
            if direct is not None:
                targets["virtuoso"] = (virtuoso_url, direct, None)
            row = {}
            for name, (url, asked, pid) in targets.items():
                timed(url, asked[:3])  # warm-up: connections, first index pages
                row[name] = figures(url, asked, pid, engine_pid)
            for name in ("backend", "virtuoso", "before"):
                if name in row:
                    row[f"{name}_ratio"] = (row[name]["median_ms"] /
                                            row["embedded"]["median_ms"])
            if earlier:
                row["after_before"] = row["backend"]["median_ms"] / row["before"]["median_ms"]
            kinds[kind] = row
            print(tracks, kind, {k: (round(v["median_ms"], 1) if isinstance(v, dict)
                                     else round(v, 2)) for k, v in row.items()}, flush=True)
    return {"tracks": tracks, "publish": publication,
            "before": str(before or ("list" if list_before else "")),
            "before_first": before_first,
            "first_search_s": {"embedded": embedded_start, "backend": remote_start,
                               **({"before": earlier[1]} if earlier else {})},
            "kinds": kinds}


def cell(row: dict, name: str) -> str:
    if name not in row:
        return "n/a"
    f = row[name]
    return f"{f['median_ms']:.1f} / {f['p95_ms']:.1f} / {f['per_s']:.0f}"


def markdown(report: dict) -> str:
    lines = ["# The query mix: embedded `serve`, `serve --backend` on Virtuoso, Virtuoso's /sparql",
             "", f"Measured on {report['machine']} shared with other jobs (each scale's `uptime` "
             "below: the milliseconds are noisy, read the ratios). One request at a time on "
             "loopback, answer cache off on both fairtracks-ld servers, "
             f"{report['repeat']} requests per kind after 3 warm-up ones. Cells: median ms / p95 "
             "ms / requests per second; ratio = median / the embedded server's median (above 1: "
             "slower). Script: bench/backend.py.", ""]
    for scale in report["scales"]:
        pub = scale["publish"]
        only = scale.get("only")
        lines += [f"## {scale['tracks']:,} tracks" + (f" ({', '.join(only)} only)" if only
                                                      else ""), "",
                  f"Measured {scale['when']}; `uptime` before: {scale['uptime_before']}; after: "
                  f"{scale['uptime_after']}.", "",
                  f"`publish --method virtuoso-bulk` into a fresh Virtuoso: {pub['seconds']:.0f} s "
                  f"for {pub['triples']:,} triples ({pub['seconds'] / scale['tracks'] * 1000:.1f} "
                  f"ms and {pub['triples'] / scale['tracks']:.0f} triples per track); Virtuoso's "
                  f"database {pub['virtuoso_bytes'] / 1e9:.2f} GB "
                  f"({pub['virtuoso_bytes'] / scale['tracks'] / 1e3:.0f} kB per track), the "
                  f"store with its snapshots {pub['store_bytes'] / 1e9:.2f} GB.", ""]
        view = pub.get("view_graph")
        if view:
            lines += [f"That publication without the view graph (`--no-view-graph`); `publish` "
                      f"again then added it: {view['seconds']:.0f} s ({view['insert_seconds']:.0f}"
                      f" s inserting its {view['sources']} sources), {view['triples']:,} triples,"
                      f" Virtuoso's database {view['virtuoso_bytes'] / 1e9:.2f} GB (+"
                      f"{(view['virtuoso_bytes'] - pub['virtuoso_bytes']) / 1e9:.2f} GB).", ""]
        if not scale["kinds"]:
            lines += ["Publication only (no query mix at this scale).", ""]
            continue
        side = bool(scale.get("before"))
        first = scale["first_search_s"]
        lines += [f"Start to first `/search` answer (facet index built): embedded "
                  f"{first['embedded']:.1f} s, backend {first['backend']:.1f} s"
                  + (f", backend before {first['before']:.1f} s" if "before" in first else "")
                  + ".", ""]
        if scale.get("before") == "list":
            lines += ["Backend before: the same code with the view graph off "
                      "(FAIRTRACKS_LD_BACKEND_VIEW_GRAPH=0: the view's sources sent as the graph "
                      "list), on the same Virtuoso; after / before = the backend's median / that "
                      "one's (below 1: faster now).", ""]
        elif side:
            lines += [f"Backend before: the same `serve --backend` with the code of "
                      f"{scale['before_label']}, on the same Virtuoso; after / before = the "
                      "backend's median / that one's (below 1: faster now).", ""]
        if side:
            order = "before, backend" if scale.get("before_first") else "backend, before"
            lines += [f"Order per kind: embedded, {order}, Virtuoso /sparql (the first replica "
                      "asked reads Virtuoso's pages cold).", ""]
        lines += ["| request | embedded | backend | ratio | Virtuoso /sparql | ratio |"
                  + (" backend before | ratio | after / before |" if side else ""),
                  "|---|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if side else "")]
        for kind, row in scale["kinds"].items():
            virtuoso_ratio = f"{row['virtuoso_ratio']:.2f}" if "virtuoso_ratio" in row else "n/a"
            line = (f"| {kind} | {cell(row, 'embedded')} | {cell(row, 'backend')} | "
                    f"{row['backend_ratio']:.2f} | {cell(row, 'virtuoso')} | {virtuoso_ratio} |")
            if side:
                line += (f" {cell(row, 'before')} | {row['before_ratio']:.2f} | "
                         f"{row['after_before']:.2f} |")
            lines.append(line)
        lines += ["", *cpu_table(scale["kinds"], side)]
    notes = report.get("notes", [])  # dated findings written beside the runs (kept)
    return "\n".join(lines + projection(report["scales"]) + (["## Notes", "", *notes]
                                                              if notes else []))


def cpu_table(kinds: dict, side: bool) -> list[str]:
    """CPU ms per request: the server's process tree + Virtuoso's (runs measured before these
    figures existed have none)."""
    if not all("server_cpu_ms" in f for row in kinds.values() for f in row.values()
               if isinstance(f, dict)):
        return []
    names = ["embedded", "backend", "virtuoso"] + (["before"] if side else [])

    def spent(row: dict, name: str) -> str:
        if name not in row:
            return "n/a"
        f = row[name]
        return (f"{f['virtuoso_cpu_ms']:.1f}" if name == "virtuoso" else
                f"{f['server_cpu_ms']:.1f}" if name == "embedded" else
                f"{f['server_cpu_ms']:.1f} + {f['virtuoso_cpu_ms']:.1f}")
    lines = ["CPU ms per request (server's process tree + Virtuoso's; Virtuoso /sparql: "
             "Virtuoso's alone):", "",
             "| request | embedded | backend | Virtuoso /sparql |" +
             (" backend before |" if side else ""), "|---|---:|---:|---:|" + ("---:|" if side
                                                                              else "")]
    lines += [f"| {kind} | " + " | ".join(spent(row, n) for n in names) + " |"
              for kind, row in kinds.items()]
    return [*lines, ""]


def projection(scales: list[dict]) -> list[str]:
    """Bigger scales than measured, projected from the biggest publication measured: the
    ontologies and their class closure are the same at any scale, the rest (version, inferred
    and report graphs) grows with the tracks; time and Virtuoso's disk follow the triples."""
    largest = max(scales, key=lambda s: s["tracks"])
    pub, tracks = largest["publish"], largest["tracks"]
    fixed = sum(n for role, n in pub["by_role"].items() if role in FIXED_ROLES)
    per_track = (pub["triples"] - fixed) / tracks
    lines = ["## Projected, not measured", "",
             f"From the {tracks:,}-track publication above: {fixed:,} triples of ontologies and "
             f"class closure at any scale, {per_track:.0f} triples per track on top (version, "
             "inferred and report graphs); publish time and Virtuoso's disk in proportion to the "
             "triples, at the same machine load (on a quiet machine, divide the time by the "
             "load's slowdown). The store's disk is the store's own matter (its own benchmarks).",
             "", "| tracks | triples | publish (virtuoso-bulk) | Virtuoso's database |",
             "|---:|---:|---:|---:|"]
    for target in (100_000, 1_000_000):
        if target > tracks and not any(s["tracks"] == target for s in scales):
            factor = (fixed + per_track * target) / pub["triples"]
            lines.append(f"| {target:,} | {(fixed + per_track * target) / 1e6:.0f}M | "
                         f"{pub['seconds'] * factor / 3600:.1f} h | "
                         f"{pub['virtuoso_bytes'] * factor / 1e9:.1f} GB |")
    return [*lines, ""] if len(lines) > 6 else []


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--before", type=Path,
                        help="a source tree whose `serve --backend` is measured side by side")
    parser.add_argument("--before-label", default="the tree given by --before",
                        help="how the results name that code (e.g. main at 0399bdf)")
    parser.add_argument("--before-list", action="store_true",
                        help="the second `serve --backend` runs this code with the view graph "
                             "off (the sources' list), after publishing without, then with it")
    parser.add_argument("--before-first", action="store_true",
                        help="time the second `serve --backend` before this one, kind by kind "
                             "(the first replica asked pays Virtuoso's cold reads)")
    parser.add_argument("--kinds", nargs="+",
                        help="time only the kinds whose names contain one of these words")
    parser.add_argument("--virtuoso-buffers", type=int, default=170_000,
                        help="Virtuoso's NumberOfBuffers (8 KB pages; the default is the "
                             "tests' 1.3 GB; at 1,000,000 tracks, whose database is ~5-10 GB, "
                             "give it e.g. 1000000)")
    parser.add_argument("--publish-only", action="store_true",
                        help="publish into Virtuoso and measure that only (no query mix)")
    parser.add_argument("--reuse-publication", action="store_true",
                        help="query the Virtuoso database an earlier run published (its figures "
                             f"kept in virtuoso/{PUBLISHED}) instead of publishing again")
    parser.add_argument("--base-iri", default=BASE,
                        help="the base IRI the scale's store was loaded with, when it was not "
                             "prepared by this script (e.g. the default http://localhost:8000/)")
    args = parser.parse_args()
    globals()["BASE"] = args.base_iri  # read by the helpers below at call time
    path = RESULTS / "backend.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    ran = {(tracks, tuple(args.kinds or ())) for tracks in args.tracks}
    kept = [s for s in report.get("scales", []) if (s["tracks"], tuple(s.get("only") or ()))
            not in ran and isinstance(s["tracks"], int) and "publish" in s]  # other runs
    scales = []
    for tracks in args.tracks:
        before = uptime()
        scale = measure(tracks, args.repeat, not args.publish_only, args.before,
                        args.before_list, args.before_first, args.kinds,
                        args.virtuoso_buffers, args.reuse_publication)
        scale.update(before_label=args.before_label, uptime_before=before, only=args.kinds,
                     virtuoso_buffers=args.virtuoso_buffers,
                     when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                     uptime_after=uptime())
        scales.append(scale)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "repeat": args.repeat, "notes": report.get("notes", []),
              "scales": sorted(kept + scales, key=lambda s: (s["tracks"], bool(s.get("only"))))}
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "backend.md").write_text(markdown(report) + "\n")
    print(markdown(report))


if __name__ == "__main__":
    main()
