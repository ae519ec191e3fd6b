"""Ingest benchmark: fairtracks-ld end to end vs the pyld + rdflib path vs Oxigraph's ceiling.

For each corpus size, side by side in one run, each measurement in a fresh process (so peak RSS
is its own) and repeated; medians (wall and CPU seconds) and ratios are reported:

- fairtracks-ld: `load --bulk` end to end from the JSON files on disk (read, map, write the
  triples, validate, validation report and records, catalog), into an on-disk store;
- fairtracks-ld (before): the same with the sources of an earlier commit (`--before REF`,
  extracted with `git archive`), so a change is measured against what it replaced in one run;
- fairtracks-ld (no memo): with `--without-memo`, the same with `FAIRTRACKS_LD_MEMO=off`, as
  the first load of a machine: the ontology facts and CURIE prefixes are read from the bundle
  and the Bioregistry instead of the memo (`fairtracks_ld.memo`). The other fairtracks-ld runs
  use a memo folder of their own under bench/work, filled by one untimed load of the corpus
  first, as any earlier load of documents using the same terms fills it;
- bulk_extend ceiling (issue 14): exactly the same quads, read from an N-Quads file produced
  beforehand (not timed) and written with pyoxigraph's `Store.bulk_extend` in chunks of
  `CEILING_CHUNK` quads (the same memory bound as a load's chunks);
- pyld + rdflib: the same mapping to JSON-LD, then pyld expand/toRDF, rdflib parsing the N-Quads
  into a Dataset, and a transactional load into an on-disk Oxigraph store; pyld is slow, so it
  is measured on a generated corpus of `--pyld-sample` tracks (same generator and seed) and
  compared as a rate (quads/s).

Usage: python bench/ingest.py [--sizes 10000 100000] [--repeat 3] [--pyld-sample 10000]
Writes bench/results/ingest.json and bench/results/ingest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Measured: the loads themselves; the background compaction a big load starts (store/optimizer.py)
# would run beside what is measured next.
os.environ.setdefault("FAIRTRACKS_LD_OPTIMIZE_SHARE", "0")
WORK = HERE / "work"
RESULTS = HERE / "results"
BASE = "http://localhost:8000/"
BEFORE = "fairtracks-ld (before)"
NO_MEMO = "fairtracks-ld (no memo)"
TRACKS_PER_DOCUMENT = 20_000
MEMO_ENV = "FAIRTRACKS_LD_MEMO"  # fairtracks_ld.memo.MEMO_ENV (not imported: --before)
CEILING_CHUNK = 500_000  # quads per bulk_extend: about one mapping chunk (~10k tracks)


def corpus(size: int) -> Path:
    """Generate (once) a corpus of `size` tracks."""
    from fairtracks_ld.generate import write_corpus

    folder = WORK / f"corpus-{size}"
    marker = folder / ".complete"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        write_corpus(folder, tracks=size, seed=1, tracks_per_document=TRACKS_PER_DOCUMENT)
        marker.touch()
    return folder


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def files_of(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


# ---- measured runs (each in its own process) ---------------------------------------------------


def run_fairtracks(files: list[Path], store_dir: Path) -> dict:
    from fairtracks_ld.load import load_sources
    from fairtracks_ld.mapping import curies
    from fairtracks_ld.store import TrackStore

    curies.resolve("geo:GSE1")  # registry start-up is a one-off cost, not ingest
    store = TrackStore(store_dir, base=BASE)
    start = time.perf_counter()
    report = load_sources(store, [str(p) for p in files], bulk=True)
    seconds = time.perf_counter() - start
    assert report.ok, report.failed
    return {"seconds": seconds, "quads": len(store.ox)}


def run_ceiling(nquads: Path, store_dir: Path) -> dict:
    import itertools

    import pyoxigraph as ox

    store = ox.Store(str(store_dir))
    start = time.perf_counter()
    quads = ox.parse(path=str(nquads), format=ox.RdfFormat.N_QUADS)
    while chunk := list(itertools.islice(quads, CEILING_CHUNK)):
        store.bulk_extend(chunk)
    store.flush()
    return {"seconds": time.perf_counter() - start, "quads": len(store)}


def run_pyld(files: list[Path], store_dir: Path) -> dict:
    import pyoxigraph as ox
    from pyld import jsonld
    from rdflib import Dataset

    from fairtracks_ld.mapping import curies
    from fairtracks_ld.mapping.prepare import prepare
    from fairtracks_ld.sources import read_source

    curies.resolve("geo:GSE1")
    store = ox.Store(str(store_dir))
    start = time.perf_counter()
    tracks = 0
    for path in files:
        prepared = prepare(read_source(str(path)), BASE)
        tracks += len(prepared.node["tracks"])
        nquads = jsonld.to_rdf(prepared.jsonld(), {"format": "application/n-quads"})
        dataset = Dataset()
        dataset.parse(data=nquads, format="nquads")
        store.load(dataset.serialize(format="nquads"), format=ox.RdfFormat.N_QUADS)
    store.flush()
    return {"seconds": time.perf_counter() - start, "quads": len(store), "tracks": tracks}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM): getrusage's ru_maxrss is kept across fork and exec,
    so a child of a parent that had grown (ceiling_input loads the corpus in this parent) would
    report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(kind: str, target: str, store_dir: str) -> None:
    """Entry point of a measured process: prints one JSON line with its own peak RSS and CPU
    seconds (all threads; the measured part's start-up included)."""
    if kind.startswith("fairtracks-ld"):
        result = run_fairtracks(files_of(Path(target)), Path(store_dir))
    elif kind == "ceiling":
        result = run_ceiling(Path(target), Path(store_dir))
    else:
        result = run_pyld(files_of(Path(target)), Path(store_dir))
    result["peak_rss_mb"] = peak_rss_mb()
    result["cpu_seconds"] = cpu_seconds()
    print(json.dumps(result))


def measure(kind: str, target: str, sources: Path | None = None) -> dict:
    """One run in a fresh process (with the package from `sources` when given)."""
    store_dir = WORK / f"store-{kind.split()[0]}"
    shutil.rmtree(store_dir, ignore_errors=True)
    env = dict(os.environ)
    env[MEMO_ENV] = "off" if kind == NO_MEMO else str(WORK / "memo")
    if sources is not None:
        env["PYTHONPATH"] = str(sources)
    output = subprocess.run(
        [sys.executable, __file__, "--child", kind, target, str(store_dir)],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    shutil.rmtree(store_dir, ignore_errors=True)
    return json.loads(output.strip().splitlines()[-1])


def ceiling_input(folder: Path) -> Path:
    """Exactly the quads fairtracks-ld stores for a corpus, as an N-Quads file."""
    import pyoxigraph as ox

    from fairtracks_ld.load import load_sources
    from fairtracks_ld.store import TrackStore

    nquads = folder.with_suffix(".nq")
    if not nquads.exists():
        store_dir = WORK / "store-reference"
        shutil.rmtree(store_dir, ignore_errors=True)
        store = TrackStore(store_dir, base=BASE)
        load_sources(store, [str(p) for p in files_of(folder)], bulk=True)
        partial = nquads.with_suffix(".partial")
        with partial.open("wb") as out:
            store.ox.dump(out, format=ox.RdfFormat.N_QUADS)
        partial.rename(nquads)  # an interrupted run never leaves a truncated ceiling input
        del store
        shutil.rmtree(store_dir, ignore_errors=True)
    return nquads


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def sources_of(ref: str) -> Path:
    """The package sources (src/) of a commit, extracted once."""
    folder = WORK / f"before-{ref}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", ref],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        (folder / ".complete").touch()
    return folder / "src"


def bench(sizes: list[int], repeat: int, pyld_sample: int, before: str | None = None,
          without_memo: bool = False) -> dict:
    results = {
        "machine": {"cpus": shutil.os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "repeat": repeat,
        "note": "pyld+rdflib is measured on a separate generated corpus of pyld_sample_tracks "
                "tracks and compared per quad; its per-quad cost grows with document size, so "
                "a small sample flatters it.",
        "ceiling": f"bulk_extend in chunks of {CEILING_CHUNK}",
        "uptime_at_start": uptime(),
        "before": before,
        "memo": "filled by one untimed load of the corpus before the timed runs",
        "sizes": [],
    }
    earlier = sources_of(before) if before else None
    for size in sizes:
        started = uptime()
        folder = corpus(size)
        nquads = ceiling_input(folder)
        sample = min(size, pyld_sample)
        sample_folder = corpus(sample) if pyld_sample else folder
        runs: dict[str, list[dict]] = {"fairtracks-ld": [], "ceiling": []}
        if earlier is not None:
            runs[BEFORE] = []
        if without_memo:
            runs[NO_MEMO] = []
        measure("fairtracks-ld", str(folder))  # untimed: fills the memo
        if pyld_sample:
            runs["pyld+rdflib"] = []
        for _ in range(repeat):  # interleaved, so drifting machine load hits every contender
            runs["fairtracks-ld"].append(measure("fairtracks-ld", str(folder)))
            runs["ceiling"].append(measure("ceiling", str(nquads)))
            if earlier is not None:
                runs[BEFORE].append(measure(BEFORE, str(folder), earlier))
            if without_memo:
                runs[NO_MEMO].append(measure(NO_MEMO, str(folder)))
            if pyld_sample:
                runs["pyld+rdflib"].append(measure("pyld+rdflib", str(sample_folder)))
        quads = runs["fairtracks-ld"][0]["quads"]
        entry = {"tracks": size, "quads": quads, "pyld_sample_tracks": sample, "contenders": {},
                 "before": before, "uptime": [started, uptime()]}
        for kind, measured in runs.items():
            seconds = median_of(measured, "seconds")
            tracks = measured[0].get("tracks", size)
            entry["contenders"][kind] = {
                "median_seconds": round(seconds, 3),
                "all_seconds": [round(r["seconds"], 3) for r in measured],
                "median_cpu_seconds": round(median_of(measured, "cpu_seconds"), 3),
                "tracks_per_second": round(tracks / seconds),
                "quads_per_second": round(measured[0]["quads"] / seconds),
                "peak_rss_mb": round(median_of(measured, "peak_rss_mb")),
            }
        contenders = entry["contenders"]
        fast = contenders["fairtracks-ld"]["quads_per_second"]
        entry["ratio_vs_ceiling"] = round(fast / contenders["ceiling"]["quads_per_second"], 3)
        if "pyld+rdflib" in contenders:
            entry["ratio_vs_pyld"] = round(
                fast / contenders["pyld+rdflib"]["quads_per_second"], 2)
        if BEFORE in contenders:
            entry["ratio_vs_before"] = round(fast / contenders[BEFORE]["quads_per_second"], 3)
            entry["cpu_ratio_vs_before"] = round(
                contenders[BEFORE]["median_cpu_seconds"]
                / contenders["fairtracks-ld"]["median_cpu_seconds"], 3)
        results["sizes"].append(entry)
        results["uptime_at_end"] = uptime()
        print(json.dumps(entry, indent=2), flush=True)
        save(results)  # after every size: a long run keeps what it measured
    return results


def save(results: dict) -> None:
    """Merge into bench/results (sizes measured earlier with the same ceiling and not re-run
    are kept)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "ingest.json"
    if path.exists():
        earlier = json.loads(path.read_text())
        fresh = {entry["tracks"] for entry in results["sizes"]}
        same = earlier.get("ceiling") == results.get("ceiling")  # else not comparable
        kept = [e for e in earlier.get("sizes", []) if e["tracks"] not in fresh and same]
        results = {"notes": earlier.get("notes", []), **results,
                   "sizes": sorted(kept + results["sizes"], key=lambda e: e["tracks"])}
    path.write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "ingest.md").write_text(markdown(results))


def markdown(results: dict) -> str:
    lines = [
        "# Ingest benchmark (`bench/ingest.py`)",
        "",
        f"Machine: {results['machine']['cpus']} CPUs, Python {results['machine']['python']}, "
        "shared with other work: `uptime` at start "
        f"`{results.get('uptime_at_start', '?')}`, at end `{results.get('uptime_at_end', '?')}`. "
        "Medians of interleaved runs (count per row), each in a fresh process; CPU seconds are "
        "the process's own (all threads). The ceiling is Oxigraph's `bulk_extend` of the same "
        f"quads in chunks of {CEILING_CHUNK:,} (read from N-Quads).",
        "",
        results.get("note", ""),
        "",
        "| tracks | quads | contender | runs | median s | CPU s | tracks/s | quads/s "
        "| peak RSS MB |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in results["sizes"]:
        for kind, c in entry["contenders"].items():
            note = f" (sample of {entry['pyld_sample_tracks']})" if kind == "pyld+rdflib" else ""
            if kind == BEFORE:
                note = f" ({entry.get('before', results.get('before'))})"
            lines.append(
                f"| {entry['tracks']:,} | {entry['quads']:,} | {kind}{note} | "
                f"{len(c['all_seconds'])} | {c['median_seconds']} | "
                f"{c.get('median_cpu_seconds', '-')} | {c['tracks_per_second']:,} | "
                f"{c['quads_per_second']:,} | {c['peak_rss_mb']} |"
            )
    lines += ["", "| tracks | fairtracks-ld / bulk_extend ceiling | fairtracks-ld / before "
              "(wall) | before ÷ now (CPU s) | fairtracks-ld / pyld+rdflib |",
              "|---:|---:|---:|---:|---:|"]
    for entry in results["sizes"]:
        before = entry.get("ratio_vs_before")
        cpu = entry.get("cpu_ratio_vs_before")
        pyld = entry.get("ratio_vs_pyld")
        lines.append(f"| {entry['tracks']:,} | {entry['ratio_vs_ceiling']:.0%} | "
                     f"{'-' if before is None else f'{before:.2f}x'} | "
                     f"{'-' if cpu is None else f'{cpu:.2f}x'} | "
                     f"{'-' if pyld is None else f'{pyld}x'} |")
    measured = [e for e in results["sizes"] if e.get("uptime")]
    if measured:  # sizes kept from earlier runs were measured at other times
        lines += ["", *(f"- {e['tracks']:,} tracks: `uptime` at start `{e['uptime'][0]}`, "
                        f"at end `{e['uptime'][1]}`" for e in measured)]
    lines += ["", "Goal (issue 14): load with validation at least 70% of the ceiling."]
    if results.get("notes"):
        lines += ["", "## Notes", "", *(f"- {note}" for note in results["notes"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pyld-sample", type=int, default=10_000,
                        help="tracks of the pyld+rdflib sample (0: leave it out)")
    parser.add_argument("--before", metavar="REF",
                        help="also measure the sources of this commit, side by side")
    parser.add_argument("--without-memo", action="store_true",
                        help="also measure loads without the memo (FAIRTRACKS_LD_MEMO=off)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "TARGET", "STORE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    WORK.mkdir(parents=True, exist_ok=True)
    bench(args.sizes, args.repeat, args.pyld_sample, args.before, args.without_memo)
    print((RESULTS / "ingest.md").read_text())


if __name__ == "__main__":
    main()
