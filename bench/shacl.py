"""General SHACL benchmark: `fairtracks_ld.validation.shacl` vs pySHACL on generated data.

Generated people, organisations and addresses (seeded, about 13 triples a person, ~4 % of them
broken in some way) against shapes using most SHACL Core components: targets by class and by
subjects-of; datatype, nodeKind, class, in, hasValue, pattern, min/maxLength, min/maxCount,
min/max Inclusive/Exclusive, languageIn, uniqueLang, equals, disjoint, lessThan, closed with
ignoredProperties, node, not, and, or, xone, qualifiedValueShape and a nested sh:property.

- parsing timed apart for both (`ox.parse` to quads / rdflib `Graph.parse`);
- fairtracks-ld: `validate_rdf(quads, shapes)` (store building and literal checks included)
  and `validate(store, shapes)` on a store built beforehand, medians of `--repeat` runs;
- pySHACL (no inference, SHACL-AF on) on the parsed rdflib graph, once, in the same process
  right after; the result multisets (focus node, path, component, severity, value, source
  shape) of all three runs must be equal; CPU time is the process's (all threads), with the
  load average at the start, before pySHACL and at the end;
- `--big N`: fairtracks-ld alone on N people (N-Triples file bulk-loaded into an in-memory
  Oxigraph store, then `validate(store)`), load and validation timed apart, peak RSS; each
  size is kept in the results file (run one size per process: the RSS is the process's peak).

Usage: python bench/shacl.py [--people 15000] [--repeat 3] [--big 770000 [--big-only]]
Writes bench/results/shacl.json and bench/results/shacl.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyoxigraph as ox

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"

SHAPES = """@prefix ex: <http://example.org/> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .

ex:PersonShape a sh:NodeShape ; sh:targetClass ex:Person ;
  sh:closed true ; sh:ignoredProperties ( rdf:type ) ;
  sh:property [ sh:path ex:name ; sh:minCount 1 ; sh:maxCount 1 ; sh:datatype xsd:string ;
      sh:minLength 2 ; sh:maxLength 24 ; sh:pattern "^[A-Z]" ] ,
    [ sh:path ex:age ; sh:maxCount 1 ; sh:datatype xsd:integer ; sh:minInclusive 0 ;
      sh:maxExclusive 120 ] ,
    [ sh:path ex:label ; sh:uniqueLang true ; sh:languageIn ( "en" "de" "nb" ) ] ,
    [ sh:path ex:email ; sh:nodeKind sh:Literal ; sh:pattern "^[^@ ]+@[^@ ]+$" ;
      sh:equals ex:mail ] ,
    [ sh:path ex:mail ] ,
    [ sh:path ex:knows ; sh:class ex:Person ; sh:nodeKind sh:IRI ; sh:disjoint ex:blocks ;
      sh:qualifiedValueShape [ sh:path ex:age ; sh:minInclusive 3 ] ;
      sh:qualifiedMinCount 1 ] ,
    [ sh:path ex:blocks ; sh:maxCount 2 ] ,
    [ sh:path ex:start ; sh:datatype xsd:date ; sh:lessThan ex:end ] ,
    [ sh:path ex:end ; sh:minExclusive "1900-01-01"^^xsd:date ] ,
    [ sh:path ex:status ; sh:in ( "active" "retired" "student" ) ] ,
    [ sh:path ex:address ; sh:maxCount 1 ; sh:node ex:AddressShape ;
      sh:property [ sh:path ex:city ; sh:maxLength 20 ] ] .

ex:AddressShape a sh:NodeShape ;
  sh:property [ sh:path ex:city ; sh:minCount 1 ; sh:datatype xsd:string ] ;
  sh:or ( [ sh:path ex:zip ; sh:minCount 1 ] [ sh:path ex:country ; sh:hasValue "NO" ] ) .

ex:OrgShape a sh:NodeShape ; sh:targetSubjectsOf ex:employs ;
  sh:xone ( [ sh:path ex:orgType ; sh:hasValue ex:Company ]
            [ sh:path ex:orgType ; sh:hasValue ex:Charity ] ) ;
  sh:not [ sh:path ex:employs ; sh:maxCount 0 ] ;
  sh:and ( [ sh:path ex:employs ; sh:class ex:Person ] [ sh:path ex:orgName ; sh:minCount 1 ] ) .
