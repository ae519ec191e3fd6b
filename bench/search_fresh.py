"""Issue 18, search freshness: what a server process's facet index costs after a load.

For a store holding one big generated document (`--sizes`, tracks; `fairtracks-ld generate
--tracks N --tracks-per-document N --seed 1`, loaded with `load --bulk` into a copy of a store
holding the bundled ontologies), one run per sources checkout (`--before`: another checkout's
`src`, e.g. main; `--after`: this one's), each in a fresh process on its own copy of the store:

- first search: the index of the freshly loaded store, from an empty segment folder with the
  writer's segments (`after`: made by the load, `prepare`, timed separately as the writer's
  cost) or without (`before`: the first request reads the version graph);
- refresh after each of: a new 1k-track document (`--seed 2`), a new 20k-track document
  (`--seed 3`), and that document replaced by a new version (a day later, one label changed):
  the next index as a server process makes it on its next request (`before`: from every
  segment again, reading the new graph on the first call; `after`: from the previous index and
  the segment the writer made); the first call, then the median of `--repeat` more (`before`:
  the new segment is on disk by then).

Times are CPU seconds of the building thread (time.thread_time) and wall seconds; the machine is
shared, so CPU is the figure to trust. Documents are loaded without validation (not timed).
Every refreshed index is checked against a build from scratch of the same store (tracks, text,
values per track). Usage:

  python bench/search_fresh.py --sizes 100000 200000 --before /work/main/src [--repeat 3]

Writes bench/results/search-fresh.json and .md. Works under bench/work/search-fresh/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Measured: the loads themselves; the background compaction a big load starts (store/optimizer.py)
# would run beside what is measured next.
os.environ.setdefault("FAIRTRACKS_LD_OPTIMIZE_SHARE", "0")
SRC = HERE.parent / "src"
WORK = HERE / "work" / "search-fresh"
RESULTS = HERE / "results"
BASE = "http://localhost:8000/"
TEMPLATE = HERE / "work" / "load-memory" / "template"  # bench/load_memory.py's ontology store


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", *args], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(SRC)})


def generated(tracks: int, seed: int) -> Path:
    folder = WORK / f"doc-{tracks}-seed-{seed}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        cli("generate", "--tracks", str(tracks), "--tracks-per-document", str(tracks), "--seed",
            str(seed), "--out", str(folder))
        (folder / ".complete").touch()
    return next(folder.glob("*.json"))


def next_version(path: Path) -> Path:
    """The document's next version: a day later, another doc_version, a label changed."""
    document = json.loads(path.read_text())
    info = document["doc_info"]
    date = datetime.strptime(info["doc_date"], "%Y-%m-%dT%H:%M:%SZ") + timedelta(days=1)
    info["doc_date"] = date.strftime("%Y-%m-%dT%H:%M:%SZ")
    info["doc_version"] = "v2-" + info["doc_version"][:16]
    document["tracks"][0]["label_short"] = "replaced"
    target = path.with_name(path.stem + "-v2.json")
    target.write_text(json.dumps(document))
    return target


def base_store(size: int) -> Path:
    """The big document loaded into a copy of the ontology store (made once per size)."""
    store = WORK / f"store-{size}"
    if not (WORK / f"store-{size}.complete").exists():
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(TEMPLATE, store)
        run_child(SRC, "load", str(store), str(generated(size, 1)))
        (WORK / f"store-{size}.complete").touch()
    return store


def run_child(src: Path, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, __file__, "--child", *args], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}


# ---- in the child process (the sources under test on PYTHONPATH) ----------------------------


def segments_folder(store: Path) -> Path:
    return store.with_name(store.name + ".snapshots") / "search-segments"


def child_load(store_path: str, document: str) -> dict:
    from fairtracks_ld.load import load_sources
    from fairtracks_ld.store import TrackStore

    store = TrackStore(store_path, base=BASE)
    assert load_sources(store, [document], bulk=True, validate=False).ok
    store.flush()
    return {}


def timed(work) -> tuple[object, dict]:
    cpu, wall = time.thread_time(), time.perf_counter()
    result = work()
    return result, {"cpu_s": round(time.thread_time() - cpu, 3),
                    "wall_s": round(time.perf_counter() - wall, 3)}


def same_answers(one, other) -> bool:
    def values(facet):
        of = [tuple(facet.keys[m] for m in facet.members[a:b])
              for a, b in zip(facet.starts[:-1], facet.starts[1:], strict=True)]
        return [of[c] for c in facet.column]

    return (one.tracks == other.tracks and one.text == other.text
            and all(values(one.fields[n]) == values(f) for n, f in other.fields.items())
            and all((one.totals[n] == t).all() for n, t in other.totals.items()))


