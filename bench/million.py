"""Serving a million tracks: issue 18's checks on the store a 1M-track load left behind.

The store is the one `python bench/load_memory.py --sizes 1000000 --kinds load --keep-store
--publish` wrote (one generated document of 1M tracks, `--seed 1`, loaded with `load --bulk`,
validation on, into a copy of a store holding the bundled ontologies, then published as
`fairtracks-ld load` does before it returns). Against it, with `fairtracks-ld serve` on loopback
(answer cache off, FAIRTRACKS_LD_CACHE=0, so every request reaches the store):

- the seconds from the server's start to its first `/sparql` answer and its first `/search` page
  (the facet index built or read from its segments);
- the ancestor-aware first page (100 tracks under lymphocyte, CL:0000542) through `/sparql`, GET,
  one request at a time: the first request, then median / p95 of `--repeat` more;
- a few other answers, one at a time: a track's page (HTML), its Turtle, `/search`, `/search`
  filtered to lymphocyte;
- serving memory: PSS summed over the server's process tree (/proc/PID/smaps_rollup);
- freshness: while the server runs, `fairtracks-ld load --bulk` of a new 1k-track document
  (`--seed 2`: its own collection, so no IRI collides), then from the moment `load` returns, the
  seconds until one of its tracks is answered by `/sparql`, its page, `/search` and the
  TrackFind API (`/api/v1/search/...`); then a 20k-track document (`--seed 3`) loaded and
  replaced by a new version (a later `doc_date`, another `doc_version`, one track's
  `label_short` changed): the seconds until every surface answers the new label (and SPARQL no
  longer the old one); for each, the load's CPU seconds and the server tree's during the load
  and from its return until every surface answered (`--seeds` other than 2 3 on a store an
  earlier run changed, so the documents are new and the replacement genuine);
- disk by part at the end (`fairtracks-ld stats`: store, snapshots, search segments), and with
  `--collected` again once the snapshots the loads replaced are collected, as a server running
  on collects them 10 minutes after each switch.

Usage: python bench/million.py [--store bench/work/load-memory/store-load-1000000] [--repeat 30]
[--seeds 2 3] [--about "what the store is"] [--collected]
Writes bench/results/million.json and bench/results/million.md. The store is changed (two
documents added): run it once per 1M load.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import requests
from proctree import tree_stats

from fairtracks_ld.store import snapshots

HERE = Path(__file__).resolve().parent
# Measured: the loads themselves; the background compaction a big load starts (store/optimizer.py)
# would run beside what is measured next.
os.environ.setdefault("FAIRTRACKS_LD_OPTIMIZE_SHARE", "0")
WORK = HERE / "work" / "million"
ABOUT = ("the 1M-track document of `bench/load_memory.py --sizes 1000000 --keep-store "
         "--publish`")
RESULTS = HERE / "results"
STORE = HERE / "work" / "load-memory" / "store-load-1000000"
BASE = "http://localhost:8000/"  # as bench/load_memory.py loaded it
PREFIXES = ("PREFIX ft: <https://w3id.org/fairtracks-ld/vocab#>\n"
            "PREFIX obo: <http://purl.obolibrary.org/obo/>\n")
FIRST_PAGE = PREFIXES + ("SELECT ?track WHERE { ?track ft:cell_type_ancestor obo:CL_0000542 } "
                         "LIMIT 100")
JSON_RESULTS = "application/sparql-results+json"
FRESHNESS_LIMIT = 600.0  # seconds of polling before a surface counts as never answering
sys.path.insert(0, str(HERE.parent / "tests"))

from servers import free_port  # noqa: E402  (the tests' helpers)


def cli(store: Path, *args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                           "--base-iri", BASE, *map(str, args)], check=True,
                          capture_output=True, text=True)


def pss_mb(root: int) -> float:
    """Proportional set size summed over a process tree: shared pages counted once in all."""
    return sum(pss_by_process(root).values())


def pss_by_process(root: int) -> dict[str, float]:
    """Each process of a tree (pid and command, shortened) → its PSS in MB."""
    found = {}
    for pid in tree_stats(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # exited meanwhile
            continue
        found[f"{pid} {command[:80]}"] = next(int(line.split()[1]) for line in text.splitlines()
                                              if line.startswith("Pss:")) / 1024
    return found


@contextmanager
def server(store: Path) -> Iterator[tuple[str, subprocess.Popen, dict[str, float]]]:
    """`fairtracks-ld serve` on loopback, cache off; yields its URL, process and the seconds
    from start to its first /sparql answer and first /search page."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = (WORK / "serve.log").open("w")
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                                "--base-iri", BASE, "serve", "--port", str(port)],
                               env=dict(os.environ, FAIRTRACKS_LD_CACHE="0"),
                               stdout=log, stderr=subprocess.STDOUT)
    ready: dict[str, float] = {}
    try:
        for name, path in (("sparql", "sparql?" + urlencode({"query": "ASK {}"})),
                           ("search", "search")):
            while True:
                try:
                    if requests.get(url + path, timeout=3600).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if process.poll() is not None:
                    raise RuntimeError(f"serve stopped: see {WORK / 'serve.log'}")
                time.sleep(0.2)
            ready[name] = round(time.monotonic() - started, 2)
            print("server ready:", name, ready[name], flush=True)
        yield url, process, ready
    finally:
        process.terminate()
        process.wait(timeout=120)
        log.close()


