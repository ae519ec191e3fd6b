"""What keeping the view graph costs `publish --method virtuoso-bulk` at scale: a first
publication (every graph, then the view graph filled from the 18 sources), and a new version of
one document (its old version's triples given up, the new ones taken in).

The scale's store of bench/backend.py (bench/work/backend/generated-N) is published into a fresh
private Virtuoso (tests/virtuoso.py); then `generate --tracks NEW --seed 1` makes documents named
as the scale's own, so its first document is a new version of the scale's first (20,000 tracks
at 100,000); it is loaded into the store and published. Reported per run: wall time, the view
graph's own steps as the publisher reports them, Virtuoso's CPU, its files after a checkpoint,
and the view graph's triples against the store's view (its default graph). The store keeps the
new version: run once per prepared store.

Usage: python bench/view_graph.py [--tracks 100000] [--new 2000]; writes
bench/results/view-graph.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time

from backend import (
    BASE,
    PASSWORD,
    RESULTS,
    WORK,
    cpu_seconds,
    disk,
    fairtracks,
    process_of,
    uptime,
    virtuoso,
)

from fairtracks_ld.publication.view import view_graph
from fairtracks_ld.store import TrackStore, current_view
from fairtracks_ld.store.snapshots import current_snapshot
from fairtracks_ld.web.backend.endpoint import Endpoint


def published(folder, engine, pid: int) -> dict:
    """One `publish` by the bulk loader: its figures."""
    cpu = cpu_seconds(pid)
    started = time.monotonic()
    done = fairtracks(folder / "store", "publish", "--to", engine.sparql_url,
                      "--virtuoso-isql", f"127.0.0.1:{engine.sql_port}",
                      "--bulk-dir", folder / "view-bulk", "-v",
                      env={"FAIRTRACKS_LD_ISQL_PASSWORD": PASSWORD})
    seconds = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu
    engine.isql("checkpoint")
    rows = Endpoint(engine.sparql_url, timeout=600).solutions(
        f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{view_graph(BASE)}> {{ ?s ?p ?o }} }}")
    store = TrackStore(current_snapshot(folder / "store"), base=BASE, read_only=True)
    steps = {name: {"sources": int(found[1]), "seconds": float(found[2])}
             for name, pattern in (("given_up", r"(\d+) sources given up in ([\d.]+) s"),
                                   ("taken_in", r"(\d+) sources taken in in ([\d.]+) s"))
             if (found := re.search("view graph: " + pattern, done.stderr))}
    return {"summary": done.stdout.strip(), "seconds": seconds, "virtuoso_cpu_seconds": cpu,
            **steps, "view_triples": int(next(iter(rows))["n"].value),
            "store_view_triples": current_view.size(store),
            "virtuoso_bytes": disk(folder / "view-virtuoso")}


def measure(tracks: int, new: int) -> dict:
    folder = WORK / f"generated-{tracks}"
    for name in ("view-virtuoso", "view-bulk", f"superseding-{new}"):
        shutil.rmtree(folder / name, ignore_errors=True)
    (folder / "view-bulk").mkdir()
    with virtuoso(folder / "view-virtuoso", extra_dirs=(folder / "view-bulk",)) as engine:
        pid = process_of(str(folder / "view-virtuoso" / "virtuoso.ini"))
        first = published(folder, engine, pid)
        print(first, flush=True)
        corpus = folder / f"superseding-{new}"
        fairtracks(folder / "store", "generate", "--tracks", str(new), "--seed", "1", "--out",
                   corpus)
        fairtracks(folder / "store", "load", corpus)
        second = published(folder, engine, pid)
        print(second, flush=True)
    return {"tracks": tracks, "new_tracks": new, "first": first, "new_version": second}


def run_lines(run: dict) -> list[str]:
    lines = [f"  `{run['summary']}`", f"  {run['seconds']:.0f} s wall, Virtuoso "
             f"{run['virtuoso_cpu_seconds']:.0f} s of CPU."]
    if "given_up" in run:
        lines.append(f"  View graph: {run['given_up']['sources']} sources given up in "
                     f"{run['given_up']['seconds']:.1f} s (DELETE unless a staying source "
                     "holds it).")
    if "taken_in" in run:
        lines.append(f"  View graph: {run['taken_in']['sources']} sources taken in in "
                     f"{run['taken_in']['seconds']:.1f} s (INSERT from their graphs).")
    lines.append(f"  The view graph holds {run['view_triples']:,} triples, the store's view "
                 f"{run['store_view_triples']:,}; Virtuoso's files "
                 f"{run['virtuoso_bytes'] / 1e9:.2f} GB after a checkpoint.")
    return lines


def markdown(report: dict) -> str:
    return "\n".join([
        "# The view graph through `publish --method virtuoso-bulk`", "",
        "Script: bench/view_graph.py (its docstring says what is measured).", "",
        f"## {report['tracks']:,} tracks", "",
        f"Measured {report['when']}; `uptime` before: {report['uptime_before']}; after: "
        f"{report['uptime_after']}.", "",
        "- First publication into a fresh Virtuoso:", *run_lines(report["first"]),
        f"- A new version of the first document ({report['new_tracks']:,} tracks), loaded and "
        "published:", *run_lines(report["new_version"]), ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=2_000)
    args = parser.parse_args()
    before = uptime()
    report = measure(args.tracks, args.new)
    report.update(uptime_before=before, uptime_after=uptime(),
                  when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "view-graph.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "view-graph.md").write_text(markdown(report) + "\n")
    print(markdown(report))


if __name__ == "__main__":
    main()