def child_run(store_path: str, documents: list[str], repeat: int) -> dict:
    """First search, then a refresh after each document is loaded."""
    import inspect

    from fairtracks_ld.load import load_sources
    from fairtracks_ld.search import index as facet_index
    from fairtracks_ld.search import segments
    from fairtracks_ld.store import TrackStore

    incremental = "previous" in inspect.signature(facet_index.build_index).parameters
    store = TrackStore(store_path, base=BASE)
    folder = segments_folder(Path(store_path))  # where the writer (after) leaves them
    out: dict = {"incremental": incremental}
    if incremental:  # what the load now does before it returns
        _, out["writer_segment"] = timed(lambda: segments.prepare(
            store, [v for v in store.versions() if v.current]))

    def build(previous):
        if incremental:
            return facet_index.build_index(store, "s", folder, previous)
        return facet_index.build_index(store, "s", folder)

    index, out["first_search"] = timed(lambda: build(None))
    out["tracks"] = len(index.tracks)
    out["refresh"] = []
    for document in documents:
        assert load_sources(store, [document], bulk=True, validate=False).ok
        store.flush()
        fresh, first = timed(lambda index=index: build(index))
        again = [timed(lambda index=index: build(index))[1] for _ in range(repeat)]
        assert same_answers(fresh, facet_index.build_index(store, "scratch"))
        out["refresh"].append({"document": Path(document).name, "tracks": len(fresh.tracks),
                               "first": first,
                               "median_cpu_s": statistics.median(a["cpu_s"] for a in again),
                               "median_wall_s": statistics.median(a["wall_s"] for a in again)})
        index = fresh
    return out


def child(argv: list[str]) -> None:
    if argv[0] == "load":
        result = child_load(argv[1], argv[2])
    else:
        result = child_run(argv[1], argv[3:], int(argv[2]))
    print(json.dumps(result), flush=True)


# ---- the parent ---------------------------------------------------------------------------------


def measure(size: int, contenders: dict[str, Path], repeat: int) -> dict:
    base = base_store(size)
    medium = generated(20_000, 3)
    documents = [generated(1_000, 2), medium, next_version(medium)]
    found = {}
    for name, src in contenders.items():
        store = WORK / f"run-{size}-{name}"
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(store.with_name(store.name + ".snapshots"), ignore_errors=True)
        shutil.copytree(base, store)
        print(f"{size} {name} …", flush=True)
        found[name] = run_child(src, "run", str(store), str(repeat), *map(str, documents))
        print(json.dumps(found[name]), flush=True)
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(store.with_name(store.name + ".snapshots"), ignore_errors=True)
    return found


def markdown(report: dict) -> str:
    lines = ["# Search freshness (`bench/search_fresh.py`)", "",
             f"Machine: {report['machine']}; load average at start {report['load_average']}. "
             "CPU seconds of the building thread (wall in brackets; the machine is shared with "
             "other jobs, so trust CPU). `before`: " + report["before"] + "; `after`: this "
             "checkout. Each refreshed index equals a build from scratch (checked).", "",
             "| tracks | contender | writer: segment at load | first search | "
             "refresh: +1k new (first call) | +1k (median) | +20k new (first) | +20k (median) "
             "| 20k replaced (first) | 20k replaced (median) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size, found in report["sizes"].items():
        for name, run in found.items():
            writer = run.get("writer_segment")
            cells = [f"{int(size):,}", name,
                     f"{writer['cpu_s']} ({writer['wall_s']})" if writer else "-",
                     f"{run['first_search']['cpu_s']} ({run['first_search']['wall_s']})"]
            for step in run["refresh"]:
                cells += [f"{step['first']['cpu_s']} ({step['first']['wall_s']})",
                          f"{step['median_cpu_s']} ({step['median_wall_s']})"]
            cells += ["-"] * (10 - len(cells))  # a run cut short (report["notes"])
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Seconds. A server runs this in each of its worker processes (2 by default) "
              "on the request after a load's snapshot appears.", "",
              *report.get("notes", [])]
    return "\n".join(lines) + "\n"


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout's src")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                         f"{platform.python_version()}",
              "load_average": [round(x, 1) for x in os.getloadavg()],
              "before": str(args.before), "sizes": {}}
    for size in args.sizes:
        report["sizes"][str(size)] = measure(size, {"before": args.before, "after": SRC},
                                             args.repeat)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "search-fresh.json").write_text(json.dumps(report, indent=1) + "\n")
    (RESULTS / "search-fresh.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
