"""Presentation benchmark: what wording the findings for people costs next to validating.

For each size, one generated document of that many tracks (`generate_documents`, seed 2,
v1-current) with two systematic mistakes: every track lacks `file_url`, and `experiments` is
missing, so every track's `experiment_ref` dangles (2 findings per track). It is validated with
`Validator.document` (mapping, SHACL, pointers, presentation) `--repeat` times; each run also
times `presentation.present` alone (wrapped), so the report gives both medians and their ratio.
The output is checked: two groups of violations (one per mistake), the dangling references
under the missing `experiments`.

Usage: python bench/presentation.py [--sizes 1000 10000] [--repeat 3]
Writes bench/results/presentation.json and bench/results/presentation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def mistaken_document(tracks: int) -> dict:
    from fairtracks_ld.generate import generate_documents

    document = next(generate_documents(tracks, seed=2, tracks_per_document=tracks))
    for track in document["tracks"]:
        track.pop("file_url")
    del document["experiments"]
    return document


def run(sizes: list[int], repeat: int) -> list[dict]:
    from fairtracks_ld.validation import Validator, documents, presentation
    from fairtracks_ld.validation.findings import group

    validator = Validator()
    spent: list[tuple[float, float]] = []  # (wall, CPU) seconds
    original = presentation.present

    def timed(*args, **kwargs):
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append((time.perf_counter() - start, time.process_time() - cpu))

    documents.presentation.present = timed  # the module attribute documents.py calls
    rows = []
    try:
        for size in sizes:
            document = mistaken_document(size)
            totals, cpus, presenting, presenting_cpu = [], [], [], []
            for _ in range(repeat):
                spent.clear()
                start, cpu = time.perf_counter(), time.process_time()
                report = validator.document(document)
                totals.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu)
                presenting.append(sum(wall for wall, _ in spent))
                presenting_cpu.append(sum(used for _, used in spent))
            top = [f for f in report.findings if f.severity == "Violation"]
            kinds = [g for g in group(report.items()) if g.level == "violation"]
            assert [g.count for g in kinds] == [1, size], [(g.kind, g.count) for g in kinds]
            raw = len(report.report.results)
            caused = sum(len(f.consequences) for f in top)
            assert caused == size, caused
            total, present = statistics.median(totals), statistics.median(presenting)
            total_cpu, present_cpu = statistics.median(cpus), statistics.median(presenting_cpu)
            rows.append({"tracks": size, "shacl_results": raw, "top_level_violations": len(top),
                         "groups": len(kinds),
                         "validate_s": round(total, 3), "present_s": round(present, 4),
                         "validate_cpu_s": round(total_cpu, 3),
                         "present_cpu_s": round(present_cpu, 4),
                         "present_cpu_share": round(present_cpu / total_cpu, 4)})
            print(rows[-1], flush=True)
    finally:
        documents.presentation.present = original
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = run(args.sizes, args.repeat)
    load = os.getloadavg()
    meta = {"machine": platform.machine(), "cpus": os.cpu_count(), "python":
            platform.python_version(), "load_average": [round(x, 1) for x in load],
            "repeat": args.repeat}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "presentation.json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                          indent=1) + "\n")
    lines = ["# Presentation of findings vs validation (bench/presentation.py)", "",
             f"Medians of {args.repeat} runs; {meta['cpus']} CPUs shared with other jobs, load "
             f"average {meta['load_average'][0]} at the end. Each document: every track lacks "
             "file_url, and `experiments` is missing (every experiment_ref dangles).", "",
             "Wall-clock times include waiting for a CPU; CPU times (this process) do not.", "",
             "| tracks | SHACL results | top-level violations | groups | validate wall / CPU (s) "
             "| present wall / CPU (s) | present / validate (CPU) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['tracks']:,} | {r['shacl_results']:,} | {r['top_level_violations']:,} | "
              f"{r['groups']} | {r['validate_s']} / {r['validate_cpu_s']} | {r['present_s']} / "
              f"{r['present_cpu_s']} | {r['present_cpu_share']:.1%} |" for r in rows]
    (RESULTS / "presentation.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