def figures(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"n": len(times), "median_ms": round(statistics.median(times) * 1000, 2),
            "p95_ms": round(ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000, 2),
            "max_ms": round(ordered[-1] * 1000, 2)}


def timed(session: requests.Session, url: str, accept: str, times: int = 1) -> list[float]:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        answer = session.get(url, headers={"Accept": accept}, timeout=600)
        spent.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"{url[:120]}: {answer.status_code} {answer.text[:300]}")
    return spent


def sparql_url(url: str, query: str) -> str:
    return url + "sparql?" + urlencode({"query": query})


def select(session: requests.Session, url: str, query: str) -> list[dict[str, str]]:
    answer = session.get(sparql_url(url, PREFIXES + query),
                         headers={"Accept": JSON_RESULTS}, timeout=600)
    answer.raise_for_status()
    return [{k: v["value"] for k, v in b.items()} for b in answer.json()["results"]["bindings"]]


def answers(session: requests.Session, url: str, repeat: int) -> dict[str, dict]:
    """The first page under lymphocyte and a few pages, one request at a time."""
    rng = random.Random(1)
    first = timed(session, sparql_url(url, FIRST_PAGE), JSON_RESULTS)[0]
    rows = session.get(sparql_url(url, FIRST_PAGE), headers={"Accept": JSON_RESULTS},
                       timeout=600).json()["results"]["bindings"]
    page = timed(session, sparql_url(url, FIRST_PAGE), JSON_RESULTS, repeat)
    tracks = [r["t"] for r in select(session, url, "SELECT ?t WHERE { ?t a ft:Track } LIMIT 2000")]
    sample = rng.sample(tracks, 10)
    kinds = {"first page under lymphocyte (/sparql, GET)":
             {**figures(page), "first_request_ms": round(first * 1000, 2), "rows": len(rows)}}
    kinds["track page (HTML)"] = figures(
        [t for track in sample for t in timed(session, url + track[len(BASE):], "text/html")])
    kinds["track (Turtle)"] = figures(
        [t for track in sample for t in timed(session, url + track[len(BASE):], "text/turtle")])
    kinds["/search"] = figures(timed(session, url + "search", "text/html", 5))
    if rows:  # a store with no track under lymphocyte refuses the filter (400)
        kinds["/search under lymphocyte"] = figures(timed(
            session, url + "search?" + urlencode({"sample_type": "CL:0000542"}),
            "text/html", 5))
    for kind, row in kinds.items():
        print(kind, row, flush=True)
    return kinds


