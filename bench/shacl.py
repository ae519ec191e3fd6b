"""General SHACL benchmark: `fairtracks_ld.validation.shacl` vs pySHACL on generated data.

Generated people, organisations and addresses (seeded, about 13 triples a person, ~4 % of them
broken in some way) against shapes using most SHACL Core components: targets by class and by
subjects-of; datatype, nodeKind, class, in, hasValue, pattern, min/maxLength, min/maxCount,
min/max Inclusive/Exclusive, languageIn, uniqueLang, equals, disjoint, lessThan, closed with
ignoredProperties, node, not, and, or, xone, qualifiedValueShape and a nested sh:property.

- fairtracks-ld: `validate_rdf(quads, shapes)` (store building and literal checks included),
  median of `--repeat` runs, and `validate(store, shapes)` on the store built beforehand;
- pySHACL (no inference, plain SHACL) on the same data as an rdflib graph (parsing not timed),
  once; both result multisets (focus node, path, component, severity, value) must be equal;
- `--big N`: fairtracks-ld alone on N people (N-Triples file bulk-loaded into an Oxigraph store,
  then `validate(store)`), load and validation timed separately.

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


def compare(count: int, repeat: int) -> dict:
    from fairtracks_ld.validation.crosscheck import _rdflib, engine_keys, pyshacl_keys
    from fairtracks_ld.validation.engine import validate
    from fairtracks_ld.validation.literals import encode_quads
    from fairtracks_ld.validation.shacl import validate_rdf
    from fairtracks_ld.validation.shapes import parse_shapes

    ntriples = ("\n".join(people(count)) + "\n").encode()
    quads = list(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES))
    shapes = parse_shapes(SHAPES)
    runs, cpus, report = [], [], None
    for _ in range(repeat):
        seconds, cpu, report = cpu_timed(validate_rdf, quads, shapes)
        runs.append(seconds)
        cpus.append(cpu)
    assert report is not None
    store = ox.Store()  # the engine on its loaded store, as pySHACL gets its loaded graph
    store.extend(encode_quads(quads))
    loaded = [cpu_timed(validate, store, shapes)[:2] for _ in range(repeat)]
    shapes_graph = _rdflib().Graph().parse(data=SHAPES, format="turtle")
    print(f"pySHACL on {len(quads):,} triples …", file=sys.stderr, flush=True)
    theirs_seconds, theirs_cpu, (theirs, _) = cpu_timed(pyshacl_keys, ntriples, shapes_graph)
    mine = Counter(engine_keys(report, shapes))
    median = statistics.median(runs)
    return {
        "people": count,
        "triples": len(quads),
        "results": len(report.results),
        "components": dict(Counter(r.component.rsplit("#", 1)[-1] for r in report.results)),
        "ours_runs_s": [round(r, 3) for r in runs],
        "ours_median_s": round(median, 3),
        "ours_cpu_median_s": round(statistics.median(cpus), 3),
        "pyshacl_s": round(theirs_seconds, 2),
        "pyshacl_cpu_s": round(theirs_cpu, 2),
        "ratio": round(theirs_seconds / median, 1),
        "cpu_ratio": round(theirs_cpu / statistics.median(cpus), 1),
        "loaded_median_s": round(statistics.median(w for w, _ in loaded), 3),
        "loaded_cpu_median_s": round(statistics.median(c for _, c in loaded), 3),
        "identical_results": mine == Counter(theirs),
    }


def big(count: int) -> dict:
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
        seconds, cpu, report = cpu_timed(validate, store, parse_shapes(SHAPES))
    return {"people": count, "triples": triples, "load_s": round(load_seconds, 1),
            "validate_s": round(seconds, 1), "validate_cpu_s": round(cpu, 1),
            "results": len(report.results),
            "triples_per_s": round(triples / seconds)}


def render_markdown(result: dict) -> str:
    machine, row = result["machine"], result["compare"]
    lines = [
        "# General SHACL benchmark (`bench/shacl.py`)",
        "",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, load average at start "
        f"{machine['load_at_start']} (the machine is shared: other jobs ran at the same time). "
        "Generated people (about 13 triples each, ~4 % broken) against shapes using most "
        "SHACL Core components (see the script's docstring).",
        "",
        "| people | triples | results | fairtracks-ld s wall / CPU (median of "
        f"{result['repeat']}) | pySHACL s wall / CPU | ratio wall | ratio CPU | identical "
        "results |",
        "|---:|---:|---:|---:|---:|---:|---:|:---:|",
        f"| {row['people']:,} | {row['triples']:,} | {row['results']:,} | "
        f"{row['ours_median_s']} / {row['ours_cpu_median_s']} | {row['pyshacl_s']} / "
        f"{row['pyshacl_cpu_s']} | **{row['ratio']:,}x** | {row['cpu_ratio']:,}x | "
        f"{row['identical_results']} |",
        "",
        "CPU time is this process's (all threads; fairtracks-ld runs queries on 2 threads). "
        "fairtracks-ld time is `validate_rdf(quads, shapes)`: building the Oxigraph store, "
        "checking literals as written, and every constraint. pySHACL: `validate(data_graph, "
        "shacl_graph=…, inference='none')` on an rdflib graph parsed beforehand (parsing not "
        "timed). Results compared as multisets of (focus node, path, component, severity, "
        "value), blank nodes as one symbol.",
        "",
        f"On a loaded store (`validate(store, shapes)`, the store built beforehand as pySHACL's "
        f"graph is): {row['loaded_median_s']} s wall, {row['loaded_cpu_median_s']} s CPU — "
        f"{row['pyshacl_s'] / row['loaded_median_s']:,.1f}x wall, "
        f"{row['pyshacl_cpu_s'] / row['loaded_cpu_median_s']:,.1f}x CPU.",
        "",
        "Results per component: " + ", ".join(f"{k} {v}" for k, v in
                                               sorted(row["components"].items())) + ".",
        "",
    ]
    if result.get("big"):
        big_row = result["big"]
        lines += [
            f"fairtracks-ld alone (load average {big_row.get('load_at_start')} at its start), "
            f"{big_row['people']:,} people = {big_row['triples']:,} "
            f"triples (N-Triples bulk-loaded in {big_row['load_s']} s, not included): "
            f"validation {big_row['validate_s']} s wall, {big_row.get('validate_cpu_s', '?')} s "
            f"CPU ({big_row['triples_per_s']:,} triples/s wall), "
            f"{big_row['results']:,} results.",
            "",
        ]
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
        result["big"] = big(args.big)
        result["big"]["load_at_start"] = round(load, 2) if load is not None else None
        print(json.dumps(result["big"]), file=sys.stderr, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "shacl.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "shacl.md").write_text(render_markdown(result), encoding="utf-8")
    print(render_markdown(result))


if __name__ == "__main__":
    main()