"""


def _s(value: str) -> str:
    return json.dumps(value, ensure_ascii=True)


def people(count: int, seed: int = 1):
    """N-Triples lines of `count` people (and an organisation per 50 people)."""
    rng = random.Random(seed)
    names = ["Ada", "Bo", "Cleo", "Dag", "Eli", "Frida", "Gus", "Hanna", "Ivo", "Juno"]
    for i in range(count):
        me = f"<{EX}p{i}>"
        broken = rng.random() < 0.04
        kind = rng.randrange(12) if broken else -1
        name = f"{rng.choice(names)} {i}"
        yield f"{me} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{EX}Person> ."
        yield f"{me} <{EX}name> {_s(name.lower() if kind == 0 else name)} ."
        age = 150 if kind == 1 else rng.randrange(1, 99)
        yield f'{me} <{EX}age> "{age}"^^<{XSD}integer> .'
        yield f"{me} <{EX}label> {_s(name)}@en ."
        if kind == 2:
            yield f"{me} <{EX}label> {_s(name + ' II')}@en ."
        mail = f"p{i}@example.org"
        yield f"{me} <{EX}email> {_s(mail)} ."
        yield f"{me} <{EX}mail> {_s('x' + mail if kind == 3 else mail)} ."
        friend = f"<{EX}p{(i + 1) % count}>"
        yield f"{me} <{EX}knows> {friend} ."
        if kind == 4:
            yield f"{me} <{EX}blocks> {friend} ."
        start, end = rng.randrange(1950, 2000), rng.randrange(2000, 2020)
        if kind == 5:
            start, end = end, start
        yield f'{me} <{EX}start> "{start}-01-01"^^<{XSD}date> .'
        yield f'{me} <{EX}end> "{end}-06-30"^^<{XSD}date> .'
        status = "unknown" if kind == 6 else rng.choice(["active", "retired", "student"])
        yield f"{me} <{EX}status> {_s(status)} ."
        address = f"_:a{i}"
        yield f"{me} <{EX}address> {address} ."
        yield f"{address} <{EX}city> {_s('Trondheim-by-the-fjord-side' if kind == 7 else 'Oslo')} ."
        if kind != 8:
            yield f"{address} <{EX}zip> \"0{i % 1000:03d}\" ."
        if kind == 9:
            yield f"{me} <{EX}nickname> \"nick\" ."
        if i % 50 == 0:
            org = f"<{EX}org{i}>"
            yield f"{org} <{EX}employs> {me} ."
            yield f"{org} <{EX}orgType> <{EX}{'Charity' if kind == 10 else 'Company'}> ."
            if kind == 10:
                yield f"{org} <{EX}orgType> <{EX}Company> ."
            if kind != 11:
                yield f"{org} <{EX}orgName> \"Org {i}\" ."


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - started, value


def cpu_timed(function, *args, **kwargs):
    """Wall and CPU seconds (this process, all threads): on a shared machine the CPU time
    says more than the wall time."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = function(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu, value


def _load() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _median_runs(repeat: int, function, *args) -> tuple[float, float, object]:
    """Median wall and CPU seconds of `repeat` runs, and the last value."""
    runs = [cpu_timed(function, *args) for _ in range(repeat)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            runs[-1][2])