# ---- freshness ---------------------------------------------------------------------------------


def generated(tracks: int, seed: int) -> Path:
    folder = WORK / f"doc-{tracks}-seed-{seed}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "generate", "--tracks",
                        str(tracks), "--tracks-per-document", str(tracks), "--seed", str(seed),
                        "--out", str(folder)], check=True, capture_output=True)
        (folder / ".complete").touch()
    return next(folder.glob("*.json"))


def new_version(path: Path, marker: str) -> tuple[Path, dict]:
    """The document's next version: a day later, another doc_version, and its first track's
    label_short set to `marker`; returns it and that track."""
    document = json.loads(path.read_text())
    info = document["doc_info"]
    date = datetime.strptime(info["doc_date"], "%Y-%m-%dT%H:%M:%SZ") + timedelta(days=1)
    info["doc_date"] = date.strftime("%Y-%m-%dT%H:%M:%SZ")
    info["doc_version"] = "v2-" + info["doc_version"][:16]
    document["tracks"][0]["label_short"] = marker
    target = path.with_name(path.stem + "-v2.json")
    target.write_text(json.dumps(document))
    return target, document["tracks"][0]


def tracks_in(path: Path) -> int:
    return len(json.loads(path.read_text())["tracks"])


def track_of(path: Path) -> tuple[dict, dict]:
    """The document's first track and its collection_info, read from the JSON."""
    document = json.loads(path.read_text())
    return document["tracks"][0], document["collection_info"]


def checks(url: str, collection: dict, track: dict, label: str
           ) -> dict[str, Callable[[requests.Session], bool]]:
    """Per surface, whether it answers `track` with `label` (and only that label)."""
    cid = collection["local_id"]
    collection_iri = f"{BASE}collection/{quote(cid, safe=':')}"
    iri = f"{collection_iri}/track/{quote(track['local_id'], safe=':')}"
    path = iri[len(BASE):]
    repository = urlsplit(collection["source_repo_url"]).hostname

    def by_sparql(session: requests.Session) -> bool:
        rows = select(session, url, f"SELECT ?l WHERE {{ <{iri}> ft:label_short ?l }}")
        return [r["l"] for r in rows] == [label]

    def by_page(session: requests.Session) -> bool:
        answer = session.get(url + path, headers={"Accept": "text/html"}, timeout=60)
        return answer.status_code == 200 and (label in answer.text
                                              or html.escape(label) in answer.text)

    def by_search(session: requests.Session) -> bool:
        answer = session.get(url + "search?" + urlencode({"collection": collection_iri,
                                                          "q": label}), timeout=60)
        return answer.status_code == 200 and path in answer.text

    def by_api(session: requests.Session) -> bool:
        query = f"tracks->local_id = '{track['local_id']}'"
        answer = session.get(url + f"api/v1/search/{repository}/{quote(cid)}?"
                             + urlencode({"query": query, "categories": "tracks"}), timeout=60)
        return (answer.status_code == 200 and
                [r["tracks"].get("label_short") for r in answer.json()] == [label])

    return {"sparql": by_sparql, "page": by_page, "search": by_search, "api": by_api}


