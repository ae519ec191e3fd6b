"""What making Ensembl releases collections costs the search index and the release page.

1. Segment reading (search/reader.py): the `collection` field now follows two paths, the
   FAIRtracks one through the study and an Ensembl track's own `ft:collection_ref`. Timed on a
   generated FAIRtracks corpus (`fairtracks-ld generate --tracks N --seed 3`, `load --bulk`,
   cached under bench/work/ensembl-release/) and on N Ensembl tracks of one release (the
   example track varied, loaded as N documents): every current graph's segment read with the
   field's former single path and with both paths, alternately.
2. A release page's genomes (web/members.genomes): species and assembly pairs of a million tracks
   from the index's combination columns (30 species, 40 assembly combinations): the counting
   pass it uses against `np.unique(axis=0)` on the stacked columns (its first version).

Reported: medians of `--repeat` runs, ratios, `uptime` before and after.
Usage: python bench/ensembl_release.py [--tracks 5000] [--ensembl 300] [--repeat 5]
Writes bench/results/ensembl-release.json and bench/results/ensembl-release.md.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from fairtracks_ld.ensembl_model import example_documents
from fairtracks_ld.search import fields, reader
from fairtracks_ld.store import TrackStore
from fairtracks_ld.web.members import genomes

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work" / "ensembl-release"
RESULTS = ROOT / "results"


def cli(store: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "fairtracks_ld.cli", "--store", str(store), *args],
                   check=True, capture_output=True, timeout=3600)


def fairtracks_store(tracks: int) -> Path:
    store = WORK / f"fairtracks-{tracks}" / "store"
    if not store.exists():
        corpus = store.parent / "corpus"
        cli(store, "generate", "--tracks", str(tracks), "--seed", "3", "--out", str(corpus))
        cli(store, "load", "--bulk", str(corpus))
    return store


def ensembl_store(tracks: int) -> Path:
    store = WORK / f"ensembl-{tracks}" / "store"
    if not store.exists():
        folder = store.parent / "tracks"
        folder.mkdir(parents=True, exist_ok=True)
        example = json.loads(example_documents()["uri"].read_text(encoding="utf-8"))
        for number in range(tracks):
            track = copy.deepcopy(example)
            track["short_name"] = f"Track {number:05d}"
            (folder / f"{number:05d}.json").write_text(json.dumps(track), encoding="utf-8")
        cli(store, "load", "--bulk", str(folder))
    return store


def segment_seconds(store_path: Path, repeat: int) -> dict[str, float]:
    """Median seconds to read every current graph's segment, former path vs both paths."""
    store = TrackStore(store_path)
    graphs = [v.graph for v in store.versions() if v.current]
    both = reader.FIELDS
    former = tuple(dataclasses.replace(f, paths=((*fields.TO_STUDY, "collection_ref"),))
                   if f.name == "collection" else f for f in both)
    times: dict[str, list[float]] = {"former": [], "both": []}
    try:
        for _ in range(repeat):
            for name, chosen in (("former", former), ("both", both)):
                reader.FIELDS = chosen
                start = time.perf_counter()
                for graph in graphs:
                    reader.read_segment(store.ox, graph)
                times[name].append(time.perf_counter() - start)
    finally:
        reader.FIELDS = both
    return {name: statistics.median(found) for name, found in times.items()}


def genome_seconds(repeat: int, tracks: int = 1_000_000) -> dict[str, float]:
    rng = np.random.default_rng(1)

    def facet(values: int, name: str) -> SimpleNamespace:
        return SimpleNamespace(column=rng.integers(0, values, tracks).astype(np.int32),
                               starts=np.arange(values + 1), members=np.arange(values),
                               keys=[f"{name} {i}" for i in range(values)])

    index = SimpleNamespace(fields={"species": facet(30, "species"),
                                    "assembly": facet(40, "assembly")}, label=lambda k: k)
    positions = np.arange(tracks)
    counting, stacked = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        genomes(index, positions)
        counting.append(time.perf_counter() - start)
        start = time.perf_counter()
        np.unique(np.stack((index.fields["species"].column, index.fields["assembly"].column),
                           axis=1), axis=0, return_counts=True)
        stacked.append(time.perf_counter() - start)
    return {"counting": statistics.median(counting), "unique_axis0": statistics.median(stacked)}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracks", type=int, default=5000)
    parser.add_argument("--ensembl", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    before = uptime()
    result = {
        "fairtracks_segments": segment_seconds(fairtracks_store(args.tracks), args.repeat),
        "ensembl_segments": segment_seconds(ensembl_store(args.ensembl), args.repeat),
        "genomes_1m": genome_seconds(args.repeat),
        "tracks": args.tracks, "ensembl_tracks": args.ensembl, "repeat": args.repeat,
        "uptime_before": before, "uptime_after": uptime(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ensembl-release.json").write_text(json.dumps(result, indent=1) + "\n")
    ft, en, ge = (result["fairtracks_segments"], result["ensembl_segments"],
                  result["genomes_1m"])
    lines = [
        "# Ensembl releases as collections: cost (bench/ensembl_release.py)", "",
        f"Load: before `{before}`; after `{result['uptime_after']}`. Medians of {args.repeat}.",
        "", "| measurement | former | now | now / former |", "|---|---|---|---|",
        f"| segments of {args.tracks:,} FAIRtracks tracks (collection: study path → both paths) "
        f"| {ft['former']:.3f} s | {ft['both']:.3f} s | {ft['both'] / ft['former']:.2f} |",
        f"| segments of {args.ensembl:,} Ensembl track graphs (same) | {en['former']:.3f} s "
        f"| {en['both']:.3f} s | {en['both'] / en['former']:.2f} |",
        f"| genomes of 1,000,000 tracks (np.unique(axis=0) → counting pass) "
        f"| {ge['unique_axis0']:.3f} s | {ge['counting']:.3f} s "
        f"| {ge['counting'] / ge['unique_axis0']:.3f} |", "",
        "Each round reads the former paths first, then both: a ratio near or below 1 means the "
        "second path costs nothing measurable (its property map is the first path's, scanned "
        "once per graph).", ""]
    (RESULTS / "ensembl-release.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