def compare(count: int, repeat: int) -> dict:
    from fairtracks_ld.validation.crosscheck import _rdflib, engine_keys, report_keys, run_pyshacl
    from fairtracks_ld.validation.engine import validate
    from fairtracks_ld.validation.literals import encode_quads
    from fairtracks_ld.validation.shacl import validate_rdf
    from fairtracks_ld.validation.shapes import parse_shapes

    ntriples = ("\n".join(people(count)) + "\n").encode()
    shapes = parse_shapes(SHAPES)
    loads = {"start": _load()}
    parse = _median_runs(repeat, lambda: list(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES)))
    quads = parse[2]
    from_quads = _median_runs(repeat, validate_rdf, quads, shapes)
    store = ox.Store()  # the engine on its loaded store, as pySHACL gets its loaded graph
    store.bulk_extend(encode_quads(quads))
    loaded = _median_runs(repeat, validate, store, shapes)
    rdflib = _rdflib()
    shapes_graph = rdflib.Graph().parse(data=SHAPES, format="turtle")
    loads["pyshacl"] = _load()
    print(f"pySHACL on {len(quads):,} triples …", file=sys.stderr, flush=True)
    their_parse = cpu_timed(lambda: rdflib.Graph().parse(data=ntriples, format="nt"))
    theirs = cpu_timed(run_pyshacl, their_parse[2], shapes_graph)
    loads["end"] = _load()
    their_keys = Counter(report_keys(theirs[2], shapes_graph))
    report = from_quads[2]
    row = {
        "people": count,
        "triples": len(quads),
        "results": len(report.results),
        "components": dict(Counter(r.component.rsplit("#", 1)[-1] for r in report.results)),
        "load": loads,
        "identical_results": Counter(engine_keys(report, shapes)) == their_keys
        == Counter(engine_keys(loaded[2], shapes)),
    }
    for name, (wall, cpu, _) in (("ours_parse", parse), ("ours_quads", from_quads),
                                 ("ours_loaded", loaded), ("pyshacl_parse", their_parse),
                                 ("pyshacl", theirs)):
        row[name] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
    return row


def ratios(row: dict) -> dict[str, tuple[float, float]]:
    """(wall, CPU) ratios pySHACL / fairtracks-ld for the three comparisons."""
    def both(theirs: list[str], ours: list[str]) -> tuple[float, float]:
        return tuple(round(sum(row[t][k] for t in theirs) / sum(row[o][k] for o in ours), 1)
                     for k in ("wall_s", "cpu_s"))  # type: ignore[return-value]

    return {"parsed data": both(["pyshacl"], ["ours_quads"]),
            "loaded store": both(["pyshacl"], ["ours_loaded"]),
            "N-Triples to report": both(["pyshacl_parse", "pyshacl"],
                                        ["ours_parse", "ours_quads"])}


def big(count: int) -> dict:
    """fairtracks-ld alone: N-Triples bulk-loaded into an in-memory store, then validated;
    peak RSS of this process (run one size per process for a clean figure)."""
    import resource

    from fairtracks_ld.validation.engine import validate
    from fairtracks_ld.validation.shapes import parse_shapes

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.nt"
        with path.open("w", encoding="utf-8") as out:
            for line in people(count):
                out.write(line + "\n")
        store = ox.Store()
        load_seconds, _ = timed(store.bulk_load, path=str(path), format=ox.RdfFormat.N_TRIPLES)
        triples = len(store)
        rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        seconds, cpu, report = cpu_timed(validate, store, parse_shapes(SHAPES))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"people": count, "triples": triples, "load_s": round(load_seconds, 1),
            "validate_s": round(seconds, 1), "validate_cpu_s": round(cpu, 1),
            "results": len(report.results), "triples_per_s": round(triples / seconds),
            "peak_rss_mib_loaded": round(rss_loaded / 1024), "peak_rss_mib": round(rss / 1024)}