def cpu_seconds(root: int) -> float:
    """User and system CPU seconds of a process tree's live processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(f[11]) + int(f[12]) for f in tree_stats(root).values()) / ticks


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def freshness(url: str, server_pid: int, store: Path, document: Path, collection: dict,
              track: dict, label: str) -> dict:
    """`load --bulk` of `document` while the server runs; the seconds from its return until
    each surface answers `track` with `label` (polled in turn, one request at a time), and the
    CPU seconds of the load and of the server's process tree meanwhile."""
    pending = checks(url, collection, track, label)
    session = requests.Session()
    before = {name: check(session) for name, check in pending.items()}
    started, server_started, load_cpu = time.monotonic(), cpu_seconds(server_pid), children_cpu()
    loaded = cli(store, "load", "--bulk", document)
    returned, server_returned = time.monotonic(), cpu_seconds(server_pid)
    load_cpu = children_cpu() - load_cpu
    seen: dict[str, float | None] = {}
    while pending and time.monotonic() - returned < FRESHNESS_LIMIT:
        for name, check in list(pending.items()):
            try:
                ok = check(session)
            except (requests.RequestException, ValueError, KeyError):
                ok = False
            if ok:
                seen[name] = round(time.monotonic() - returned, 2)
                del pending[name]
        time.sleep(0.05)
    seen.update({name: None for name in pending})
    result = {"document": document.name, "tracks": tracks_in(document),
              "load_seconds": round(returned - started, 1),
              "answered_before_load": before, "seconds_after_load": seen,
              "all_surfaces_s": None if pending else max(v for v in seen.values() if v is not None),
              "load_cpu_s": round(load_cpu, 1),
              "server_cpu_s_during_load": round(server_returned - server_started, 1),
              "server_cpu_s_after_load": round(cpu_seconds(server_pid) - server_returned, 1),
              "load_output": loaded.stderr.strip().splitlines()[-3:]}
    print("freshness", result, flush=True)
    return result


# ---- the benchmark ---------------------------------------------------------------------------


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def bench(store: Path, repeat: int, new: int, replaced: int, seeds: tuple[int, int]) -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    small = generated(new, seeds[0])
    medium = generated(replaced, seeds[1])
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "platform": platform.platform()},
                     "store": str(store), "uptime_start": uptime(), "repeat": repeat,
                     "seeds": seeds}
    with server(store) as (url, process, ready):
        results["ready_seconds"] = ready
        results["pss_mb"] = {"idle": round(pss_mb(process.pid), 1)}
        results["pss_mb_by_process_idle"] = {
            k: round(v, 1) for k, v in pss_by_process(process.pid).items()}
        session = requests.Session()
        results["answers"] = answers(session, url, repeat)
        results["pss_mb"]["after requests"] = round(pss_mb(process.pid), 1)
        track, collection = track_of(small)
        results["new document"] = freshness(url, process.pid, store, small, collection, track,
                                            track["label_short"])
        track, collection = track_of(medium)
        results["new document to replace"] = freshness(
            url, process.pid, store, medium, collection, track, track["label_short"])
        marker = f"replaced {int(time.time())}"
        replacement, changed = new_version(medium, marker)
        results["replaced document"] = freshness(url, process.pid, store, replacement,
                                                 collection, changed, marker)
        results["answers after the loads"] = answers(session, url, repeat)
        results["pss_mb"]["after the loads"] = round(pss_mb(process.pid), 1)
        results["pss_mb_by_process_after_the_loads"] = {
            k: round(v, 1) for k, v in pss_by_process(process.pid).items()}
        results["server_processes"] = len(tree_stats(process.pid))
    stats = json.loads(cli(store, "stats").stdout)
    results["stats"] = {k: stats.get(k) for k in ("quads", "current_view_triples",
                                                   "document_versions", "disk_bytes")}
    results["uptime_end"] = uptime()
    return results


