"""Records benchmark (store/records.py): what writing a version's records costs a load, what they
take on disk, and what the view's removal of a superseded version costs reading its record
instead of the store.

For each N: one generated document of N tracks (`generate --tracks N --tracks-per-document N
--seed 1`), loaded with `fairtracks-ld load --bulk` into a copy of a store holding only the
ontology bundle, by this tree (records) and by a source tree without records (`--base-src`, e.g.
`git archive` of the commit before them), `--runs` times each, alternating; the figure is the
child's CPU seconds (user + sys, every thread). Then, in this process, on copies of the store
the records tree loaded: the document loaded again with the record writers timed (CPU of
`records.Writer.write` and `commit`), and a later version of it (every tenth track relabelled,
a new doc_version) loaded over it (`load_sources`, bulk) with the leaving version removed from
the view by its record, and with the records forgotten first (removed from the store, as before
records); CPU of the removal step (`current_view._remove_unheld`, timed by wrapping it) and of
the whole load, and the view's size after (equal for both ways).

Usage: python bench/records.py --base-src /tmp/records-base/src [--tracks 10000 20000]
       [--supersede 20000] [--runs 3]
Writes bench/results/records.json (and prints it); the reading is in bench/results/records.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
WORK = HERE / "work" / "records"
RESULTS = HERE / "results"
BASE = "http://localhost:8000/"


def cli(src: Path, store: Path, *args: str) -> float:
    """Run `fairtracks-ld` from the source tree `src`; returns its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store),
                           "--base-iri", BASE, *args], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(src)))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def copied(template: Path, target: Path) -> Path:
    """A private copy of a store folder (store, snapshots); returns the store's path."""
    from fairtracks_ld.store.reserve import RESERVE_NAME

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(template, target, symlinks=True, ignore=shutil.ignore_patterns(RESERVE_NAME))
    return target / "store"


def documents(tracks: int) -> tuple[Path, Path]:
    """The generated document and a later version of it."""
    from fairtracks_ld.generate import generate_documents

    first, = generate_documents(tracks=tracks, seed=1, tracks_per_document=tracks)
    second = copy.deepcopy(first)
    second["doc_info"]["doc_version"] += "-2"
    for track in second["tracks"][::10]:
        track["label_short"] = track["label_short"][:15] + " (changed)"
    paths = WORK / f"doc-{tracks}.json", WORK / f"doc-{tracks}-2.json"
    for path, document in zip(paths, (first, second), strict=True):
        path.write_text(json.dumps(document))
    return paths


def timed(owner: object, name: str, spent: list[float]) -> Callable[[], None]:
    """Wrap `owner.name` to add its CPU seconds to `spent`; returns the undo."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.process_time() - started)

    setattr(owner, name, wrapper)
    return lambda: setattr(owner, name, original)


def in_process_load(store_path: Path, source: Path, forget: bool = False) -> dict:
    """Load `source` in this process (bulk), timing the record writers and the view removal."""
    from fairtracks_ld.load import load_sources
    from fairtracks_ld.store import current_view, records
    from fairtracks_ld.writing import open_store

    store = open_store(store_path, base=BASE)
    if forget:
        records.forget(store, list(records.names(store)))
    writing_records: list[float] = []
    removal: list[float] = []
    undo = [timed(records.Writer, "write", writing_records),
            timed(records.Writer, "commit", writing_records),
            timed(current_view, "_remove_unheld", removal)]
    started = time.process_time()
    try:
        report = load_sources(store, [str(source)], bulk=True)
    finally:
        for restore in undo:
            restore()
    spent = time.process_time() - started
    assert report.ok, report
    found = {"load_cpu_s": round(spent, 2), "record_writing_cpu_s": round(sum(writing_records), 2),
             "view_removal_cpu_s": round(sum(removal), 2),
             "view_triples": current_view.size(store)}
    del store
    return found


def record_bytes(store_path: Path) -> dict:
    from fairtracks_ld.store import TrackStore, records

    store = TrackStore(store_path, base=BASE, read_only=True)
    root = records.folder(store_path)
    found = {"graph": 0, "companion": 0, "graph_triples": 0, "companion_triples": 0,
             "blank_node_lines": 0, "graph_triples_in_store": 0, "companion_triples_in_store": 0}
    for graph, name in records.names(store).items():
        # a companion of stored ancestor links: a store written by an earlier layout (a load
        # of this tree writes version graphs only, so its companion counts stay 0)
        kind = "companion" if graph.endswith("/inferred") else "graph"
        found[kind] += (root / name).stat().st_size
        found[f"{kind}_triples_in_store"] += int(next(iter(store.ox.query(
            f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")))["n"].value)
        for block in records.blocks(root / name):
            found[f"{kind}_triples"] += block.count(b"\n")
            found["blank_node_lines"] += sum(b"_:" in line for line in block.splitlines())
    del store
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-src", type=Path, required=True,
                        help="the src/ folder of a tree without records")
    parser.add_argument("--tracks", type=int, nargs="+", default=[10_000, 20_000])
    parser.add_argument("--supersede", type=int, nargs="*", default=[20_000],
                        help="sizes at which to time the supersede")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    bundle = WORK / "bundle"
    if not (bundle / "store").is_dir():
        cli(SRC, bundle / "store", "ontologies", "load")
    results: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                     "loadavg_start": os.getloadavg(), "runs": args.runs, "sizes": {}}
    for tracks in args.tracks:
        first, second = documents(tracks)
        cpu: dict[str, list[float]] = {"records": [], "base": []}
        for _ in range(args.runs):
            for variant, src in (("records", SRC), ("base", args.base_src)):
                store = copied(bundle, WORK / f"load-{variant}")
                cpu[variant].append(round(cli(src, store, "load", "--bulk", str(first)), 2))
        size = {"load_cpu_s": cpu,
                "load_cpu_median_s": {k: statistics.median(v) for k, v in cpu.items()},
                "record_bytes": record_bytes(WORK / "load-records" / "store")}
        size["load_cpu_ratio"] = round(size["load_cpu_median_s"]["records"]
                                       / size["load_cpu_median_s"]["base"], 3)
        size["record_bytes_per_track"] = round(
            (size["record_bytes"]["graph"] + size["record_bytes"]["companion"]) / tracks, 1)
        size["in_process_first_load"] = in_process_load(
            copied(bundle, WORK / "in-process"), first)
        if tracks in args.supersede:
            loaded = WORK / "loaded"
            shutil.rmtree(loaded, ignore_errors=True)
            shutil.copytree(WORK / "load-records", loaded, symlinks=True)
            runs: dict[str, list[dict]] = {"record": [], "store": []}
            for _ in range(args.runs):
                for way in runs:
                    store = copied(loaded, WORK / f"supersede-{way}")
                    runs[way].append(in_process_load(store, second, forget=way == "store"))
            size["supersede"] = runs
            size["supersede_median"] = {
                way: {key: statistics.median(r[key] for r in found) for key in found[0]}
                for way, found in runs.items()}
        results["sizes"][tracks] = size
        print(json.dumps({tracks: size}, indent=1), flush=True)
    results["loadavg_end"] = os.getloadavg()
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "records.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(SRC))
    main()
