"""The fast closure against a full OWL reasoner (HermiT through owlready2) on the shipped bundle.

Issue 3: the fast closure is the default and must give the same subclass answers as a full
reasoner on the bundled ontologies. For each module, and for all modules loaded together (as
the store holds them, so cross-module axioms count), `reasoner_check.compare` computes both sets
of (class, ancestor) ft:subclass_of pairs from the same triples and lists the differences. The
reasoner time is wall clock for the whole child process: owlready2 loading N-Triples, the JVM
start and HermiT's classification.

The bundle keeps an OBO genus-differentia definition (`intersection_of`) as plain is_a genus
and part_of differentia, so a defined class cannot entail anything in it. Whether the sources'
definitions would entail more is measured too: SO's (the only source module with them) are
translated to OWL EquivalentClasses (each differentia `R X` as `R some X`, every `relationship`
as an existential restriction, is_a as subClassOf) and classified against the fast closure of
the shipped SO module.

Usage: python bench/owl_reasoner.py [--reasoner hermit] [--java-memory 1500] [--timeout 900]
Writes bench/results/owl-reasoner.json and bench/results/owl-reasoner.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox

from fairtracks_ld.ontology.bundle import default_bundle_dir, open_module
from fairtracks_ld.ontology.manifest import Manifest
from fairtracks_ld.ontology.owl_reasoner import classify_file, find_java
from fairtracks_ld.ontology.reasoner_check import Comparison, compare, labels, pairs
from fairtracks_ld.reasoning import read_edges, subclass_table

RESULTS = Path(__file__).resolve().parent / "results"
SO_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "ontologies" / "so.obo"
OBO, OWL = "http://purl.obolibrary.org/obo/", "http://www.w3.org/2002/07/owl#"
RDF, RDFS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "http://www.w3.org/2000/01/rdf-schema#"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reasoner", choices=["hermit", "pellet"], default="hermit")
    parser.add_argument("--java-memory", type=int, default=1500)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--so-source", type=Path, default=SO_SOURCE,
                        help="so.obo whose definitions are classified (skipped if missing)")
    args = parser.parse_args()
    folder = default_bundle_dir()
    manifest = Manifest.load(folder)
    runs: list[tuple[str, list[Path]]] = [(m.key, [folder / m.file]) for m in manifest.modules]
    runs.append(("all modules together", [folder / m.file for m in manifest.modules]))
    results = []
    for name, paths in runs:
        result = compare(name, paths, args.reasoner, args.timeout, args.java_memory)
        print("\n".join(result.describe()), flush=True)
        results.append(result)
    if args.so_source.exists():
        result = so_definitions(args.so_source, folder / "so.ttl.gz", args)
        print("\n".join(result.describe()), flush=True)
        results.append(result)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(),
               "java": _java_version(), "java_memory_mb": args.java_memory}
    payload = {"reasoner": args.reasoner, "machine": machine,
               "results": [result.as_json() for result in results]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "owl-reasoner.json").write_text(json.dumps(payload, indent=1) + "\n")
    (RESULTS / "owl-reasoner.md").write_text(_markdown(args.reasoner, machine, results))


def so_definitions(source: Path, module: Path, args: argparse.Namespace) -> Comparison:
    """HermiT on SO's definitions as OWL against the fast closure of the shipped SO module."""
    shipped = ox.Store()
    with open_module(module) as turtle:
        shipped.load(turtle, format=ox.RdfFormat.TURTLE)
    started = time.perf_counter()
    fast = pairs(subclass_table(read_edges(shipped, [ox.DefaultGraph()])))
    seconds_fast = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "so-definitions.nt"
        path.write_text(obo_as_owl(source.read_text(encoding="utf-8")))
        found = classify_file(path, args.reasoner, args.timeout, args.java_memory)
    owl = pairs(found.subclass_of)
    only_fast, only_owl = sorted(fast - owl), sorted(owl - fast)
    return Comparison(
        name="so.obo definitions (EquivalentClasses)", reasoner=args.reasoner,
        classes=len(found.subclass_of), fast_pairs=len(fast), reasoner_pairs=len(owl),
        only_fast=only_fast, only_reasoner=only_owl, unsatisfiable=sorted(found.unsatisfiable),
        labels=labels(shipped, {i for pair in only_fast + only_owl for i in pair}),
        seconds_fast=seconds_fast, seconds_reasoner=found.seconds)


