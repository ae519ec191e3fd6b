"""Publishing into Virtuoso: `fairtracks-ld publish --method virtuoso-bulk` against Virtuoso's
own bulk loader given the same quads, side by side.

Data per scale: the store of bench/backend.py (`generate --tracks N --seed 1`, the bundled
ontologies, `load --bulk`; cached under bench/work/backend/generated-N/). Contenders, each into a
fresh private Virtuoso (tests/virtuoso.py, the same ini), one after the other per round:
- `bare ld_dir`: the publication's graphs written beforehand (untimed) as N-Quads files, then
  timed: `ld_dir` + `rdf_loader_run()` + `checkpoint` in one isql session — the floor for any
  publisher, which must also read the quads out of the store;
- `publish`: the command, from start to exit (reading the store, writing the files, loading,
  the publication record and the catalog switch, the checkpoint);
- `publish before` (with `--before SRC`, a source tree holding `src/fairtracks_ld`): the same
  command with that code.
Reported: seconds, ms per track, quads per second, ratio to the bare loader; `uptime` before
and after (the machine is shared: read the ratios).

Usage: python bench/publish.py [--tracks 5000] [--rounds 1] [--before SRC --before-label L]
Writes bench/results/publish.json and bench/results/publish.md.
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
from pathlib import Path

import pyoxigraph as ox
from backend import BASE, BIN, RESULTS, prepare, uptime  # the same stores as the query mix
from virtuoso import PASSWORD, virtuoso

from fairtracks_ld.publication.plan import make_plan
from fairtracks_ld.store import TrackStore
from fairtracks_ld.store.records import AsQuads
from fairtracks_ld.store.snapshots import current_snapshot


def write_quads(store_path: Path, folder: Path) -> int:
    """The publication's graphs as N-Quads files of about 32 MB (a graph never split), as
    `publish` writes them; returns the number of quads."""
    store = TrackStore(current_snapshot(store_path), base=BASE, read_only=True)
    count, index, out = 0, 0, None
    for graph in make_plan(store).graphs:
        if out is None:
            out = open(folder / f"bare-{index:05d}.nq", "wb")  # noqa: SIM115
            index += 1
        sink = AsQuads(out, graph.iri)
        store.dump(sink, ox.RdfFormat.N_TRIPLES, graph.iri)
        count += sink.lines
        if out.tell() >= 32 << 20:
            out.close()
            out = None
    if out is not None:
        out.close()
    return count


def bare(folder: Path, quads_dir: Path) -> float:
    shutil.rmtree(folder, ignore_errors=True)
    with virtuoso(folder, extra_dirs=(quads_dir,)) as engine:
        started = time.monotonic()
        engine.isql(f"ld_dir('{quads_dir}', '*.nq', 'urn:fairtracks-ld:unused')",
                    "rdf_loader_run()", "checkpoint", timeout=7200)
        return time.monotonic() - started


def publish(store: Path, folder: Path, source: Path | None = None) -> tuple[float, str]:
    shutil.rmtree(folder, ignore_errors=True)
    bulk = folder / "bulk"
    bulk.mkdir(parents=True)
    with virtuoso(folder / "virtuoso", extra_dirs=(bulk,)) as engine:
        env = dict(os.environ, FAIRTRACKS_LD_ISQL_PASSWORD=PASSWORD,
                   **({"PYTHONPATH": str(source / "src")} if source else {}))
        started = time.monotonic()
        done = subprocess.run(
            [BIN / "fairtracks-ld", "--store", store, "--base-iri", BASE, "publish", "--to",
             engine.sparql_url, "--virtuoso-isql", f"127.0.0.1:{engine.sql_port}",
             "--bulk-dir", bulk], check=True, capture_output=True, text=True, env=env)
        return time.monotonic() - started, done.stdout.strip()


def measure(tracks: int, rounds: int, before: Path | None) -> dict:
    folder = prepare(tracks)
    work = folder / "publish-bench"
    shutil.rmtree(work, ignore_errors=True)
    quads_dir = work / "quads"
    quads_dir.mkdir(parents=True)
    quads = write_quads(folder / "store", quads_dir)
    times: dict[str, list[float]] = {"bare ld_dir": [], "publish": []}
    if before:
        times["publish before"] = []
    for _ in range(rounds):
        times["bare ld_dir"].append(bare(work / "bare", quads_dir))
        print(tracks, "bare", times["bare ld_dir"][-1], flush=True)
        seconds, said = publish(folder / "store", work / "publish")
        times["publish"].append(seconds)
        print(tracks, "publish", seconds, said, flush=True)
        if before:
            seconds, said = publish(folder / "store", work / "before", before)
            times["publish before"].append(seconds)
            print(tracks, "before", seconds, said, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return {"tracks": tracks, "quads": quads,
            "seconds": {name: statistics.median(found) for name, found in times.items()},
            "runs": times}


def markdown(report: dict) -> list[str]:
    lines = []
    for scale in report["scales"]:
        floor = scale["seconds"]["bare ld_dir"]
        lines += [f"## {scale['tracks']:,} tracks, {scale['quads']:,} quads", "",
                  f"Measured {scale['when']}; `uptime` before: {scale['uptime_before']}; after: "
                  f"{scale['uptime_after']}. {len(scale['runs']['publish'])} round(s), "
                  "medians.", ""]
        if scale.get("before_label"):
            lines += [f"`publish before`: {scale['before_label']}.", ""]
        lines += ["| contender | seconds | ms per track | quads/s | / bare ld_dir |",
                  "|---|---:|---:|---:|---:|"]
        for name, seconds in scale["seconds"].items():
            lines.append(f"| {name} | {seconds:.1f} | {seconds / scale['tracks'] * 1000:.1f} | "
                         f"{scale['quads'] / seconds:,.0f} | {seconds / floor:.2f} |")
        lines.append("")
    return lines



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, nargs="+", default=[5_000])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--before", type=Path)
    parser.add_argument("--before-label", default="")
    args = parser.parse_args()
    scales = []
    for tracks in args.tracks:
        started = uptime()
        scale = measure(tracks, args.rounds, args.before)
        scale.update(uptime_before=started, uptime_after=uptime(),
                     when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                     before_label=args.before_label if args.before else "")
        scales.append(scale)
    path = RESULTS / "publish.json"
    old = json.loads(path.read_text()) if path.exists() else {"scales": []}
    kept = [s for s in old["scales"] if s["tracks"] not in args.tracks]
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "rounds": args.rounds,
              "python": sys.version.split()[0],
              "scales": sorted(kept + scales, key=lambda s: s["tracks"])}
    path.write_text(json.dumps(report, indent=2) + "\n")
    text = "\n".join([
        "# Publishing into Virtuoso: `publish --method virtuoso-bulk` vs its bare bulk loader",
        "", f"Measured on {report['machine']}, shared with other jobs. Script: bench/publish.py "
        "(what each contender does is in its docstring). Each contender into a fresh private "
        "Virtuoso with the tests' ini (tests/virtuoso.py).", "", *markdown(report)])
    (RESULTS / "publish.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
