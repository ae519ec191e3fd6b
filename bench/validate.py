"""Validation benchmark: the Oxigraph SHACL engine vs pySHACL on the same shapes and data.

For each size, one generated document of that many tracks (`generate_documents`, seed 1,
v1-current, a few errors planted so that results are not empty) is mapped once into its data
graph (document + context facts), then:

- fairtracks-ld: `validate(dataset)` — the shipped shapes compiled to SPARQL inside Oxigraph —
  repeated, median reported; plus the mapping (JSON → RDF, context facts) and end to end;
- pySHACL (advanced mode, no inference) on the same shapes and the same data graph (as rdflib
  graph, parsing not timed), on a sample document (pySHACL is slow), reported as a rate and
  extrapolated to the full size; on the sample both engines run and their results (focus node,
  path, component, severity, value) must be identical.

With `--before DIR` (a checkout of the code before a change, e.g. a git worktree of main), each
size's data graph is also written to an N-Quads file and validated by both checkouts in fresh
processes, one after the other (`--rounds` times each, alternating, so that both see the same
machine load): CPU and wall medians side by side, and whether the results are identical.

Usage: python bench/validate.py [--sizes 10000 100000] [--repeat 3] [--pyshacl-sample 50]
                                [--before DIR [--rounds 2]]
Writes bench/results/validate.json and bench/results/validate.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyoxigraph as ox

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BASE = "http://localhost:8000/"


def planted_document(tracks: int) -> dict:
    """A generated document with a few broken rules (so both engines report something)."""
    from fairtracks_ld.generate import generate_documents

    document = next(generate_documents(tracks, seed=1, tracks_per_document=tracks))
    document["tracks"][0]["type_of_condensed_data"] = "Mystery peaks"  # enum
    del document["tracks"][-1]["label_long"]  # required
    document["tracks"][1]["label_short"] = "a label far longer than suggested"  # advice
    document["experiments"][0]["study_ref"] = "no-such-study"  # reference
    document["samples"][0]["species_id"] = "taxonomy:9606x"  # registry pattern
    return document


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - started, value


def cpu_timed(function, *args, **kwargs):
    """Wall and CPU seconds (this process, all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = function(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu, value


def measure(tracks: int, repeat: int) -> dict:
    from fairtracks_ld.mapping.prepare import prepare
    from fairtracks_ld.validation import Validator, validate
    from fairtracks_ld.validation.context import build_dataset

    validator = Validator()
    document = planted_document(tracks)
    map_seconds, prepared = timed(prepare, document, BASE)
    data_seconds, dataset = timed(build_dataset, prepared, validator.shapes, None,
                                  validator.ontologies)
    graph = [ox.NamedNode(dataset.graph)]
    runs, cpus, report = [], [], None
    for _ in range(repeat):
        seconds, cpu, report = cpu_timed(validate, dataset.store, validator.shapes, graph,
                                         scratch=True)
        runs.append(seconds)
        cpus.append(cpu)
    end_to_end, document_report = timed(validator.document, planted_document(tracks))
    assert report is not None
    return {
        "tracks": tracks,
        "triples": len(dataset.store),
        "results": len(report.results),
        "violations": len(report.violations),
        "validate_runs_s": [round(r, 3) for r in runs],
        "validate_median_s": round(statistics.median(runs), 3),
        "validate_cpu_median_s": round(statistics.median(cpus), 3),
        "load_at_start": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "tracks_per_s": round(tracks / statistics.median(runs)),
        "map_s": round(map_seconds, 3),
        "dataset_s": round(data_seconds, 3),
        "end_to_end_s": round(end_to_end, 3),
        "end_to_end_valid": document_report.valid,
    }


def measure_dump(path: str, graph: str, repeat: int) -> dict:
    """`validate` on a data graph read from N-Quads, with the checkout on `sys.path` (run in a
    fresh process by `side_by_side`): medians, and a digest of the results."""
    import hashlib

    from fairtracks_ld.validation import default_shapes, validate
    from fairtracks_ld.validation.crosscheck import engine_keys

    store = ox.Store()
    store.bulk_load(path=path, format=ox.RdfFormat.N_QUADS)
    shapes = default_shapes()
    validate(store, shapes, [ox.NamedNode(graph)], scratch=True)  # compiles the shapes
    runs = [cpu_timed(validate, store, shapes, [ox.NamedNode(graph)], scratch=True)
            for _ in range(repeat)]
    keys = "\n".join(sorted(map(repr, engine_keys(runs[-1][2], shapes))))
    return {"wall_s": round(statistics.median(r[0] for r in runs), 3),
            "cpu_s": round(statistics.median(r[1] for r in runs), 3),
            "results": len(runs[-1][2].results),
            "digest": hashlib.sha256(keys.encode()).hexdigest()[:16]}


def side_by_side(tracks: int, before: Path, repeat: int, rounds: int) -> dict:
    """The same data graph validated by the checkout in `before` and by this one, in fresh
    processes, alternating."""
    from fairtracks_ld.mapping.prepare import prepare
    from fairtracks_ld.validation import Validator
    from fairtracks_ld.validation.context import build_dataset

    validator = Validator()
    dataset = build_dataset(prepare(planted_document(tracks), BASE), validator.shapes, None,
                            validator.ontologies)
    found: dict[str, list[dict]] = {"before": [], "after": []}
    loads = [round(os.getloadavg()[0], 2)]
    graph = dataset.graph
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "data.nq")
        dataset.store.dump(path, format=ox.RdfFormat.N_QUADS)
        del dataset
        for _ in range(rounds):
            for name, source in (("before", before / "src"), ("after", HERE.parent / "src")):
                env = dict(os.environ, PYTHONPATH=str(source))
                done = subprocess.run(
                    [sys.executable, str(Path(__file__).resolve()), "--measure-dump", path,
                     graph, "--repeat", str(repeat)],
                    env=env, capture_output=True, text=True, check=True)
                found[name].append(json.loads(done.stdout.splitlines()[-1]))
                loads.append(round(os.getloadavg()[0], 2))
    return {"tracks": tracks, "rounds": rounds, "loads": loads, **{
        name: {"cpu_s": round(statistics.median(r["cpu_s"] for r in rows), 3),
               "wall_s": round(statistics.median(r["wall_s"] for r in rows), 3),
               "cpu_runs": [r["cpu_s"] for r in rows], "results": rows[-1]["results"]}
        for name, rows in found.items()},
        "identical_results": len({r["digest"] for rows in found.values() for r in rows}) == 1}


def pyshacl_sample(tracks: int, repeat: int) -> dict:
    from fairtracks_ld.mapping.prepare import prepare
    from fairtracks_ld.validation import Validator, validate
    from fairtracks_ld.validation.context import build_dataset
    from fairtracks_ld.validation.crosscheck import (
        engine_keys,
        load_shapes_graph,
        pyshacl_keys,
    )

    validator = Validator()
    prepared = prepare(planted_document(tracks), BASE)
    dataset = build_dataset(prepared, validator.shapes, None, validator.ontologies)
    graph = [ox.NamedNode(dataset.graph)]
    ours = []
    for _ in range(repeat):
        seconds, report = timed(validate, dataset.store, validator.shapes, graph, scratch=True)
        ours.append(seconds)
    shapes_graph = load_shapes_graph()
    ntriples = dataset.ntriples()
    seconds, (theirs, _) = timed(pyshacl_keys, ntriples, shapes_graph)
    same = Counter(engine_keys(report, validator.shapes)) == Counter(theirs)
    return {
        "tracks": tracks,
        "triples": len(dataset.store),
        "results": len(theirs),
        "pyshacl_s": round(seconds, 2),
        "pyshacl_tracks_per_s": round(tracks / seconds, 2),
        "ours_median_s": round(statistics.median(ours), 3),
        "ratio_on_sample": round(seconds / statistics.median(ours), 1),
        "identical_results": same,
    }


def render_markdown(result: dict) -> str:
    machine = result["machine"]
    lines = [
        "# Validation benchmark (`bench/validate.py`)",
        "",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, load average at start "
        f"{machine['load_at_start']}. One generated v1-current document per size, a few errors "
        f"planted; the shipped shapes ({result['shapes']} node shapes with targets, "
        f"{result['property_shapes']} property shapes). fairtracks-ld times are medians of "
        f"{result['repeat']} runs on the same data graph (the engine uses "
        f"{machine['cpus']} threads).",
        "",
        "| tracks | triples | results | fairtracks-ld validate s wall / CPU | tracks/s | "
        "pySHACL s (extrapolated) | ratio | map JSON→RDF s | end to end s | load average |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    sample = result["pyshacl_sample"]
    for row in result["sizes"]:
        extrapolated = row["tracks"] / sample["pyshacl_tracks_per_s"]
        ratio = extrapolated / row["validate_median_s"]
        lines.append(
            f"| {row['tracks']:,} | {row['triples']:,} | {row['results']} | "
            f"{row['validate_median_s']} / {row.get('validate_cpu_median_s', '?')} | "
            f"{row['tracks_per_s']:,} | {extrapolated:,.0f} | "
            f"{ratio:,.0f}x | {row['map_s'] + row['dataset_s']:.1f} | {row['end_to_end_s']} | "
            f"{row.get('load_at_start', '?')} |")
    lines += [
        "",
        f"pySHACL (advanced mode, no inference) on a {sample['tracks']}-track sample of the "
        f"same kind ({sample['triples']:,} triples): {sample['pyshacl_s']} s, "
        f"{sample['pyshacl_tracks_per_s']} tracks/s; fairtracks-ld on the same sample "
        f"{sample['ours_median_s']} s ({sample['ratio_on_sample']}x). Identical results "
        f"(focus node, path, component, severity, value, source shape): "
        f"**{sample['identical_results']}** "
        f"({sample['results']} results).",
        "",
        "Goal: 100k tracks validated in under 10 s and at least 50x faster than pySHACL.",
        "",
    ]
    if result.get("before"):
        lines += [
            f"Before and after a change (`--before {result['before']['checkout']}`): the same "
            "data graph (written to N-Quads) validated by both checkouts in fresh processes, "
            "alternating; per checkout the median over rounds of each process's median (CPU: the "
            "process, all threads; each round's medians in brackets).",
            "",
            "| tracks | rounds | before CPU s | after CPU s | CPU cut | before wall s | "
            "after wall s | identical results | load averages |",
            "|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for row in result["before"]["sizes"]:
            before, after = row["before"], row["after"]
            lines.append(
                f"| {row['tracks']:,} | {row['rounds']} | {before['cpu_s']} "
                f"({', '.join(map(str, before['cpu_runs']))}) | {after['cpu_s']} "
                f"({', '.join(map(str, after['cpu_runs']))}) | "
                f"{1 - after['cpu_s'] / before['cpu_s']:.0%} | {before['wall_s']} | "
                f"{after['wall_s']} | {row['identical_results']} ({after['results']}) | "
                f"{', '.join(map(str, row['loads']))} |")
        lines.append("")
    lines += [
        "\"map JSON→RDF\" is the project's mapping (JSON → N-Triples written straight from the "
        "published context, loaded by Oxigraph) plus the context facts; it is not part of "
        "SHACL validation and is the same work `load` does. \"end to end\" is "
        "`Validator.document(json)`: mapping, context, shapes and the report with JSON Pointers.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pyshacl-sample", type=int, default=50)
    parser.add_argument("--before", type=Path, help="a checkout of the code before a change")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measure-dump", nargs=2, metavar=("NQUADS", "GRAPH"),
                        help=argparse.SUPPRESS)  # the child process of --before
    args = parser.parse_args()
    if args.measure_dump:
        print(json.dumps(measure_dump(*args.measure_dump, args.repeat)))
        return
    from fairtracks_ld.validation import default_shapes

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_at_start": round(load, 2) if load is not None else None},
        "repeat": args.repeat,
        "shapes": len(default_shapes().shapes),
        "property_shapes": sum(len(shape.properties) for shape in default_shapes().shapes),
        "sizes": [],
    }
    for size in args.sizes:
        print(f"validating {size:,} tracks …", file=sys.stderr, flush=True)
        result["sizes"].append(measure(size, args.repeat))
        print(json.dumps(result["sizes"][-1]), file=sys.stderr, flush=True)
    if args.before:
        result["before"] = {"checkout": str(args.before), "sizes": []}
        for size in args.sizes:
            print(f"{size:,} tracks, before and after …", file=sys.stderr, flush=True)
            result["before"]["sizes"].append(side_by_side(size, args.before, args.repeat,
                                                          args.rounds))
            print(json.dumps(result["before"]["sizes"][-1]), file=sys.stderr, flush=True)
    print(f"pySHACL on {args.pyshacl_sample} tracks …", file=sys.stderr, flush=True)
    result["pyshacl_sample"] = pyshacl_sample(args.pyshacl_sample, args.repeat)
    print(json.dumps(result["pyshacl_sample"]), file=sys.stderr, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "validate.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "validate.md").write_text(render_markdown(result), encoding="utf-8")
    print(render_markdown(result))


if __name__ == "__main__":
    main()