def obo_as_owl(text: str) -> str:
    """N-Triples for an OBO file's is_a, relationship and intersection_of clauses."""
    blank = (f"_:b{n}" for n in itertools.count())
    lines: list[str] = []

    def iri(curie: str) -> str:
        return f"<{OBO}{curie.replace(':', '_')}>"

    def some(relation: str, target: str) -> str:
        node = next(blank)
        lines.extend([f"{node} <{RDF}type> <{OWL}Restriction> .",
                      f"{node} <{OWL}onProperty> <{OBO}so#{relation}> .",
                      f"{node} <{OWL}someValuesFrom> {iri(target)} .",
                      f"<{OBO}so#{relation}> <{RDF}type> <{OWL}ObjectProperty> ."])
        return node

    for stanza in text.split("\n[")[1:]:
        clauses = re.findall(r"^(\w+): (\S+)(?: (\S+))?", stanza, re.MULTILINE)
        if not stanza.startswith("Term]") or not clauses or clauses[0][0] != "id":
            continue
        term, conjuncts = iri(clauses[0][1]), []
        lines.append(f"{term} <{RDF}type> <{OWL}Class> .")
        for key, first, second in clauses:
            target = second if second.startswith("SO:") else ""
            if key == "is_a" and first.startswith("SO:"):
                lines.append(f"{term} <{RDFS}subClassOf> {iri(first)} .")
            elif key == "relationship" and target:
                lines.append(f"{term} <{RDFS}subClassOf> {some(first, target)} .")
            elif key == "intersection_of":
                conjuncts.append(some(first, target) if target else iri(first))
        if conjuncts:
            definition, node = next(blank), next(blank)
            lines += [f"{definition} <{RDF}type> <{OWL}Class> .",
                      f"{term} <{OWL}equivalentClass> {definition} .",
                      f"{definition} <{OWL}intersectionOf> {node} ."]
            for index, conjunct in enumerate(conjuncts):
                rest = f"<{RDF}nil>" if index == len(conjuncts) - 1 else next(blank)
                lines += [f"{node} <{RDF}first> {conjunct} .", f"{node} <{RDF}rest> {rest} ."]
                node = rest
    return "\n".join(lines) + "\n"


def _java_version() -> str:
    done = subprocess.run([find_java(), "-version"], capture_output=True, text=True)
    return done.stderr.splitlines()[0] if done.stderr else "unknown"


def _markdown(reasoner: str, machine: dict, results: list[Comparison]) -> str:
    lines = [
        "# Fast closure vs a full OWL reasoner (`bench/owl_reasoner.py`)",
        "",
        f"Reasoner: {reasoner} (owlready2 0.51), {machine['java']}, -Xmx"
        f"{machine['java_memory_mb']}M; {machine['cpus']} CPUs (busy), Python "
        f"{machine['python']}. Pairs are reflexive-transitive (class, ancestor) ft:subclass_of "
        "pairs between named classes, owl:equivalentClass both ways, owl:Thing and owl:Nothing "
        "left out. Reasoner seconds: the whole child process (owlready2 load, JVM, "
        "classification).",
        "",
        "| module | classes | fast pairs | reasoner pairs | only reasoner | only fast | "
        "unsatisfiable | fast s | reasoner s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.classes:,} | {r.fast_pairs:,} | {r.reasoner_pairs:,} | "
            f"{len(r.only_reasoner)} | {len(r.only_fast)} | {len(r.unsatisfiable)} | "
            f"{r.seconds_fast:.2f} | {r.seconds_reasoner:.1f} |")
    differing = [r for r in results if not r.agree]
    lines.append("")
    if differing:
        for r in differing:
            lines += ["```", *r.describe(limit=50), "```"]
    else:
        lines.append(f"The two agree on every module and on the union: {reasoner} finds no "
                     "subclass pair the fast closure lacks, and none the other way round.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