def write(results: dict, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    ready, pss, disk = results["ready_seconds"], results["pss_mb"], \
        results["stats"]["disk_bytes"]
    lines = [
        "# Serving a million tracks (`bench/million.py`)", "",
        f"Store: {results['stats']['quads']:,} quads ({results['stats']['current_view_triples']:,} "
        f"in the current view), {results.get('about', ABOUT)} plus the documents loaded "
        "below. `fairtracks-ld serve` on "
        "loopback, answer cache off (FAIRTRACKS_LD_CACHE=0), requests one at a time (GET). "
        f"Machine: {results['machine']['cpus']} CPUs shared with other jobs; uptime at start "
        f"`{results['uptime_start']}`, at end `{results['uptime_end']}`.", "",
        f"Server start to first `/sparql` answer: {ready['sparql']:.1f} s; to first `/search` "
        f"page: {ready['search']:.1f} s.", "",
        "| answer | first request ms | median ms | p95 ms | max ms | n |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for when in ("answers", "answers after the loads"):
        for kind, row in results[when].items():
            label = kind + (" (after the loads)" if when != "answers" else "")
            lines.append(f"| {label} | {row.get('first_request_ms', '-')} | {row['median_ms']} | "
                         f"{row['p95_ms']} | {row['max_ms']} | {row['n']} |")
    lines += ["", "Freshness: seconds from `load` returning (the CLI, with its snapshot publish) "
              "until each surface answers the document's track with its label; polled in turn, "
              "one request at a time:", "",
              "| document | load s | SPARQL | page | search | API | all surfaces | load CPU s | "
              "server CPU s during load | server CPU s after |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in ("new document", "new document to replace", "replaced document"):
        row = results[kind]
        seen = row["seconds_after_load"]
        lines.append(f"| {kind} ({row['tracks']:,} tracks) | {row['load_seconds']} | " + " | ".join(
            "never" if seen[s] is None else f"{seen[s]}" for s in ("sparql", "page", "search",
                                                                    "api"))
            + f" | {row['all_surfaces_s']} | {row.get('load_cpu_s', '-')} | "
              f"{row.get('server_cpu_s_during_load', '-')} | "
              f"{row.get('server_cpu_s_after_load', '-')} |")
    lines += ["", "Serving memory, PSS summed over the server's process tree "
              f"({results['server_processes']} processes): "
              + ", ".join(f"{k} {v:,.0f} MB" for k, v in pss.items()) + ".", "",
              "Disk by part at the end (`fairtracks-ld stats`, GB): "
              + ", ".join(f"{k} {v / 1e9:.2f}" for k, v in disk.items()) + "."]
    if "disk_bytes_collected" in results:  # what a server running on leaves (see main)
        lines += ["", "The same once the snapshots the loads replaced are collected (a server "
                  "does so 10 minutes after each switch; the benchmark's ran for less), GB: "
                  + ", ".join(f"{k} {v / 1e9:.2f}"
                              for k, v in results["disk_bytes_collected"].items()) + "."]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--new", type=int, default=1000, help="tracks of the new document")
    parser.add_argument("--replaced", type=int, default=20_000,
                        help="tracks of the document loaded, then replaced")
    parser.add_argument("--seeds", type=int, nargs=2, default=(2, 3), metavar=("NEW", "REPLACED"),
                        help="generator seeds of the two documents (each seed its own collection):"
                             " other seeds on a store an earlier run changed, so the documents"
                             " are new and the replacement genuine")
    parser.add_argument("--about", default=ABOUT, help="what the store is (for the results)")
    parser.add_argument("--collected", action="store_true",
                        help="also report disk use once the replaced snapshots are collected "
                             "(waits out their grace, as a server running on would)")
    parser.add_argument("--results", default="million",
                        help="name of the results files (bench/results/NAME.json and .md)")
    args = parser.parse_args()
    global WORK
    WORK = WORK.with_name(f"{WORK.name}-{args.results}")
    results = bench(args.store.resolve(), args.repeat, args.new, args.replaced,
                    tuple(args.seeds))
    results["about"] = args.about
    if args.collected:
        published = snapshots.current_snapshot(args.store.resolve()).stat().st_mtime
        time.sleep(max(0.0, snapshots.GRACE_SECONDS + 1 - (time.time() - published)))
        snapshots.collect(args.store.resolve())
        results["disk_bytes_collected"] = json.loads(cli(args.store, "stats").stdout)["disk_bytes"]
    write(results, args.results)
    print((RESULTS / f"{args.results}.md").read_text())


if __name__ == "__main__":
    main()
