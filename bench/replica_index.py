"""A replica's start: seconds from `serve --backend` to its first `/search` answer (the facet
index built from Virtuoso over SPARQL), the CPU seconds it took the replica's process tree and
Virtuoso, and the replica's peak memory; beside the embedded server's start on the same store
(which loads the segments the writer made), the same replica restarted with `--segments DIR`
(`restarted`: the folder kept from an earlier start, so its segments are loaded, not read from
Virtuoso) and, with `--before SRC`, the same replica running the code of SRC (e.g. `git archive
main | tar -x -C SRC`).

Data per scale as bench/backend.py prepares it (generate --seed 1, bundled ontologies, load
--bulk), published into a fresh private Virtuoso with `publish --method virtuoso-bulk` (view
graph included). Each server runs with one worker process (`--workers 1`: the figures are one
build's) unless `--workers N` (`serve`'s default is 2: a replica's workers share the segments,
each version read from the backend by one of them; every worker builds its own index in
memory, so the CPU figures are then read once the server and Virtuoso have gone quiet, and
`quiet s` is when), the answer cache off; the servers start one at a
time, in an order that turns round each round (the first to read Virtuoso's pages reads them
cold). Reported per server: the median and every run.

Usage: python bench/replica_index.py [--tracks 20000 100000] [--rounds 3] [--before SRC]
       [--workers 1] [--name replica-index]
Writes bench/results/<name>.json and .md (replica-index by default).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from backend import (  # noqa: E402  (the query mix's helpers: same data, same servers)
    RESULTS,
    cpu_seconds,
    fairtracks,
    prepare,
    process_of,
    server,
    uptime,
)
from proctree import tree_stats  # noqa: E402
from virtuoso import PASSWORD, virtuoso  # noqa: E402  (on the path through backend)


def peak_mb(root: int) -> float:
    """The highest peak resident memory (VmHWM) of `root` and its live descendants, in MB."""
    peaks = [0]
    for pid in tree_stats(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        peaks += [int(line.split()[1]) for line in status.splitlines()
                  if line.startswith("VmHWM:")]
    return max(peaks) / 1024


def quiet(pid: int, engine: int, window: float = 3.0) -> float:
    """Wait until the server's tree and Virtuoso have used under 0.1 CPU s over `window`
    seconds (every worker's index built); returns the seconds waited, the window excluded."""
    started = time.monotonic()
    last = cpu_seconds(pid) + cpu_seconds(engine)
    while True:
        time.sleep(window)
        now = cpu_seconds(pid) + cpu_seconds(engine)
        if now - last < 0.1:
            return time.monotonic() - started - window
        last = now


def start(folder: Path, name: str, url: str, engine: int, before: Path | None,
          workers: int = 1) -> dict:
    """One server's start: seconds to the first `/search` (and, with several workers, until
    every worker's index is built), CPU seconds, peak memory."""
    store = folder / "store" if name == "embedded" else folder / f"no-store-{name}"
    args = ("--workers", str(workers), "--query-timeout", "1800",
            *(("--backend", url) if name != "embedded" else ()),
            *(("--segments", str(folder / "kept-segments")) if name == "restarted" else ()))
    engine_before = cpu_seconds(engine)
    with server(store, *args, source=before if name == "before" else None) as (_, seconds,
                                                                              pid):
        waited = quiet(pid, engine) if workers > 1 else 0.0
        return {"seconds": seconds, "quiet_s": seconds + waited,
                "server_cpu_s": cpu_seconds(pid),
                "virtuoso_cpu_s": cpu_seconds(engine) - engine_before,
                "peak_mb": peak_mb(pid)}


def measure(tracks: int, rounds: int, before: Path | None, workers: int = 1) -> dict:
    folder = prepare(tracks)
    shutil.rmtree(folder / "virtuoso", ignore_errors=True)
    shutil.rmtree(folder / "bulk", ignore_errors=True)
    (folder / "bulk").mkdir()
    with virtuoso(folder / "virtuoso", extra_dirs=(folder / "bulk",)) as engine:
        started = time.monotonic()
        fairtracks(folder / "store", "publish", "--to", engine.sparql_url, "--virtuoso-isql",
                   f"127.0.0.1:{engine.sql_port}", "--bulk-dir", folder / "bulk",
                   env={"FAIRTRACKS_LD_ISQL_PASSWORD": PASSWORD})
        published = time.monotonic() - started
        engine.isql("checkpoint")
        engine_pid = process_of(str(folder / "virtuoso" / "virtuoso.ini"))
        names = ["embedded", "after", "restarted", *(["before"] if before else [])]
        runs: dict[str, list[dict]] = {name: [] for name in names}
        shutil.rmtree(folder / "kept-segments", ignore_errors=True)
        start(folder, "restarted", engine.sparql_url, engine_pid, before, workers)  # fills it
        for number in range(rounds):
            order = names[number % len(names):] + names[:number % len(names)]
            for name in order:
                found = start(folder, name, engine.sparql_url, engine_pid, before, workers)
                runs[name].append(found)
                print(tracks, number, name, {k: round(v, 1) for k, v in found.items()},
                      flush=True)
    for made in ("virtuoso", "bulk", "kept-segments"):
        shutil.rmtree(folder / made, ignore_errors=True)
    return {"tracks": tracks, "publish_s": published, "runs": runs}


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def markdown(report: dict) -> str:
    lines = ["# A replica's start: its facet index built from Virtuoso", "",
             f"Measured on {report['machine']} shared with other jobs; script "
             "bench/replica_index.py (its docstring says how). Per server: median over "
             f"{report['rounds']} starts, {report.get('workers', 1)} worker process(es) each. "
             "`after`: this code; `restarted`: this code with `--segments`, a folder an "
             "earlier start filled; "
             f"`before`: {report['before_label']}. CPU: user + system seconds of the server's "
             "process tree from its start to its first `/search` answer (with several workers: "
             "until it and Virtuoso have gone quiet, `quiet s`), and Virtuoso's over the same "
             "time.", ""]
    for scale in report["scales"]:
        runs = scale["runs"]
        lines += [f"## {scale['tracks']:,} tracks", "",
                  f"Measured {scale['when']}; `uptime` before: {scale['uptime_before']}; "
                  f"after: {scale['uptime_after']}. Published in {scale['publish_s']:.0f} s.",
                  "", "| server | first `/search` s | quiet s | server CPU s | Virtuoso CPU s | "
                  "CPU s in all | peak MB |", "|---|---:|---:|---:|---:|---:|---:|"]
        for name, found in runs.items():
            total = [r["server_cpu_s"] + r["virtuoso_cpu_s"] for r in found]
            quiet_s = statistics.median(r.get("quiet_s", r["seconds"]) for r in found)
            lines.append(f"| {name} | {median(found, 'seconds'):.1f} | {quiet_s:.1f} | "
                         f"{median(found, 'server_cpu_s'):.1f} | "
                         f"{median(found, 'virtuoso_cpu_s'):.1f} | "
                         f"{statistics.median(total):.1f} | {median(found, 'peak_mb'):.0f} |")
        if "before" in runs:
            ratio = {key: median(runs["after"], key) / median(runs["before"], key)
                     for key in ("seconds", "server_cpu_s", "virtuoso_cpu_s")}
            lines += ["", f"after / before: first `/search` {ratio['seconds']:.2f}, server CPU "
                      f"{ratio['server_cpu_s']:.2f}, Virtuoso CPU {ratio['virtuoso_cpu_s']:.2f}."]
        lines += ["", "Every run (first `/search` s, server CPU s, Virtuoso CPU s):", ""]
        for name, found in runs.items():
            shown = "; ".join(f"{r['seconds']:.1f}, {r['server_cpu_s']:.1f}, "
                              f"{r['virtuoso_cpu_s']:.1f}" for r in found)
            lines.append(f"- {name}: {shown}")
        lines.append("")
    notes = report.get("notes", [])  # dated findings written beside the runs (kept)
    return "\n".join(lines + (["## Notes", "", *[line for note in notes for line in (note, "")]]
                              if notes else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="a source tree started as `before`")
    parser.add_argument("--before-label", default="the tree given by --before")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes per server (serve's default is 2)")
    parser.add_argument("--name", default="replica-index", help="the results' file name")
    args = parser.parse_args()
    path = RESULTS / f"{args.name}.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    kept = [s for s in report.get("scales", []) if s["tracks"] not in args.tracks]
    for tracks in args.tracks:
        before = uptime()
        scale = measure(tracks, args.rounds, args.before, args.workers)
        scale.update(uptime_before=before, uptime_after=uptime(),
                     when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        kept.append(scale)
        report = {"machine": f"{os.uname().machine}, {os.cpu_count()} cores",
                  "rounds": args.rounds, "before_label": args.before_label,
                  "workers": args.workers,
                  "notes": report.get("notes", []),
                  "scales": sorted(kept, key=lambda s: s["tracks"])}
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / f"{args.name}.md").write_text(markdown(report) + "\n")
    print(markdown(report))


if __name__ == "__main__":
    main()
