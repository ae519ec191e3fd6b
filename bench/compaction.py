"""Compaction benchmark: what a load costs and how fast the store it publishes reads, with and
without waiting for RocksDB's compactions before the snapshot (fairtracks_ld/store/compaction.py),
against a full `fairtracks-ld optimize` afterwards.

For each size, a generated corpus (`generate --tracks N --seed 1`) is loaded as bench/endpoint.py
loads it (`load --bulk CORPUS`, then `ontologies load`) into a fresh store, twice, each command
in a fresh process (wall seconds, and CPU seconds of all its threads from the kernel's rusage):

- `settle`: the default, FAIRTRACKS_LD_MERGE_WAIT_BYTES unset (64 MB);
- `no wait`: FAIRTRACKS_LD_MERGE_WAIT_BYTES=10^15, the snapshot taken as the load closes the store
  (what `load` did before compaction.py); then `optimize` on that store (a full RocksDB
  compaction of every index, published), timed the same way.

Read cost of each published snapshot, measured in a fresh process (`--probe`), the snapshot
opened read-only as servers open it: CPU milliseconds per query (the process's own CPU time,
steadier than wall time on a shared machine), median of 5 rounds over bench/endpoint.py's query
kinds: 200 label lookups, 200 DESCRIBE of a track serialised as Turtle, 20 ancestor searches and
20 facet counts (the same queries as endpoint.py, ancestor predicates rewritten as it does).

Usage: python bench/compaction.py [--tracks 10000 20000]
Writes bench/results/compaction.json and bench/results/compaction.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "compaction"
RESULTS = HERE / "results"
BASE = "http://127.0.0.1:8000/"
NEVER = str(10**15)
MODES = {"settle": {}, "no wait": {"FAIRTRACKS_LD_MERGE_WAIT_BYTES": NEVER}}
KINDS = ("lookup by label", "describe track", "ancestor search", "facet counts")


def timed(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run a command in a fresh process: wall and CPU seconds (all threads, from rusage)."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if status != 0:
        raise RuntimeError(f"{args} failed: {stderr[-2000:]}")
    return {"wall_s": round(time.perf_counter() - started, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1)}


def fairtracks(store: Path, *args: str | Path) -> list[str]:
    return [sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), "--base-iri", BASE,
            *map(str, args)]


def corpus(tracks: int) -> Path:
    folder = WORK / f"corpus-{tracks}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(fairtracks(WORK / "unused", "generate", "--tracks", str(tracks), "--seed",
                                  "1", "--out", folder), check=True, stdout=subprocess.DEVNULL)
        (folder / ".complete").touch()
    return folder


def snapshot_facts(store: Path) -> dict:
    from fairtracks_ld.store import compaction
    from fairtracks_ld.store.snapshots import current_snapshot

    snapshot = current_snapshot(store)
    assert snapshot is not None
    return {"table_files": len(compaction.table_files(snapshot)),
            "table_bytes": sum((snapshot / n).stat().st_size
                               for n in compaction.table_files(snapshot)),
            "settle": compaction.record(snapshot)}


def probe(store: Path) -> dict[str, float]:
    """Read cost of the published snapshot, in a fresh process (see `--probe`)."""
    from fairtracks_ld.store.snapshots import current_snapshot

    out = subprocess.run([sys.executable, __file__, "--probe", str(current_snapshot(store))],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def read_cost(snapshot: str, rounds: int = 5) -> dict[str, float]:
    """CPU ms per query of each kind, median of `rounds` passes (run by `--probe`)."""
    import pyoxigraph as ox
    from endpoint import explicit, literal

    store = ox.Store.read_only(snapshot)

    def select(text: str) -> list:
        return list(store.query(explicit(text)))

    rng = random.Random(1)
    tracks = [(r["t"].value, r["l"].value)
              for r in select("SELECT ?t ?l WHERE { ?t a ft:Track ; ft:label_short ?l }")]
    sample = rng.sample(tracks, 200)
    counts = select("SELECT ?c (COUNT(?t) AS ?n) WHERE { ?t ft:cell_type_ancestor ?c } "
                    "GROUP BY ?c")
    terms = sorted(r["c"].value for r in counts
                   if len(tracks) // 200 <= int(r["n"].value) <= len(tracks) // 10)
    terms = rng.sample(terms, min(20, len(terms)))
    queries = {
        "lookup by label": [f"SELECT ?track WHERE {{ ?track ft:label_short {literal(label)} }}"
                            for _, label in sample],
        "describe track": [f"DESCRIBE <{track}>" for track, _ in sample],
        "ancestor search": [
            f"SELECT ?track ?label WHERE {{ ?track ft:cell_type_ancestor <{c}> ; "
            "ft:label_short ?label } ORDER BY ?label LIMIT 50" for c in terms],
        "facet counts": [
            f"SELECT ?value (COUNT(DISTINCT ?track) AS ?tracks) WHERE {{ ?track "
            f"ft:cell_type_ancestor <{c}> ; ft:technique_ancestor ?value }} GROUP BY ?value "
            "ORDER BY DESC(?tracks)" for c in terms],
    }
    cost = {}
    for kind, texts in queries.items():
        texts = [explicit(t) for t in texts]
        passes = []
        for _ in range(rounds):
            started = time.process_time()
            for text in texts:
                answer = store.query(text)
                if kind == "describe track":
                    ox.serialize(answer, format=ox.RdfFormat.TURTLE)
                else:
                    list(answer)
            passes.append((time.process_time() - started) / len(texts) * 1000)
        cost[kind] = round(statistics.median(passes), 3)
    return cost


def measure(tracks: int) -> dict:
    source = corpus(tracks)
    result: dict = {}
    for mode, env in MODES.items():
        store = WORK / f"store-{tracks}" / "store"
        shutil.rmtree(store.parent, ignore_errors=True)
        print(f"{tracks}: {mode}: load…", flush=True)
        row = {"load": timed(fairtracks(store, "load", "--bulk", source), env),
               "ontologies load": timed(fairtracks(store, "ontologies", "load"), env)}
        row["total"] = {k: round(row["load"][k] + row["ontologies load"][k], 1)
                        for k in ("wall_s", "cpu_s")}
        row["snapshot"] = snapshot_facts(store)
        row["read_cpu_ms"] = probe(store)
        result[mode] = row
        if mode == "no wait":
            print(f"{tracks}: optimize…", flush=True)
            optimized = {"optimize": timed(fairtracks(store, "optimize"), env)}
            optimized["snapshot"] = snapshot_facts(store)
            optimized["read_cpu_ms"] = probe(store)
            result["no wait, then optimize"] = optimized
        shutil.rmtree(store.parent, ignore_errors=True)
    return result


def report_md(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Compaction benchmark (`bench/compaction.py`)", "",
        f"Machine: {m['cpus']} CPUs shared with other work, Python {m['python']}; `uptime` at "
        f"start `{m['uptime_start']}`, at end `{m['uptime_end']}`. One run per row, each "
        "command in a fresh process. Load = `load --bulk CORPUS` + `ontologies load` (as "
        "bench/endpoint.py prepares its store). Read cost: CPU ms per query on the published "
        "snapshot, median of 5 passes (see the script's docstring).", "",
        "| tracks | store as published by | load wall s | load CPU s | then optimize wall / CPU s "
        "| table files | " + " | ".join(f"{k} ms" for k in KINDS) + " |",
        "|---:|---|---:|---:|---:|---:|" + "---:|" * len(KINDS),
    ]
    for tracks, result in report["results"].items():
        for mode, row in result.items():
            total = row.get("total", {})
            opt = row.get("optimize")
            optimized = f"{opt['wall_s']} / {opt['cpu_s']}" if opt else ""
            lines.append(
                f"| {int(tracks):,} | {mode} | {total.get('wall_s', '')} "
                f"| {total.get('cpu_s', '')} | {optimized} | {row['snapshot']['table_files']} | "
                + " | ".join(str(row["read_cpu_ms"][k]) for k in KINDS) + " |")
    lines += ["", "The wait before the last snapshot (after `ontologies load`), as the snapshot "
              "records it:", ""]
    for tracks, result in report["results"].items():
        lines.append(f"- {int(tracks):,} tracks: "
                     f"{json.dumps(result['settle']['snapshot']['settle'])}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, nargs="+", default=[10_000, 20_000])
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # internal: read cost of a snapshot
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(read_cost(args.probe)))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    uptime_start = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    results = {str(t): measure(t) for t in args.tracks}
    report = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "uptime_start": uptime_start,
                    "uptime_end": subprocess.run(["uptime"], capture_output=True,
                                                 text=True).stdout.strip()},
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compaction.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "compaction.md").write_text(report_md(report))
    print(report_md(report))


if __name__ == "__main__":
    main()
