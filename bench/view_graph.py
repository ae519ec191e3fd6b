"""What keeping the view graph costs a publication that changes one document at scale: a new
version superseding one of the documents bench/backend.py published, sent by `publish --method
update` (SPARQL Update over HTTP; the view graph's steps one request per source).

On the Virtuoso database bench/backend.py left for the scale (started again on it, as
bench/backend_dataset.py does): `generate --tracks N --seed 1` makes documents named as the
scale's own, so its first document is a new version of the scale's first; it is loaded into the
scale's store and published. Reported: the run's wall time, the view graph's own steps as the
publisher reports them (giving up the old version's graphs, taking in the new ones), Virtuoso's
CPU over the run, and a check that the view graph holds as many triples as the store's view
(the local default graph) afterwards. The store keeps the new version (run once per store).

Usage: python bench/view_graph.py [--tracks 100000] [--new 2000]; writes
bench/results/view-graph.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import re
import time

from backend import BASE, RESULTS, WORK, cpu_seconds, disk, fairtracks, uptime
from backend_dataset import engine

from fairtracks_ld.publication.view import view_graph
from fairtracks_ld.store import TrackStore, current_view
from fairtracks_ld.store.snapshots import current_snapshot
from fairtracks_ld.web.backend.endpoint import Endpoint


def view_triples(endpoint: Endpoint) -> int:
    rows = endpoint.solutions(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{view_graph(BASE)}> "
                              "{ ?s ?p ?o } }")
    return int(next(iter(rows))["n"].value)


def measure(tracks: int, new: int) -> dict:
    folder = WORK / f"generated-{tracks}"
    corpus = folder / f"superseding-{new}"
    fairtracks(folder / "store", "generate", "--tracks", str(new), "--seed", "1", "--out",
               corpus)
    started = time.monotonic()
    fairtracks(folder / "store", "load", corpus)
    loaded = time.monotonic() - started
    with engine(folder) as (url, pid):
        endpoint = Endpoint(url, timeout=3600)
        before = view_triples(endpoint)
        cpu = cpu_seconds(pid)
        started = time.monotonic()
        done = fairtracks(folder / "store", "publish", "--to", url, "--method", "update", "-v")
        seconds = time.monotonic() - started
        cpu = cpu_seconds(pid) - cpu
        after = view_triples(endpoint)
    store = TrackStore(current_snapshot(folder / "store"), base=BASE, read_only=True)
    local = current_view.size(store)
    gave = re.search(r"view graph: (\d+) sources given up in ([\d.]+) s", done.stderr)
    took = re.search(r"view graph: (\d+) sources taken in in ([\d.]+) s", done.stderr)
    return {"tracks": tracks, "new_tracks": new, "load_seconds": loaded,
            "summary": done.stdout.strip(), "publish_seconds": seconds,
            "virtuoso_cpu_seconds": cpu,
            "given_up": {"sources": int(gave[1]), "seconds": float(gave[2])},
            "taken_in": {"sources": int(took[1]), "seconds": float(took[2])},
            "view_triples_before": before, "view_triples_after": after,
            "store_view_triples": local, "virtuoso_bytes": disk(folder / "virtuoso")}


def markdown(run: dict) -> str:
    return "\n".join([
        "# The view graph through a one-document publication (Virtuoso)", "",
        "Script: bench/view_graph.py (its docstring says what is measured).", "",
        f"## {run['tracks']:,} tracks, a new version of {run['new_tracks']:,} tracks", "",
        f"Measured {run['when']}; `uptime` before: {run['uptime_before']}; after: "
        f"{run['uptime_after']}.", "",
        f"- `load` of the new version into the store: {run['load_seconds']:.0f} s.",
        f"- `publish --method update`: {run['publish_seconds']:.0f} s wall, Virtuoso "
        f"{run['virtuoso_cpu_seconds']:.0f} s of CPU; `{run['summary']}`.",
        f"- The view graph's steps: {run['given_up']['sources']} sources given up in "
        f"{run['given_up']['seconds']:.1f} s (the superseded version's graphs: DELETE unless a "
        f"staying source holds it), {run['taken_in']['sources']} taken in in "
        f"{run['taken_in']['seconds']:.1f} s (INSERT from the new graphs).",
        f"- The view graph: {run['view_triples_before']:,} triples before, "
        f"{run['view_triples_after']:,} after; the store's view (its default graph): "
        f"{run['store_view_triples']:,} triples.",
        f"- Virtuoso's files after: {run['virtuoso_bytes'] / 1e9:.2f} GB.", ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=2_000)
    args = parser.parse_args()
    before = uptime()
    run = measure(args.tracks, args.new)
    run.update(uptime_before=before, uptime_after=uptime(),
               when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "view-graph.json").write_text(json.dumps(run, indent=2) + "\n")
    (RESULTS / "view-graph.md").write_text(markdown(run) + "\n")
    print(markdown(run))


if __name__ == "__main__":
    main()