def render_markdown(result: dict) -> str:
    machine, row = result["machine"], result["compare"]
    cell = {name: f"{row[name]['wall_s']} / {row[name]['cpu_s']}"
            for name in ("ours_parse", "ours_quads", "ours_loaded", "pyshacl_parse", "pyshacl")}
    found = ratios(row)
    loads = row["load"]
    lines = [
        "# General SHACL benchmark (`bench/shacl.py`)",
        "",
        f"Machine: {machine['cpus']} CPUs (shared with other jobs), Python {machine['python']}; "
        f"load average {loads['start']} at the start, {loads['pyshacl']} when pySHACL started, "
        f"{loads['end']} at the end. {row['people']:,} generated people = {row['triples']:,} "
        "triples (about 13 triples each, ~4 % broken) against shapes using most SHACL Core "
        "components (see the script's docstring); "
        f"{row['results']:,} results, identical in both engines: **{row['identical_results']}** "
        "(multisets of focus node, path, component, severity, value and source shape; blank "
        "nodes as one symbol, a blank source shape by its sh:path).",
        "",
        f"Seconds wall / CPU (CPU: this process, all threads). fairtracks-ld: median of "
        f"{result['repeat']} runs; pySHACL: one run, in the same process right after.",
        "",
        "| step | fairtracks-ld | pySHACL |",
        "|---|---:|---:|",
        f"| parse the N-Triples (`ox.parse` / rdflib `Graph.parse`) | {cell['ours_parse']} | "
        f"{cell['pyshacl_parse']} |",
        f"| validate parsed data (`validate_rdf(quads)`: store built, literals checked as "
        f"written / `pyshacl.validate(graph)`) | {cell['ours_quads']} | {cell['pyshacl']} |",
        f"| validate a loaded store (`validate(store)`) | {cell['ours_loaded']} | — |",
        "",
        "| pySHACL ÷ fairtracks-ld | wall | CPU |",
        "|---|---:|---:|",
        *(f"| {name} | {wall:,}x | **{cpu:,}x** |" for name, (wall, cpu) in found.items()),
        "",
        "\"parsed data\": pySHACL's validation of its parsed graph against `validate_rdf` on "
        "parsed quads (the store built inside); \"loaded store\": against `validate` on a "
        "store built beforehand; \"N-Triples to report\": both parses included.",
        "",
        "Results per component: " + ", ".join(f"{k} {v}" for k, v in
                                               sorted(row["components"].items())) + ".",
        "",
    ]
    if result.get("big"):
        lines += ["fairtracks-ld alone (`validate(store)` on N-Triples bulk-loaded into an "
                  "in-memory store, loading not included; peak RSS of the process):", "",
                  "| people | triples | load s | validate s wall / CPU | triples/s | results | "
                  "peak RSS MiB loaded / validated | load average |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        sizes = result["big"] if isinstance(result["big"], list) else [result["big"]]
        for big_row in sorted(sizes, key=lambda r: r["people"]):
            lines.append(
                f"| {big_row['people']:,} | {big_row['triples']:,} | {big_row['load_s']} | "
                f"{big_row['validate_s']} / {big_row.get('validate_cpu_s', '?')} | "
                f"{big_row['triples_per_s']:,} | {big_row['results']:,} | "
                f"{big_row.get('peak_rss_mib_loaded', '?')} / {big_row.get('peak_rss_mib', '?')} "
                f"| {big_row.get('load_at_start')} |")
        lines.append("")
    lines.append("Goal: at least 50x pySHACL with identical results.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=15_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big", type=int, default=0, help="people for the alone run (0: none)")
    parser.add_argument("--big-only", action="store_true",
                        help="keep the comparison of the last results file, run only --big")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_at_start": round(load, 2) if load is not None else None},
              "repeat": args.repeat}
    last = RESULTS / "shacl.json"
    previous = json.loads(last.read_text(encoding="utf-8")) if last.exists() else {}
    if args.big_only:
        result = previous
    else:
        if previous.get("big"):  # kept until --big runs again
            result["big"] = previous["big"]
        print(f"comparing on {args.people:,} people …", file=sys.stderr, flush=True)
        result["compare"] = compare(args.people, args.repeat)
        print(json.dumps(result["compare"]), file=sys.stderr, flush=True)
    if args.big:
        print(f"fairtracks-ld alone on {args.big:,} people …", file=sys.stderr, flush=True)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        row = big(args.big)
        row["load_at_start"] = round(load, 2) if load is not None else None
        sizes = result.get("big") or []
        sizes = sizes if isinstance(sizes, list) else [sizes]
        result["big"] = [r for r in sizes if r["people"] != args.big] + [row]
        print(json.dumps(row), file=sys.stderr, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "shacl.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "shacl.md").write_text(render_markdown(result), encoding="utf-8")
    print(render_markdown(result))
    if not args.big_only and not result["compare"]["identical_results"]:
        sys.exit("the results differ from pySHACL's")


if __name__ == "__main__":
    main()
